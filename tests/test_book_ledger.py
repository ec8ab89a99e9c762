"""ctdepth_lib.book.ledger: claim records read back from notebooks, judged, reproduced and reported."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from ctdepth_lib import claims
from ctdepth_lib.__main__ import main
from ctdepth_lib.book import registered_notebooks, toc_notebooks
from ctdepth_lib.book.ledger import collect, collect_fresh, ledger_report, ledger_rows, notebook_records

ROOT = Path(__file__).resolve().parent.parent


def _notebook_with(records: list[dict], path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={claims.CLAIM_MIME: r, "text/plain": "r"}) for r in records
    ]
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def test_collect_and_ledger_rows(tmp_path: Path) -> None:
    rec = {"id": "1b", "chapter": "chapters/01_resnet_euler", "measured": 1.0, "verdict": "pass", "seed": 1}
    bad = dict(rec, id="1a", verdict="fail", measured=1e-3)
    nb = _notebook_with([rec, bad], tmp_path / "a.ipynb")
    rows = {r.claim.id: r for r in ledger_rows(collect([nb]))}
    assert rows["1b"].verdict == "pass" and rows["1b"].measured == 1.0
    assert rows["1a"].verdict == "fail"
    assert rows["1c"].verdict == "not checked"


def test_record_missing_a_tightened_threshold_fails(tmp_path: Path) -> None:
    # recorded as a pass when the threshold was |x − 1| ≤ 0.1; the registry now says ≤ 0.1, 1.2 misses it
    rec = {"id": "1b", "chapter": "chapters/01_resnet_euler", "measured": 1.2, "verdict": "pass", "seed": 1}
    rows = {r.claim.id: r for r in ledger_rows(collect([_notebook_with([rec], tmp_path / "a.ipynb")]))}
    assert rows["1b"].verdict == "fail"


def test_record_from_the_wrong_chapter_fails(tmp_path: Path) -> None:
    rec = {"id": "1b", "chapter": "chapters/other", "measured": 1.0, "verdict": "pass", "seed": 1}
    rows = {r.claim.id: r for r in ledger_rows(collect([_notebook_with([rec], tmp_path / "a.ipynb")]))}
    assert rows["1b"].verdict == "fail"


def test_a_record_of_an_unregistered_claim_is_an_error(tmp_path: Path) -> None:
    rec = {"id": "no-such-claim", "chapter": "chapters/01_resnet_euler", "measured": 1.0, "verdict": "pass"}
    nb = _notebook_with([rec], tmp_path / "a.ipynb")
    with pytest.raises(ValueError, match=r"a\.ipynb records claim 'no-such-claim', which the registry does not list"):
        ledger_rows(collect([nb]))


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = claims.registry()

    def passing(c: claims.Claim) -> float:
        return c.target if c.target is not None else c.value

    good = [
        {"id": c.id, "chapter": c.chapter, "measured": passing(c), "verdict": "pass", "seed": 0} for c in reg.values()
    ]
    nb_all = _notebook_with(good, tmp_path / "all.ipynb")
    assert main(["claims", str(nb_all)]) == 0
    nb_some = _notebook_with(good[:1], tmp_path / "some.ipynb")
    assert main(["claims", str(nb_some)]) == 1
    assert "not checked" in capsys.readouterr().out
    nb_fail = _notebook_with([dict(good[0], verdict="fail"), *good[1:]], tmp_path / "fail.ipynb")
    assert main(["claims", str(nb_fail)]) == 1


def test_committed_chapters_hold_their_claims() -> None:
    records = collect(toc_notebooks(ROOT))
    for row in ledger_rows(records):
        assert row.verdict == "pass", f"claim {row.claim.id}: {row.verdict}"
    assert json.dumps(records)  # records are plain JSON


def test_ledger_rows_judge_fresh_runs() -> None:
    reg = {"1b": claims.registry()["1b"]}
    rec = {"id": "1b", "chapter": "chapters/01_resnet_euler", "measured": 1.0037, "verdict": "pass", "seed": 0,
           "parameters": {"N_MAX": 2048}}  # fmt: skip
    committed = {"1b": [rec]}
    (row,) = ledger_rows(committed, reg)
    assert row.reproduced == "not run"
    (row,) = ledger_rows(committed, reg, fresh={"1b": [rec | {"measured": 1.00370001}]})
    assert row.reproduced == "yes" and row.verdict == "pass"
    (row,) = ledger_rows(committed, reg, fresh={"1b": [rec | {"measured": 1.02}]})
    assert row.reproduced == "no"
    (row,) = ledger_rows(committed, reg, fresh={"1b": [rec | {"seed": 5}]})
    assert row.reproduced == "no", "a fresh run must match a committed run's seed and parameters"


def test_notebook_records_are_the_claim_outputs_in_cell_order() -> None:
    nb = nbformat.v4.new_notebook()
    a, b = nbformat.v4.new_code_cell("a"), nbformat.v4.new_code_cell("b")
    a.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\n")]
    b.outputs = [
        nbformat.v4.new_output("display_data", data={claims.CLAIM_MIME: {"id": i}, "text/plain": i}) for i in "12"
    ]
    nb.cells = [a, nbformat.v4.new_markdown_cell("m"), b]
    assert notebook_records(json.loads(nbformat.writes(nb))) == [{"id": "1"}, {"id": "2"}]


def test_collect_fresh_reads_claims_json_folders(tmp_path: Path) -> None:
    rec = {"id": "1b", "chapter": "chapters/01_resnet_euler", "measured": 1.0, "verdict": "pass", "seed": 0}
    (tmp_path / "01_resnet_euler.claims.json").write_text(json.dumps([rec]), encoding="utf-8")
    (tmp_path / "other.json").write_text("not read", encoding="utf-8")
    found = collect_fresh([tmp_path])
    assert list(found) == ["1b"] and found["1b"][0]["notebook"] == str(tmp_path / "01_resnet_euler.claims.json")
    with pytest.raises(ValueError, match="fresh-run folder must be a directory"):
        collect_fresh([tmp_path / "missing"])


def test_ledger_report_lines_and_status() -> None:
    reg = {cid: claims.registry()[cid] for cid in ("1a", "1b")}
    rec = {"id": "1b", "chapter": "chapters/01_resnet_euler", "measured": 1.0037, "verdict": "pass", "seed": 0,
           "parameters": {}}  # fmt: skip
    rows = ledger_rows({"1b": [rec]}, reg)
    text, status = ledger_report(rows, notebooks_read=1)
    lines = text.splitlines()
    assert lines[0].split() == [
        "id", "holds", "measured", "threshold", "reproduced", "tolerance", "source", "chapter",
    ]  # fmt: skip
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    assert lines[2].split()[:2] == ["1a", "not"] and lines[3].split()[:2] == ["1b", "pass"]
    assert lines[-2:] == ["", "1 passed, 0 failed, 1 not checked (1 notebooks read)"] and status == 1
    fresh = {"1b": [rec | {"measured": 1.5}]}
    rows = ledger_rows({"1b": [rec]}, {"1b": reg["1b"]}, fresh=fresh)
    text, status = ledger_report(rows, notebooks_read=1, fresh=["f"])
    assert "fresh runs measured 1.5: not within" in text and status == 1
    assert text.endswith("reproduced by the fresh runs in f: 0 yes, 1 no, 0 not run")
    rows = ledger_rows({"1b": [rec]}, {"1b": reg["1b"]}, fresh={"1b": [rec]})
    assert ledger_report(rows, notebooks_read=1, fresh=["f"])[1] == 0


def test_registered_notebooks_are_the_chapters_a_folder_holds(tmp_path: Path) -> None:
    chapters = sorted({c.chapter for c in claims.registry().values()})
    (tmp_path / "chapters").mkdir()
    for ch in chapters[1:]:
        (tmp_path / f"{ch}.ipynb").write_text("{}")
    (tmp_path / "chapters" / "unregistered.ipynb").write_text("{}")
    assert registered_notebooks(tmp_path) == [tmp_path / f"{ch}.ipynb" for ch in chapters[1:]]
    assert registered_notebooks(ROOT) == toc_notebooks(ROOT)  # every registered chapter is in the book
