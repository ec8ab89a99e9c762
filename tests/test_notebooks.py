"""ctdepth_lib.notebooks: parameters, specs and quick settings read from notebooks; seeded runs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ctdepth_lib.book.notebooks import (
    chapter_parameters,
    quick_parameters,
    run_chapter,
    seed_run_path,
    strip_execution_metadata,
)

PARAMS = """SEED = 0  # random seed
N_MAX = 64  # deepest network
"""
VALIDATE = """import ctdepth_lib as cl
from ctdepth_lib import Param
SPEC = {"SEED": Param(int, 0, 2**31 - 1), "N_MAX": Param(int, 4, 4096, help="depth")}
PARAMS = cl.validate_parameters({"SEED": SEED, "N_MAX": N_MAX}, SPEC)
"""


def _nb(path: Path, params: str = PARAMS, validate: str = VALIDATE, quick: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), p, nbformat.v4.new_code_cell(validate),
                nbformat.v4.new_code_cell("print(N_MAX * 2)")]  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["ctdepth"] = {"quick_parameters": {"N_MAX": 8} if quick is None else quick}
    nbformat.write(nb, path)
    return path


def test_chapter_parameters(tmp_path: Path) -> None:
    params = {p.name: p for p in chapter_parameters(_nb(tmp_path / "c.ipynb"))}
    assert list(params) == ["SEED", "N_MAX"]
    assert params["SEED"].default == 0 and params["SEED"].help == "random seed"
    assert params["N_MAX"].quick == 8 and params["N_MAX"].allowed == "int in [4, 4096]"
    assert params["N_MAX"].help == "depth"  # the spec's help wins over the comment


def test_spec_must_match_parameters(tmp_path: Path) -> None:
    nb = _nb(tmp_path / "c.ipynb", params="SEED = 0\nN_MAX = 3\nEXTRA = 1\n")
    with pytest.raises(ValueError, match="disagree on"):
        chapter_parameters(nb)


def test_missing_parameters_cell_and_validation(tmp_path: Path) -> None:
    nb = _nb(tmp_path / "c.ipynb", validate="x = 1\n")
    with pytest.raises(ValueError, match="calls neither start_chapter nor validate_parameters"):
        chapter_parameters(nb)


def test_quick_parameters_must_not_fix_seed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must not fix SEED"):
        quick_parameters(_nb(tmp_path / "c.ipynb", quick={"SEED": 3}))


def test_run_chapter_never_in_place_and_reuses(tmp_path: Path) -> None:
    nb = _nb(tmp_path / "c.ipynb")
    with pytest.raises(ValueError, match="out must differ"):
        run_chapter(nb, nb, {"SEED": 1})
    out = seed_run_path(tmp_path / "runs", nb, 1)
    assert out.name == "c-seed1.ipynb"
    run_chapter(nb, out, {"SEED": 1, "N_MAX": 8}, timeout=120)
    assert "16" in out.read_text()
    stamp = out.with_suffix(".sha256").read_text()
    mtime = out.stat().st_mtime_ns
    run_chapter(nb, out, {"SEED": 1, "N_MAX": 8}, reuse=True)
    assert out.stat().st_mtime_ns == mtime and out.with_suffix(".sha256").read_text() == stamp


def test_invalid_values_are_rejected_by_the_spec(tmp_path: Path) -> None:
    from ctdepth_lib import Param, validate_parameters
    from ctdepth_lib.book.notebooks import ChapterParameter, invalid_value

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


def test_parameter_guards_are_the_checks_that_only_raise(tmp_path: Path) -> None:
    from ctdepth_lib.book.notebooks import parameter_guards

    guards = (
        'if N_MAX < 8:\n    msg = f"N_MAX must be >= 8; got {N_MAX}"\n    raise ValueError(msg)\n'
        'for name in ("N_MAX",):\n    if PARAMS[name] % 2:\n        raise ValueError(name)\n'
        "if N_MAX > 100:\n    print('deep')\n"  # does more than raise: not a guard
    )
    nb = _nb(tmp_path / "c.ipynb", validate=VALIDATE + guards)
    kept = parameter_guards(nb)
    assert "msg = " in kept and "for name in" in kept and "print" not in kept
    with pytest.raises(ValueError, match="N_MAX must be >= 8; got 4"):
        exec(kept, {}, {"N_MAX": 4, "PARAMS": {"N_MAX": 4}})
