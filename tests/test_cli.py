"""The command line: fast help, a version, help text for every option, one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import ctdepth_lib
from ctdepth_lib.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


HEAVY = ("torch", "sphinx", "docutils", "pandas", "distributed", "ctdepth_lib.bench.cost")


def test_help_does_not_import_torch() -> None:
    # --help must be instant: nothing heavy is imported to print it (measured: torch takes seconds)
    code = (
        "import runpy, sys; sys.argv = ['x', '--help']\ntry:\n    runpy.run_module('ctdepth_lib', run_name='__main__')"
        f"\nexcept SystemExit:\n    pass\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", "python -m ctdepth_lib --help imported a heavy module"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ctdepth_lib {ctdepth_lib.__version__}"


def test_every_option_has_help() -> None:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"`{name} {action.option_strings[0]}` has no help text"
            if not action.option_strings:
                assert action.help, f"`{name}`'s argument {action.dest} has no help text"


def test_cost_passes_every_option_through(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["cost", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--n" in out and "--batch" in out


def test_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["claims", str(tmp_path / "missing.ipynb")]) == 2
    assert "no notebook" in capsys.readouterr().out
    assert main(["claims", "--build", str(tmp_path / "nobuild")]) == 2
    assert "no executed notebooks" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # outside the repository
    assert main(["claims"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: root must be the book's root") and "Traceback" not in err and err.count("\n") == 1
