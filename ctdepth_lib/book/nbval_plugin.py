"""pytest plugin for nbval: compare chapter outputs by the rules of :mod:`ctdepth_lib.outputs`.

Load it with ``pytest -p ctdepth_lib.book.nbval_plugin --nbval …`` (the Makefile does). It changes
three things about nbval 0.11, and nothing else:

1. Numbers in text outputs are compared to the digits they print (and glued reprs to a relative
   tolerance, rounding-level values as equal): before nbval's exact comparison, each fresh
   number that agrees with the committed one is respelt as the committed one
   (:func:`ctdepth_lib.outputs.snap`). Any other difference still fails the cell.
2. Claim records (``application/vnd.ctdepth.claim+json``) are not compared digit by digit;
   their text form is, and the ledger judges the records' reproduction
   (``python -m ctdepth_lib claims --fresh DIR``).
3. With ``--ctdepth-fresh DIR``, the claim records of the fresh execution — of every cell, also
   those marked ``# NBVAL_IGNORE_OUTPUT`` — are written to ``DIR/<notebook>.claims.json``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ..claims import CLAIM_MIME
from ..outputs import GLUE_RTOL, snap
from .ledger import output_records

GLUE_PREFIX = "application/papermill.record/"
_FRESH: dict[Path, dict[int, list[dict[str, Any]]]] = {}


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


def _write_fresh(folder: Path, notebook: Path) -> None:
    records = [rec for cell in sorted(_FRESH[notebook]) for rec in _FRESH[notebook][cell]]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook.stem}.claims.json"
    target.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    try:
        from nbval import plugin as nbval_plugin
    except ImportError:  # pragma: no cover - nbval is a test dependency
        return
    cell_cls = nbval_plugin.IPyNbCell
    if getattr(cell_cls, "_ctdepth_patched", False):
        return
    original_compare = cell_cls.compare_outputs
    original_runtest = cell_cls.runtest

    def compare_outputs(self: Any, test: list[Any], ref: list[Any], skip_compare: Any = None) -> bool:
        skip = (*tuple(skip_compare or self.parent.skip_compare), CLAIM_MIME)
        test = nbval_plugin.coalesce_streams(copy.deepcopy(test))
        return bool(original_compare(self, _snap_outputs(test, ref), ref, skip))

    def runtest(self: Any) -> None:
        try:
            original_runtest(self)
        finally:
            folder = self.config.getoption("--ctdepth-fresh", default=None)
            if folder and self.test_outputs is not None:
                notebook = Path(str(self.fspath))
                _FRESH.setdefault(notebook, {})[self.cell_num] = output_records(self.test_outputs)
                _write_fresh(Path(folder), notebook)

    cell_cls.compare_outputs = compare_outputs
    cell_cls.runtest = runtest
    cell_cls._ctdepth_patched = True
