"""Binder's environment.yml is generated from pyproject.toml and the lock, and holds what the book build needs."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import make_environment  # noqa: E402


def test_environment_yml_is_generated_from_pyproject_and_the_lock() -> None:
    assert (ROOT / "environment.yml").read_text(encoding="utf-8") == make_environment.render(), (
        "environment.yml is out of date: run `python tools/make_environment.py`"
    )


def test_environment_has_what_jupyter_book_build_needs() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "python=3.11" in conda and any(d.startswith("pytorch-cpu=") for d in conda)
    names = {line.split("==")[0] for line in pip}
    for needed in (
        "jupyter-book",
        "myst-nb",
        "sphinxcontrib-bibtex",
        "django-static-mathjax",
        "ipykernel",
        "torchdiffeq",
    ):
        assert needed in names, f"environment.yml lacks {needed}"
    assert pip[-1] == "-e ."
    assert not any(line.startswith("torch==") for line in pip), "torch must come from conda-forge's CPU build"
