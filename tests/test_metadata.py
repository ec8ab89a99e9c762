"""One version number, licences and a citation: CITATION.cff, CHANGELOG.md and the package agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import ctdepth_lib

ROOT = Path(__file__).resolve().parent.parent


def test_one_version_number() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ctdepth_lib.__version__"}
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["version"] == ctdepth_lib.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+)", changelog, flags=re.M)
    assert first and first.group(1) == ctdepth_lib.__version__, "the newest CHANGELOG entry names another version"


def test_citation_cites_the_paper() -> None:
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0"
    for key in ("title", "authors", "message", "license", "references"):
        assert citation.get(key), f"CITATION.cff lacks {key}"
    (paper,) = [r for r in citation["references"] if "1909.03767" in str(r)]
    assert paper["authors"][0]["family-names"] == "Ruseckas"
    assert set(citation["license"]) == {"MIT", "CC-BY-4.0"}


def test_licences_and_readme() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "Attribution 4.0 International" in (ROOT / "LICENSE-CONTENT.txt").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for needle in ("## Licence", "## How to cite", "CITATION.cff", "make pdf"):
        assert needle in readme, f"README lacks {needle!r}"
