"""ctdepth_lib.book.sweep, the sweep's folder: a run's record written and read back, the table built from records."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest

from ctdepth_lib import claims
from ctdepth_lib.book.sweep import RESULT_COLUMNS, build_table, load_results, read_record, record_path, write_run
from ctdepth_lib.book.sweep_plan import code_version, plan

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parent.parent
DOCNAME = "chapters/01_resnet_euler"


def _executed(first: str, verdict: str) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    rec = {"id": first, "chapter": DOCNAME, "measured": 0.5, "verdict": verdict}
    cell.outputs = [nbformat.v4.new_output("display_data", data={claims.CLAIM_MIME: rec, "text/plain": "r"})]
    nb.cells = [cell]
    return nbformat.writes(nb)


def test_a_run_written_is_one_row_per_claim(tmp_path: Path) -> None:
    ids = [c.id for c in claims.registry().values() if c.chapter == DOCNAME]
    (run,) = plan(["01_resnet_euler"], [7], True, {}, ROOT)
    outcome = {"status": "fail", "error": "ClaimFailed: x", "notebook": _executed(ids[0], "fail"), "seconds": 2.0}
    rec = write_run(tmp_path, run, outcome)
    assert read_record(record_path(tmp_path, run)) == rec
    assert json.loads(record_path(tmp_path, run).with_name("seed7.claims.json").read_text())[0]["id"] == ids[0]
    df = build_table(tmp_path, ROOT)
    assert list(df.columns) == list(RESULT_COLUMNS) and len(df) == len(ids)
    rows = df.set_index("claim")
    assert rows.loc[ids[0], "verdict"] == "fail" and rows.loc[ids[0], "measured"] == 0.5
    assert set(rows.drop(index=ids[0])["verdict"]) == {"not run"}  # after a failed claim
    assert all(math.isnan(v) for v in rows.drop(index=ids[0])["measured"])
    assert rows["current"].all() and set(rows["version"]) == {code_version(ROOT / f"{DOCNAME}.ipynb")}
    pd.testing.assert_frame_equal(load_results(tmp_path), df)
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_record_of_another_format_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "seed1.run.json"
    path.write_text(json.dumps({"format": -1}))
    assert read_record(path) is None
    path.write_text("{not json")
    assert read_record(path) is None
    assert read_record(tmp_path / "missing.run.json") is None


def test_load_results_rejects(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path"):
        load_results(tmp_path / "nothing.parquet")
    with pytest.raises(TypeError, match="path"):
        load_results(3)  # type: ignore[arg-type]
