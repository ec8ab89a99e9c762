"""Chapters as data (ctdepth_lib/book/notebooks.py): parameters from the registry, checked against the
cell papermill reads; the generated parameters cell; reruns never in place; stripped timestamps."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from ctdepth_lib import Param, validate_parameters
from ctdepth_lib.book.notebooks import (
    ChapterParameter,
    chapter_docname,
    chapter_parameters,
    invalid_value,
    notebook_spec,
    quick_parameters,
    run_chapter,
    strip_execution_metadata,
    write_parameter_cell,
)
from ctdepth_lib.params import chapter_spec

ROOT = Path(__file__).resolve().parent.parent
CH01 = ROOT / "chapters" / "01_resnet_euler.ipynb"


def test_chapter_parameters_are_the_registry_and_the_cell_papermill_reads() -> None:
    params = chapter_parameters(CH01)
    spec = chapter_spec("chapters/01_resnet_euler")
    assert [p.name for p in params] == list(spec.parameters)
    n_max = next(p for p in params if p.name == "N_MAX")
    assert (n_max.default, n_max.quick) == (2048, 256) and "power of two" in n_max.allowed
    assert quick_parameters(CH01) == spec.quick and "SEED" not in spec.quick
    assert chapter_docname(Path("/elsewhere/run-copy/01_resnet_euler.ipynb")) == "chapters/01_resnet_euler"


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "chapters"
    folder.mkdir()
    return Path(shutil.copy(CH01, folder / CH01.name))


def test_a_cell_that_drifted_from_the_registry_is_an_error_until_rewritten(tmp_path: Path) -> None:
    nb = _copy(tmp_path)
    book = nbformat.read(str(nb), as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("N_MAX: int = 2048", "N_MAX: int = 1024")
    nbformat.write(book, str(nb))
    with pytest.raises(ValueError, match="params --write"):
        notebook_spec(nb)
    assert write_parameter_cell(nb) is True
    notebook_spec(nb)  # current again
    assert write_parameter_cell(nb) is False


def test_run_chapter_never_in_place(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out must differ"):
        run_chapter(CH01, CH01, {"SEED": 1})


def test_invalid_values_are_rejected_by_the_spec() -> None:
    specs = {
        "SEED": Param(int, 0, 10),
        "N_MAX": Param(int, 4, 64),
        "T": Param(float, 0.0, 2.0, low_open=True),
        "METHOD": Param(str, choices=("euler", "rk4")),
    }
    good = {"SEED": 1, "N_MAX": 8, "T": 1.0, "METHOD": "euler"}
    for name, spec in specs.items():
        p = ChapterParameter(name, good[name], good[name], spec.describe(), "", spec)
        with pytest.raises((ValueError, TypeError), match=f"parameter {name} must"):
            validate_parameters(good | {name: invalid_value(p)}, specs)
    assert invalid_value(ChapterParameter("N", 8, 8, "", "", specs["N_MAX"])) == 0
    assert invalid_value(ChapterParameter("T", 1.0, 1.0, "", "", specs["T"])) == -1.0


def test_strip_execution_metadata_removes_only_timestamps(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1", metadata={"tags": ["x"], "execution": {"iopub.status.idle": "t"}})]
    nb.cells.append(nbformat.v4.new_markdown_cell("m"))
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, str(path))
    assert strip_execution_metadata(path) == 1
    cells = nbformat.read(str(path), as_version=4).cells
    assert cells[0].metadata == {"tags": ["x"]} and cells[1].source == "m"
    before = path.read_bytes()
    assert strip_execution_metadata(path) == 0 and path.read_bytes() == before
    with pytest.raises(ValueError, match="nb must be an existing notebook"):
        strip_execution_metadata(tmp_path / "missing.ipynb")


def test_nothing_reads_notebook_source_as_code() -> None:
    # the chapters' parameters are data: no ast, eval or exec over a notebook anywhere in the book wing
    import re

    pattern = re.compile(r"^\s*(import ast|from ast import)|(?<![.\w])(eval|exec|compile)\(|literal_eval", re.M)
    for path in (ROOT / "ctdepth_lib").rglob("*.py"):
        found = pattern.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.relative_to(ROOT)} uses {found.group(0)!r}"
