"""ctdepth_lib.book.nbval_plugin: nbval compares numbers to their printed digits, records fresh claims,
and still fails a notebook whose committed number was edited by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CLAIM = "application/vnd.ctdepth.claim+json"


def _notebook(path: Path, printed: str, glued: str, measured: float) -> Path:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(
        "from IPython.display import display\n"
        "x = 1 / 3\n"
        "print(f'x = {x:.4f}, drift = {x * 1e-16:.1e}')\n"
        f"display({{{CLAIM!r}: {{'id': 'demo', 'measured': x}}, 'text/plain': 'claim demo'}}, raw=True)\n"
    )
    code.execution_count = 1
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"x = {printed}, drift = 2.2e-17\n"),
        nbformat.v4.new_output("display_data", data={CLAIM: {"id": "demo", "measured": measured}, "text/plain": glued}),
    ]
    nb.cells = [code]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _nbval(nb: Path, fresh: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "ctdepth_lib.book.nbval_plugin"]
    cmd += ["--nbval", str(nb), "--ctdepth-fresh", str(fresh), "--rootdir", str(nb.parent)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=nb.parent, timeout=120)


@pytest.mark.parametrize(
    ("printed", "glued", "measured", "passes"),
    [
        ("0.3333", "claim demo", 0.3333333333, True),  # as executed
        ("0.3334", "claim demo", 0.3, True),  # last printed digit flipped; the claim record's digits are the ledger's
        ("0.3343", "claim demo", 0.3333333333, False),  # edited by hand beyond the printed digits
        ("0.3333", "claim other", 0.3333333333, False),  # any other text still compared exactly
    ],
)
def test_numbers_compared_to_printed_digits(
    tmp_path: Path, printed: str, glued: str, measured: float, passes: bool
) -> None:
    res = _nbval(_notebook(tmp_path / "demo.ipynb", printed, glued, measured), tmp_path / "fresh")
    assert (res.returncode == 0) == passes, res.stdout[-2000:]
    records = json.loads((tmp_path / "fresh" / "demo.claims.json").read_text())
    assert records == [{"id": "demo", "measured": 1 / 3}]
