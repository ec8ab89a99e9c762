"""Seed sweeps: chapters × seeds × parameter sets on Dask distributed, into one tidy table.

``python -m ctdepth_lib sweep CHAPTER… --seeds A-B [--quick] [-p NAME VALUE]… [--workers N |
--scheduler ADDRESS] --out DIR`` (or :func:`sweep`) executes every chapter with papermill once per
seed and parameter set. The runs are Dask tasks: on a ``LocalCluster`` of ``N`` single-threaded
worker processes on this machine, or on an existing cluster (``--scheduler``), so the same
command spreads over many machines. Each task ships the chapter's notebook to its worker and gets
the executed notebook back, so workers need the same ``ctdepth_lib`` (checked) but no shared disk.

The sweep is four modules: :mod:`.sweep_plan` (what runs, checked before any run, and each
chapter's code version), :mod:`.sweep_task` (one run on a worker), :mod:`.sweep_records` (the
folder ``DIR``: one record per run, ``DIR/results.parquet``) and this one, which runs the plan on
the cluster. Its public names are re-exported here.

The client writes each finished run's files as its result arrives (temporary file +
``os.replace``; the ``.run.json`` last), so an interrupted sweep loses no finished run, and a run
has one path, so none is recorded twice. ``results.parquet`` is rebuilt from the run records at
the end (also after Ctrl-C) and on every rerun. A rerun skips each run whose record has the same
code version (:func:`code_version`) — except runs whose worker was lost, which run again.

A failing claim, a cell error or a cell timeout is an outcome (``run_status`` ``fail``,
``error``, ``timeout``), recorded with the claim records made before it; claims after the stop
have verdict ``not run`` (after a failed claim) or the run's status (after an error or timeout).
A worker that dies mid-run is replaced and its task retried elsewhere; a task that still cannot
finish is recorded as ``error`` with ``lost = True``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import sweep_task
from .sweep_plan import (
    Run,
    SweepInputError,
    code_version,
    parse_parameter_value,
    parse_seeds,
    plan,
)
from .sweep_records import RESULT_COLUMNS, build_table, load_results, read_record, record_path, write_run

__all__ = [
    "RESULT_COLUMNS",
    "SweepInputError",
    "code_version",
    "load_results",
    "parse_parameter_value",
    "parse_seeds",
    "sweep",
]


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
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path; got {out!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepInputError(f"out must be a folder; {str(out)!r} is a file")
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path; got {root!r}")
    root = Path(root)
    if workers is not None and scheduler is not None:
        raise SweepInputError("give workers or scheduler, not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepInputError(f"workers must be an integer >= 1; got {workers!r}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string like 'tcp://host:8786'; got {scheduler!r}")
    for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise SweepInputError(f"{name} must be a number of seconds > 0; got {value!r}")
    runs = plan(chapters, seeds, quick, parameters, root)

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


def _close(client: Any, cluster: Any) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=10)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)


def _run_all(client: Any, todo: list[Run], out: Path, timeout: float, progress: bool) -> None:
    import cloudpickle
    from distributed import as_completed
    from tqdm import tqdm

    # the task travels by value: a worker runs it without importing ctdepth_lib (and so torch)
    cloudpickle.register_pickle_by_value(sweep_task)

    library = sweep_task.library_digest()
    thread_env = {k: os.environ.get(k) for k in sweep_task.THREAD_VARS}
    blobs: dict[Path, Any] = {}
    futures = {}
    for run in todo:
        if run.chapter.path not in blobs:
            blobs[run.chapter.path] = client.scatter(run.chapter.path.read_bytes(), broadcast=True)
        fut = client.submit(
            sweep_task.execute_run,
            blobs[run.chapter.path],
            run.chapter.stem,
            run.params | {"SEED": run.seed},
            timeout,
            library,
            thread_env,
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
                outcome = {
                    "status": "error",
                    "error": f"{type(exc).__name__}: {exc}"[:2000] or traceback.format_exc(limit=1),
                    "notebook": None,
                    "seconds": 0.0,
                }
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
