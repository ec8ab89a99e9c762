"""ctdepth_lib.book, the Sphinx extensions' helpers, and the benchmark function."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctdepth_lib.bench.unroll import bench_unroll
from ctdepth_lib.book import toc_notebooks
from ctdepth_lib.book.sphinx.offline import mathjax_source

ROOT = Path(__file__).resolve().parent.parent


def test_toc_notebooks_in_order(tmp_path: Path) -> None:
    (tmp_path / "chapters").mkdir()
    for name in ("a", "b"):
        (tmp_path / "chapters" / f"{name}.ipynb").write_text("{}")
    (tmp_path / "intro.md").write_text("# x")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - chapters:\n      - file: chapters/b\n      - file: chapters/a.ipynb\n"
    )
    assert [p.name for p in toc_notebooks(tmp_path)] == ["b.ipynb", "a.ipynb"]


def test_toc_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"root must be the book.s root, the folder holding _toc\.yml"):
        toc_notebooks(tmp_path)


def test_book_lists_chapter_one() -> None:
    assert ROOT / "chapters" / "01_resnet_euler.ipynb" in toc_notebooks(ROOT)


def test_mathjax_files_are_installed() -> None:
    es5 = mathjax_source()
    assert (es5 / "tex-mml-chtml.js").stat().st_size > 100_000
    assert any((es5 / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))


def test_bench_unroll_reports_a_ratio() -> None:
    res = bench_unroll(d=4, batch=3, n_steps=20, repeats=1, min_run_time=0.05)
    assert {"resnet_unroll_s", "torchdiffeq_euler_s", "ratio", "ratios", "ok", "verdict"} <= set(res)
    assert res["ratio"] > 0 and len(res["ratios"]) == 1
