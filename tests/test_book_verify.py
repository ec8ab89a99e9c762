"""``python -m ctdepth_lib verify`` (make book): changed chapters run with their quick parameters, cached."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ctdepth_lib import params as params_mod
from ctdepth_lib.book.verify import fingerprint, stale_chapters, verify
from ctdepth_lib.params import ChapterSpec, Param, parameter_cell

DOCNAME = "chapters/01_resnet_euler"  # a stand-in in its place: the registry names it
STANDIN = ChapterSpec(
    DOCNAME,
    {
        "SEED": Param(int, 0, 2**31 - 1, help="seed", default=0),
        "MODE": Param(str, choices=("pass", "fail"), help="what the run does", default="fail", quick="pass"),
    },
)


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shipped = params_mod.load_specs()
    monkeypatch.setattr(params_mod, "_shipped", lambda: shipped | {DOCNAME: STANDIN})
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameter_cell(STANDIN))
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [
        cell,
        nbformat.v4.new_code_cell('if MODE == "fail":\n    raise AssertionError("claim X missed: 0.5 > 0.1")'),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "chapters" / "01_resnet_euler.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    return path


def test_a_chapter_runs_once_with_its_quick_parameters(
    standin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fresh"
    assert stale_chapters([standin], out) == [standin]
    assert verify([standin], out, jobs=1) == 0  # the quick value MODE=pass: every claim holds
    assert "every claim held" in capsys.readouterr().out
    assert (out / "01_resnet_euler.verified.json").is_file() and (out / standin.name).is_file()
    assert stale_chapters([standin], out) == []
    assert verify([standin], out) == 0 and "unchanged" in capsys.readouterr().out
    before = fingerprint(standin)
    standin.write_text(standin.read_text().replace("0.5 > 0.1", "0.6 > 0.1"))
    assert fingerprint(standin) != before and stale_chapters([standin], out) == [standin]


def test_a_failing_claim_fails_the_check_and_names_it(
    standin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = ChapterSpec(
        DOCNAME,
        {**STANDIN.parameters, "MODE": Param(str, choices=("pass", "fail"), help="what the run does", default="fail")},
    )
    shipped = params_mod.load_specs()
    monkeypatch.setattr(params_mod, "_shipped", lambda: shipped | {DOCNAME: failing})
    out = tmp_path / "fresh"
    assert verify([standin], out, jobs=1) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "claim X missed: 0.5 > 0.1" in printed
    assert not (out / "01_resnet_euler.verified.json").exists()
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        verify([standin], out, jobs=0)


def test_two_runs_at_a_time_from_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """papermill runs a chapter from its own folder (a process-wide chdir): with two runs in one
    process, relative paths must not resolve against the other run's folder (make book failed so)."""
    import os
    import threading

    import ctdepth_lib.book.verify as verify_mod

    chapters = tmp_path / "chapters"
    chapters.mkdir()
    names = ["a.ipynb", "b.ipynb", "c.ipynb"]
    for name in names:
        (chapters / name).write_text("{}", encoding="utf-8")
    barrier = threading.Barrier(2, timeout=5)

    def fake_run(nb: Path, out: Path) -> tuple[Path, float, str]:
        assert nb.is_absolute() and out.is_absolute(), (nb, out)
        os.chdir(nb.parent)  # what papermill's cwd= does
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return nb, 0.0, ""

    monkeypatch.setattr(verify_mod, "_run", fake_run)
    monkeypatch.setattr(verify_mod, "fingerprint", lambda nb: "same")
    monkeypatch.chdir(tmp_path)
    assert verify([Path("chapters") / n for n in names], Path("_build/fresh/book"), jobs=2) == 0
    os.chdir(tmp_path)
    stamps = sorted(p.name for p in (tmp_path / "_build" / "fresh" / "book").glob("*.verified.json"))
    assert stamps == ["a.verified.json", "b.verified.json", "c.verified.json"]
