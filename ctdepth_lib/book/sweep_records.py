"""What a seed sweep wrote: one record per run, and the table built from the records.

Layout of a sweep's folder ``DIR`` (one run = one chapter, one parameter set, one seed)::

    DIR/runs/<stem>/<param-hash>/seed<k>.ipynb        the executed notebook (also a failed one)
    DIR/runs/<stem>/<param-hash>/seed<k>.claims.json  its claim records (as ``collect_fresh`` reads)
    DIR/runs/<stem>/<param-hash>/seed<k>.run.json     the run record, written last and atomically
    DIR/results.parquet                               one row per registered claim per run

Every file is written to a temporary file and moved into place (``os.replace``), the
``.run.json`` last, so an interrupted sweep loses no finished run, and a run has one path, so
none is recorded twice. :func:`build_table` rebuilds ``results.parquet`` from the run records
alone; :func:`load_results` reads it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..claims import registry
from .ledger import notebook_records
from .sweep_plan import RECORD_FORMAT, Run, code_version, root_chapters
from .sweep_task import science_digest

__all__ = ["RESULT_COLUMNS", "build_table", "load_results", "read_record", "record_path", "write_run"]

#: Columns of ``results.parquet``, in order.
RESULT_COLUMNS = (
    "claim",
    "chapter",
    "seed",
    "quick",
    "parameters",
    "param_hash",
    "measured",
    "verdict",
    "threshold",
    "source",
    "run_status",
    "error",
    "seconds",
    "version",
    "current",
    "lost",
    "run_id",
    "notebook",
    "worker",
    "finished",
)


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[str]:
    """A temporary file beside ``path`` that replaces ``path`` when the block ends (removed if it raises)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _atomic_write(path: Path, text: str) -> None:
    with _replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _run_dir(out: Path, run: Run) -> Path:
    return out / "runs" / run.chapter.stem / run.phash


def record_path(out: Path, run: Run) -> Path:
    """Where the record of ``run`` is (or will be) in the sweep folder ``out``."""
    return _run_dir(out, run) / f"seed{run.seed}.run.json"


def _claim_records(nb_text: str | None) -> list[dict[str, Any]]:
    if not nb_text:
        return []
    try:
        nb = json.loads(nb_text)
    except json.JSONDecodeError:
        return []
    return notebook_records(nb)


def write_run(out: Path, run: Run, outcome: dict[str, Any], *, lost: bool = False) -> dict[str, Any]:
    """Write a finished run's notebook, claim records and record (last); return the record.

    ``outcome`` is what :func:`ctdepth_lib.book.sweep_task.execute_run` returned (``status``,
    ``error``, ``notebook``, ``seconds``, ``worker``); ``lost`` marks a run whose task could not run.
    """
    folder = _run_dir(out, run)
    base = f"seed{run.seed}"
    nb_text = outcome.get("notebook")
    records = _claim_records(nb_text)
    if nb_text is not None:
        _atomic_write(folder / f"{base}.ipynb", nb_text)
    _atomic_write(folder / f"{base}.claims.json", json.dumps(records, indent=1, sort_keys=True) + "\n")
    record = {
        "format": RECORD_FORMAT,
        "run_id": run.run_id,
        "chapter": run.chapter.stem,
        "docname": run.chapter.docname,
        "seed": run.seed,
        "quick": run.quick,
        "parameters": run.params,
        "param_hash": run.phash,
        "version": run.version,
        "status": outcome["status"],
        "error": outcome.get("error", ""),
        "seconds": float(outcome.get("seconds", 0.0)),
        "worker": outcome.get("worker", ""),
        "lost": lost,
        "notebook": f"{base}.ipynb" if nb_text is not None else None,
        "claims": records,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _atomic_write(folder / f"{base}.run.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def read_record(path: Path) -> dict[str, Any] | None:
    """The run record at ``path``, or None when it is missing, unreadable or of another format."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return rec if isinstance(rec, dict) and rec.get("format") == RECORD_FORMAT else None


def _measured(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _rows(rec: dict[str, Any], claims: Mapping[str, Any], current: Mapping[str, str]) -> list[dict[str, Any]]:
    by_id = {str(r.get("id")): r for r in rec.get("claims", [])}
    mine = [c for c in claims.values() if c.chapter == rec.get("docname")]
    ids = [c.id for c in mine] + [cid for cid in by_id if cid not in {c.id for c in mine}]
    status = rec["status"]
    missing = status if status in ("error", "timeout") else "not run"
    rows = []
    folder = f"runs/{rec['chapter']}/{rec['param_hash']}"
    for cid in ids:
        r = by_id.get(cid)
        claim = claims.get(cid)
        rows.append(
            {
                "claim": cid,
                "chapter": rec["docname"],
                "seed": int(rec["seed"]),
                "quick": bool(rec["quick"]),
                "parameters": json.dumps(rec["parameters"], sort_keys=True),
                "param_hash": rec["param_hash"],
                "measured": _measured(r.get("measured")) if r else math.nan,
                "verdict": str(r.get("verdict")) if r else missing,
                "threshold": claim.threshold if claim else (r or {}).get("threshold", ""),
                "source": claim.source if claim else "",
                "run_status": status,
                "error": rec.get("error", ""),
                "seconds": float(rec.get("seconds", 0.0)),
                "version": rec["version"],
                "current": current.get(Path(rec["docname"]).name) == rec["version"],
                "lost": bool(rec.get("lost", False)),
                "run_id": rec["run_id"],
                "notebook": f"{folder}/{rec['notebook']}" if rec.get("notebook") else "",
                "worker": rec.get("worker", ""),
                "finished": rec.get("finished", ""),
            }
        )
    return rows


def build_table(out: Path, root: Path) -> Any:
    """Rebuild ``out/results.parquet`` from the run records in ``out``; return it as a DataFrame.

    One row per registered claim of the run's chapter per run (columns :data:`RESULT_COLUMNS`);
    ``current`` compares each run's version with its chapter's :func:`code_version` in ``root``.
    """
    import pandas as pd

    claims = registry()
    records = [r for p in sorted((out / "runs").glob("*/*/seed*.run.json")) if (r := read_record(p))]
    library = science_digest()
    chapters = root_chapters(root)
    current = {stem: code_version(path, library=library) for stem, path in chapters.items()}
    rows = [row for rec in records for row in _rows(rec, claims, current)]
    df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    df = df.astype({"seed": "int64", "quick": "bool", "measured": "float64", "seconds": "float64"})
    df = df.astype({"current": "bool", "lost": "bool"})
    df = df.sort_values(["chapter", "param_hash", "seed", "claim"], kind="stable").reset_index(drop=True)
    with _replacing(out / "results.parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return df


def load_results(path: str | Path) -> Any:
    """The sweep's table as a ``pandas.DataFrame``: ``path`` is ``results.parquet`` or its folder.

    One row per registered claim per run; columns :data:`RESULT_COLUMNS` (``parameters`` is a
    JSON string; ``measured`` is NaN where the claim was not measured; ``current`` tells whether
    the run's ``version`` is the chapter's current :func:`code_version`).
    """
    import pandas as pd

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path to results.parquet or its folder; got {path!r}")
    p = Path(path)
    if p.is_dir():
        p = p / "results.parquet"
    if not p.is_file():
        raise ValueError(f"path must be a sweep's results.parquet or its folder; {str(p)!r} does not exist")
    return pd.read_parquet(p)
