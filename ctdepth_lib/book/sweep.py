"""Seed sweeps: chapters × seeds × parameter sets on Dask distributed, into one tidy table.

``python -m ctdepth_lib sweep CHAPTER… --seeds A-B [--quick] [-p NAME VALUE]… [--workers N |
--scheduler ADDRESS] --out DIR`` (or :func:`sweep`) executes every chapter with papermill once per
seed and parameter set. The runs are Dask tasks: on a ``LocalCluster`` of ``N`` single-threaded
worker processes on this machine, or on an existing cluster (``--scheduler``, whose workers may
run several tasks at once), so the same command spreads over many machines. Each task ships the
chapter's notebook to its worker and gets the executed notebook back, so workers need the same
``ctdepth_lib`` (checked) but no shared disk.

This module checks the arguments (once, before anything else), runs the plan on the cluster and
keeps the folder ``DIR``; :mod:`.sweep_plan` says what runs (checked against the book before any
run) and each chapter's code version, whose public names are re-exported here, and
:mod:`.sweep_task` is one run on a worker. Layout of ``DIR`` (one run = one chapter, one parameter
set, one seed)::

    DIR/runs/<stem>/<param-hash>/seed<k>.ipynb        the executed notebook (also a failed one)
    DIR/runs/<stem>/<param-hash>/seed<k>.claims.json  its claim records (as ``collect_fresh`` reads)
    DIR/runs/<stem>/<param-hash>/seed<k>.run.json     the run record, written last and atomically
    DIR/results.parquet                               one row per registered claim per run

The client writes each finished run's files as its result arrives (temporary file +
``os.replace``; the ``.run.json`` last), so an interrupted sweep loses no finished run, and a run
has one path, so none is recorded twice. ``results.parquet`` is rebuilt from the run records alone
(:func:`build_table`) at the end (also after Ctrl-C) and on every rerun; :func:`load_results`
reads it. A rerun skips each run whose record has the same code version (:func:`code_version`) —
except runs whose worker was lost, which run again.

A failing claim, a cell error or a cell timeout is an outcome (``run_status`` ``fail``,
``error``, ``timeout``), recorded with the claim records made before it; claims after the stop
have verdict ``not run`` (after a failed claim) or the run's status (after an error or timeout).
A worker that dies mid-run is replaced and its task retried elsewhere; a task that still cannot
finish is recorded as ``error`` with ``lost = True``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..claims import registry
from . import digests, kernels, sweep_task
from .ledger import notebook_records
from .sweep_plan import (
    RECORD_FORMAT,
    Run,
    SweepInputError,
    code_version,
    parse_parameter_value,
    parse_seeds,
    plan,
    root_chapters,
)

__all__ = [
    "RESULT_COLUMNS",
    "SweepInputError",
    "code_version",
    "load_results",
    "parse_parameter_value",
    "parse_seeds",
    "sweep",
]

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


def sweep(
    chapters: Sequence[str | Path] | str,
    seeds: Iterable[int] | str,
    *,
    quick: bool,
    parameters: Mapping[str, Any],
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = 600,
    root: str | Path = ".",
    connect_timeout: float = 10.0,
    force: bool = False,
    progress: bool = True,
) -> Any:
    """Run ``chapters`` × ``seeds`` × parameter sets with papermill on Dask; return the table.

    Args:
        chapters: notebook paths (``chapters/03_phase_space.ipynb``), stems (``03_phase_space``)
            or ``"all"`` (the chapters of ``root/_toc.yml``).
        seeds: the values of ``SEED``: integers, or a string ``"A-B"`` (inclusive, ``"1-50,9137"``).
        quick: start from each chapter's quick parameters (``ctdepth_lib/parameters.yaml``; else its defaults).
        parameters: overrides ``NAME -> value``; a list of values makes a grid (their Cartesian
            product). Every name must be a parameter of every chapter, and every value must pass
            the chapter's own validation spec (checked before any run).
        out: folder of the sweep (created; a rerun into it resumes).
        workers: worker processes (one thread each) of a ``LocalCluster`` on this machine
            (default: the number of CPUs). Exclusive with ``scheduler``.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``) to run on instead.
        timeout: seconds one cell may run before the run is recorded as ``timeout``.
        root: book root holding ``_toc.yml`` and ``chapters/``.
        connect_timeout: seconds to wait for ``scheduler``.
        force: run again also the runs already recorded for the current version.
        progress: show a tqdm progress bar on stderr.

    Returns:
        ``pandas.DataFrame`` of ``out/results.parquet``, one row per registered claim per run
        recorded in ``out`` (columns :data:`RESULT_COLUMNS`).

    Raises:
        SweepInputError (a ValueError) or TypeError naming the bad argument, before any run.
        KeyboardInterrupt after recording the finished runs and rebuilding the table.
    """
    chapters, seed_list, grid = _checked_runs(chapters, seeds, quick, parameters)
    out, root = _checked_folders(out, root)
    _check_cluster(workers, scheduler, timeout, connect_timeout)
    runs = plan(chapters, seed_list, quick, grid, root)

    todo = []
    for run in runs:
        rec = None if force else read_record(record_path(out, run))
        if rec is None or rec.get("version") != run.version or rec.get("lost"):
            todo.append(run)
    if not todo:
        return build_table(out, root)

    client, cluster = _connect(scheduler, workers or os.cpu_count() or 1, float(connect_timeout))
    try:
        _run_all(client, todo, out, float(timeout), progress)
    except BaseException:
        _close(client, cluster)
        build_table(out, root)  # also after Ctrl-C: the table holds every finished run
        raise
    _close(client, cluster)
    return build_table(out, root)


# --------------------------------------------------------------------------- the arguments, checked once
def _checked_runs(
    chapters: Any, seeds: Any, quick: Any, parameters: Any
) -> tuple[list[str | Path], list[int], dict[str, list[Any]]]:
    """The chapters as a list, the seeds sorted, the parameters as ``NAME -> [value, …]``."""
    if isinstance(chapters, (str, os.PathLike)):
        chapters = [chapters]
    if not isinstance(chapters, Sequence) or not all(isinstance(c, (str, os.PathLike)) for c in chapters):
        raise TypeError(f"chapters must be a list of notebook paths or stems; got {chapters!r}")
    if isinstance(seeds, str):
        seed_list = parse_seeds(seeds)
    else:
        try:
            seed_list = sorted(set(seeds))
        except TypeError:
            raise TypeError(f"seeds must be an iterable of integers or a string like '1-50'; got {seeds!r}") from None
        if any(isinstance(s, bool) or not isinstance(s, int) for s in seed_list):
            raise TypeError(f"seeds must be integers; got {seed_list!r}")
    if not seed_list:
        raise SweepInputError("seeds must name at least one seed; got an empty range")
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True or False; got {quick!r}")
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters must be a mapping NAME -> value (or list of values); got {parameters!r}")
    grid: dict[str, list[Any]] = {}
    for name, value in parameters.items():
        if not isinstance(name, str):
            raise TypeError(f"parameters must have string names; got {name!r}")
        if name == "SEED":
            raise SweepInputError("parameter SEED is set by seeds (--seeds), not by -p")
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise SweepInputError(f"parameter {name} has no value")
        grid[name] = list(dict.fromkeys(values))
    return list(chapters), seed_list, grid


def _checked_folders(out: Any, root: Any) -> tuple[Path, Path]:
    for name, value in (("out", out), ("root", root)):
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be a folder path; got {value!r}")
    if Path(out).exists() and not Path(out).is_dir():
        raise SweepInputError(f"out must be a folder; {str(out)!r} is a file")
    return Path(out), Path(root)


def _check_cluster(workers: Any, scheduler: Any, timeout: Any, connect_timeout: Any) -> None:
    if workers is not None and scheduler is not None:
        raise SweepInputError("give workers or scheduler, not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepInputError(f"workers must be an integer >= 1; got {workers!r}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string like 'tcp://host:8786'; got {scheduler!r}")
    for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise SweepInputError(f"{name} must be a number of seconds > 0; got {value!r}")


# --------------------------------------------------------------------------- the runs, on the cluster
def _connect(scheduler: str | None, workers: int | None, connect_timeout: float) -> tuple[Any, Any]:
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SweepInputError(
                f"--scheduler {scheduler!r} is not reachable within {connect_timeout:g} s ({type(exc).__name__})"
            ) from None
        except ValueError as exc:
            raise SweepInputError(f"--scheduler {scheduler!r} is not a scheduler address: {exc}") from None
        return client, None
    with dask.config.set({"distributed.scheduler.allowed-failures": 2}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=0,  # the kernels are child processes; the chapters are small
            silence_logs=40,  # logging.ERROR: the nanny's restart notices would break the bar
        )
    return Client(cluster, set_as_default=False), cluster


def _close(client: Any, cluster: Any) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=10)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)


class _ByValue:
    """``func`` pickled by value (cloudpickle), whichever pickler ships it.

    distributed pickles a submitted task with plain ``pickle`` — the function by reference, so a
    worker would import it from its own ``ctdepth_lib`` — unless the object it pickles comes from a
    module registered with ``cloudpickle.register_pickle_by_value``, and that object is the task,
    not the function. This one unpickles as the function itself, rebuilt from cloudpickle's bytes.
    """

    def __init__(self, func: Any) -> None:
        import cloudpickle

        self.func = func
        self.payload = cloudpickle.dumps(func)

    def __call__(self, *args: Any) -> Any:
        return self.func(*args)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        import cloudpickle

        return cloudpickle.loads, (self.payload,)


def _run_all(client: Any, todo: list[Run], out: Path, timeout: float, progress: bool) -> None:
    import cloudpickle
    from distributed import as_completed
    from tqdm import tqdm

    # the task travels by value: a worker runs it without importing ctdepth_lib (and so torch)
    cloudpickle.register_pickle_by_value(digests)
    cloudpickle.register_pickle_by_value(kernels)
    cloudpickle.register_pickle_by_value(sweep_task)
    execute_run = _ByValue(sweep_task.execute_run)

    library = digests.library_digest()
    client_env = {k: os.environ.get(k) for k in sweep_task.CLIENT_VARS}
    blobs: dict[Path, Any] = {}
    futures = {}
    for run in todo:
        if run.chapter.path not in blobs:
            blobs[run.chapter.path] = client.scatter(run.chapter.path.read_bytes(), broadcast=True)
        fut = client.submit(
            execute_run,
            blobs[run.chapter.path],
            run.chapter.stem,
            run.params | {"SEED": run.seed},
            timeout,
            library,
            client_env,
            key=f"ctdepth-run-{run.run_id}-{run.version}-{time.time_ns()}",
            retries=2,
            pure=False,
        )
        futures[fut] = run
    done = failed = 0
    bar = tqdm(total=len(todo), unit="run", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            run = futures.pop(fut)
            lost = False
            try:
                outcome = fut.result()
            except Exception as exc:  # a worker died too often, or the task could not run there
                lost = True
                error = f"{type(exc).__name__}: {exc}"[:2000]
                outcome = {"status": "error", "error": error, "notebook": None, "seconds": 0.0}
            rec = write_run(out, run, outcome, lost=lost)
            done += 1
            failed += rec["status"] != "pass"
            bar.set_postfix_str(f"done {done}, failed {failed}, remaining {len(todo) - done}", refresh=False)
            bar.update(1)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()


# --------------------------------------------------------------------------- the sweep's folder
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
    library = digests.science_digest()
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
