"""ctdepth_lib.book.nbval_plugin: nbval compares numbers to their printed digits, records fresh claims,
and still fails a notebook whose committed number was edited by hand; and the nbval internals it uses."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbval import kernel as nbval_kernel, plugin as nbval
from test_book_kernels import held

from ctdepth_lib.book import kernels, nbval_plugin

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


def test_the_nbval_internals_this_plugin_uses() -> None:
    """The plugin wraps ``IPyNbCell.compare_outputs`` and reads ``test_outputs``/``cell_num``: nbval
    internals (it has no public hook for them). This fails loudly when a new nbval changes them."""
    why = (
        f"nbval {metadata.version('nbval')} changed what ctdepth_lib/book/nbval_plugin.py relies on "
        "(written against nbval 0.11.0): adapt the plugin, then the pin in pyproject.toml"
    )
    cell, notebook = nbval.IPyNbCell, nbval.IPyNbFile
    assert issubclass(cell, pytest.Item) and issubclass(notebook, pytest.File), why
    # the method the plugin wraps per item: its name and signature, and its default skips
    params = inspect.signature(cell.compare_outputs).parameters
    assert list(params) == ["self", "test", "ref", "skip_compare"] and params["skip_compare"].default is None, why
    assert "skip_compare = skip_compare or self.parent.skip_compare" in inspect.getsource(cell.compare_outputs), why
    assert "self.skip_compare = (" in inspect.getsource(notebook.__init__), why
    # the attributes the fresh records are read from
    init = inspect.getsource(cell.__init__)
    assert "self.cell_num = cell_num" in init and "self.test_outputs = None" in init, why
    # runtest keeps the fresh outputs in self.test_outputs (one list, coalesced in place) and hands
    # compare_outputs both sides with their streams coalesced, looked up on the item
    runtest = inspect.getsource(cell.runtest)
    assert len(re.findall(r"^\s*outs\s*=", runtest, re.M)) == 1 and "self.test_outputs = outs" in runtest, why
    steps = [
        "self.test_outputs = outs",
        "outs[:] = coalesce_streams(outs)",
        "self.compare_outputs(outs, coalesce_streams(self.cell.outputs))",
    ]
    assert all(step in runtest for step in steps), why
    assert [runtest.index(step) for step in steps] == sorted(runtest.index(step) for step in steps), why
    # a notebook's kernel starts in the setup of the notebook (so of its first cell), which returns
    # only once the kernel answers: the kernel-start lock covers the whole start
    assert "self.kernel = RunningKernel(" in inspect.getsource(notebook.setup), why
    start = inspect.getsource(nbval_kernel.start_new_kernel)
    assert "km.start_kernel(" in start and "kc.wait_for_ready(" in start, why
    assert "start_new_kernel(" in inspect.getsource(nbval_kernel.RunningKernel.__init__), why


def _cell_stub() -> types.SimpleNamespace:
    """What nbval's compare_outputs reads of its cell (and of the cell's notebook)."""
    parent = types.SimpleNamespace(skip_compare=("metadata", "traceback", "output_type", "name", "execution_count"))
    return types.SimpleNamespace(
        parent=parent, colors=nbval.nocolors, sanitize=lambda s: s, format_output_compare=lambda *args: None
    )


def _outputs(printed: str, measured: float) -> list[nbformat.NotebookNode]:
    return [
        nbformat.v4.new_output("stream", name="stdout", text=f"x = {printed}\n"),
        nbformat.v4.new_output("display_data", data={CLAIM: {"id": "demo", "measured": measured}, "text/plain": "c"}),
    ]


def test_nbval_skips_what_skip_compare_names_and_the_plugin_adds_claims_and_digits() -> None:
    stub, ref = _cell_stub(), _outputs("0.3333", 0.3)
    # nbval itself: a MIME type in skip_compare is left out on both sides, anything else compared exactly
    assert nbval.IPyNbCell.compare_outputs(stub, _outputs("0.3333", 0.4), ref, (*stub.parent.skip_compare, CLAIM))
    assert not nbval.IPyNbCell.compare_outputs(stub, _outputs("0.3333", 0.4), ref)
    assert not nbval.IPyNbCell.compare_outputs(stub, _outputs("0.3334", 0.3), ref)
    # the plugin's comparison: the last printed digit may differ, the claim record's digits are the ledger's
    compare = types.MethodType(nbval_plugin._compare_outputs, stub)
    assert compare(_outputs("0.3334", 0.4), ref)
    assert not compare(_outputs("0.3343", 0.3), ref)


def test_only_the_first_cell_of_a_notebook_starts_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Cell:  # what the hook reads of an nbval cell: its class and its notebook
        def __init__(self, parent: object) -> None:
            self.parent = parent

    lock = tmp_path / "start.lock"
    monkeypatch.setattr(nbval_plugin, "IPyNbCell", Cell)
    monkeypatch.setattr(kernels, "kernel_start_lock_path", lambda: lock)
    monkeypatch.setattr(nbval_plugin, "_STARTED", set())
    first, second = object(), object()
    seen = []
    for item in (Cell(first), Cell(first), Cell(second), types.SimpleNamespace(parent=first)):
        hook = nbval_plugin.pytest_runtest_setup(item)  # type: ignore[arg-type]
        next(hook)  # the setup itself runs here
        seen.append(lock.exists() and held(lock))
        with pytest.raises(StopIteration):
            hook.send(None)
        assert not held(lock)
    assert seen == [True, False, True, False]
