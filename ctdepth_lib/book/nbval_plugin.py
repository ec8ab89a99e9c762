"""pytest plugin for nbval: compare chapter outputs by the rules of :mod:`ctdepth_lib.outputs`.

Load it with ``pytest -p ctdepth_lib.book.nbval_plugin --nbval …`` (the Makefile does). It changes
four things about nbval 0.11, and nothing else:

1. Numbers in text outputs are compared to the digits they print (and glued reprs to a relative
   tolerance, rounding-level values as equal): before nbval's exact comparison, each fresh
   number that agrees with the committed one is respelt as the committed one
   (:func:`ctdepth_lib.outputs.snap`). Any other difference still fails the cell.
2. Claim records (``application/vnd.ctdepth.claim+json``) are not compared digit by digit;
   their text form is, and the ledger judges the records' reproduction
   (``python -m ctdepth_lib claims --fresh DIR``).
3. With ``--ctdepth-fresh DIR``, the claim records of the fresh execution — of every cell, also
   those marked ``# NBVAL_IGNORE_OUTPUT`` — are written to ``DIR/<notebook>.claims.json``.
4. Notebook kernels start one at a time across the machine's processes
   (:func:`pytest_runtest_setup`), so two pytest-xdist workers cannot hand their kernels the same
   TCP port.

Written against nbval 0.11.0 (pinned exactly in ``pyproject.toml``), whose internals it uses
because nbval has no public way to do 1 and 2: its one hook into the comparison,
``--nbval-sanitize-with``, rewrites each side with regexes on its own, so it cannot ask whether a
fresh number agrees with the committed one (one unit in the last printed place, or ``GLUE_RTOL``),
and the output keys nbval skips (``IPyNbFile.skip_compare``) are fixed in its code. So each cell's
``compare_outputs(test, ref, skip_compare)`` is wrapped (per item, at collection: nbval's classes
are left as they are), relying on nbval to pass it both sides with streams coalesced and on
``self.parent.skip_compare``; 3 reads the fresh outputs nbval keeps in ``item.test_outputs``
(and ``item.cell_num``) from pytest's public ``pytest_runtest_call`` hook; and 4 relies on nbval
starting a notebook's kernel, and waiting until it answers, in the setup of the notebook's first
cell (``IPyNbFile.setup``).
``tests/test_nbval_plugin.py::test_the_nbval_internals_this_plugin_uses`` fails loudly when a new
nbval changes any of that.
"""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from nbval.plugin import IPyNbCell

from ..claims import CLAIM_MIME
from ..outputs import GLUE_RTOL, snap
from .kernels import kernel_start_lock
from .ledger import output_records

GLUE_PREFIX = "application/papermill.record/"
_FRESH: dict[Path, dict[int, list[dict[str, Any]]]] = {}
_STARTED: set[pytest.Collector] = set()  # notebooks whose kernel this process has started


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ctdepth-fresh",
        default=None,
        metavar="DIR",
        help="write the claim records of each notebook's fresh execution to DIR/<notebook>.claims.json",
    )


def _snap_outputs(test: list[Any], ref: list[Any]) -> list[Any]:
    out = copy.deepcopy(test)
    for t, r in zip(out, ref):
        if t.get("output_type") != r.get("output_type"):
            continue
        if t.get("output_type") == "stream":
            if t.get("name") == r.get("name") and isinstance(t.get("text"), str) and isinstance(r.get("text"), str):
                t["text"] = snap(r["text"], t["text"])
            continue
        tdata, rdata = t.get("data", {}), r.get("data", {})
        for key, value in tdata.items():
            if isinstance(value, str) and isinstance(rdata.get(key), str):
                tdata[key] = snap(rdata[key], value, rtol=GLUE_RTOL if key.startswith(GLUE_PREFIX) else None)
    return out


def _compare_outputs(self: Any, test: list[Any], ref: list[Any], skip_compare: Any = None) -> bool:
    """nbval's ``IPyNbCell.compare_outputs`` on the fresh outputs snapped to the committed digits,
    with claim records skipped (nbval's runtest hands both sides over with their streams coalesced)."""
    skip = (*(skip_compare or self.parent.skip_compare), CLAIM_MIME)
    return bool(IPyNbCell.compare_outputs(self, _snap_outputs(test, ref), ref, skip))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, IPyNbCell):
            item.compare_outputs = types.MethodType(_compare_outputs, item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Set up a notebook's first cell while holding :func:`~ctdepth_lib.book.kernels.kernel_start_lock`.

    nbval starts the notebook's kernel there and waits until it answers, so its TCP ports are
    bound before the lock is released (why: :mod:`ctdepth_lib.book.kernels`). nbval has no hook
    into its kernel start, so the lock is taken around the whole setup. Later cells do not take it.
    """
    if not isinstance(item, IPyNbCell) or item.parent is None or item.parent in _STARTED:
        return (yield)
    _STARTED.add(item.parent)
    with kernel_start_lock():
        return (yield)


def _write_fresh(folder: Path, notebook: Path) -> None:
    records = [rec for cell in sorted(_FRESH[notebook]) for rec in _FRESH[notebook][cell]]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook.stem}.claims.json"
    target.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n", encoding="utf-8")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After each cell ran (also one that failed), write the notebook's fresh claim records so far."""
    try:
        return (yield)
    finally:
        folder = item.config.getoption("--ctdepth-fresh", default=None)
        if folder and isinstance(item, IPyNbCell) and item.test_outputs is not None:  # None: the cell was skipped
            notebook = Path(item.path)
            _FRESH.setdefault(notebook, {})[item.cell_num] = output_records(item.test_outputs)
            _write_fresh(Path(folder), notebook)
