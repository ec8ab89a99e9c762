"""ctdepth_lib.book.sweep_plan: seeds and ``-p`` values parsed, and each chapter's code version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctdepth_lib.book.sweep_plan import SweepInputError, code_version, parse_parameter_value, parse_seeds, plan

ROOT = Path(__file__).resolve().parent.parent
CH01 = ROOT / "chapters" / "01_resnet_euler.ipynb"


def test_parse_seeds() -> None:
    assert parse_seeds("1-4") == [1, 2, 3, 4]
    assert parse_seeds("7") == [7]
    assert parse_seeds("3-3,1,9137") == [1, 3, 9137]
    for bad in ("5-3", "x", "1-", "", "1-2-3", "a-b"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
    with pytest.raises(TypeError, match="seeds"):
        parse_seeds(5)  # type: ignore[arg-type]


def test_parse_parameter_value_like_papermill() -> None:
    from papermill.cli import _resolve_type

    for text in ("True", "False", "None", "12", "-3", "1e-6", "0.5", "inf", "rk4", "12abc", ""):
        assert parse_parameter_value(text) == _resolve_type(text)
        assert type(parse_parameter_value(text)) is type(_resolve_type(text))


def test_plan_is_chapters_times_parameter_sets_times_seeds() -> None:
    runs = plan(["01_resnet_euler"], [1, 2, 3], True, {"N_MIN": [8], "N_MAX": [32, 64]}, ROOT)
    assert len(runs) == 2 * 3
    assert sorted({r.params["N_MAX"] for r in runs}) == [32, 64]
    assert {r.seed for r in runs} == {1, 2, 3} and all(r.quick for r in runs)
    assert len({r.run_id for r in runs}) == 6 and {r.version for r in runs} == {code_version(CH01)}
    with pytest.raises(SweepInputError, match="power of two"):  # the chapter's spec, before any run
        plan(["01_resnet_euler"], [1], True, {"N_MAX": [100]}, ROOT)
    with pytest.raises(SweepInputError, match=r"N_MAX must be >= 4 \* N_MIN"):  # and the relations between parameters
        plan(["01_resnet_euler"], [1], True, {"N_MIN": [64], "N_MAX": [128]}, ROOT)


def test_code_version_tracks_the_code_not_the_outputs(tmp_path: Path) -> None:
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    a = chapters / CH01.name
    a.write_bytes(CH01.read_bytes())
    v = code_version(a)
    assert v == code_version(CH01) and len(v) == 16
    nb = json.loads(CH01.read_text(encoding="utf-8"))
    for cell in nb["cells"]:  # new outputs (a re-execution) do not make a sweep stale
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    a.write_text(json.dumps(nb), encoding="utf-8")
    assert code_version(a) == v
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["source"] = ["SEED = 1\n", *code["source"]]
    a.write_text(json.dumps(nb), encoding="utf-8")
    assert code_version(a) != v  # new code does
    assert code_version(CH01, library="0" * 64) != code_version(CH01)  # and so does the science
