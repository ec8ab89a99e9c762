"""Seed sweeps: chapters × seeds × parameter sets on Dask distributed, into one tidy table.

``python -m ctdepth_lib sweep CHAPTER… --seeds A-B [--quick] [-p NAME VALUE]… [--workers N |
--scheduler ADDRESS] --out DIR`` (or :func:`sweep`) executes every chapter with papermill once per
seed and parameter set. The runs are Dask tasks: on a ``LocalCluster`` of ``N`` single-threaded
worker processes on this machine, or on an existing cluster (``--scheduler``), so the same
command spreads over many machines. Each task ships the chapter's notebook to its worker and gets
the executed notebook back, so workers need the same ``ctdepth_lib`` (checked) but no shared disk.

Layout of ``DIR`` (one run = one chapter, one parameter set, one seed)::

    DIR/runs/<stem>/<param-hash>/seed<k>.ipynb        the executed notebook (also a failed one)
    DIR/runs/<stem>/<param-hash>/seed<k>.claims.json  its claim records (as ``collect_fresh`` reads)
    DIR/runs/<stem>/<param-hash>/seed<k>.run.json     the run record, written last and atomically
    DIR/results.parquet                               one row per registered claim per run

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

import ast
import contextlib
import hashlib
import itertools
import json
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import sweep_task
from .book.notebooks import chapter_parameters, quick_parameters
from .claims import CLAIM_MIME, registry
from .params import validate_parameters

__all__ = [
    "RESULT_COLUMNS",
    "SweepInputError",
    "code_version",
    "load_results",
    "parse_parameter_value",
    "parse_seeds",
    "sweep",
]

#: Bump when the run record's meaning changes (it is part of every run's version).
RECORD_FORMAT = 1
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


class SweepInputError(ValueError):
    """A sweep's input is bad (chapter, seeds, parameter, output folder, scheduler); nothing ran."""


# ---------------------------------------------------------------------------------------------
# parsing and validation (client side, before any run)


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"A-B"`` (inclusive), ``"A"`` or a comma-separated list of those, e.g. ``"1-50,9137"``.

    Raises:
        SweepInputError: malformed (``"x"``, ``"1-"``) or empty (``"5-3"``) ranges.
    """
    if not isinstance(text, str):
        raise TypeError(f"seeds must be a string like '1-50'; got {text!r}")
    seeds: list[int] = []
    for piece in text.split(","):
        piece = piece.strip()
        lo, sep, hi = piece.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise SweepInputError(
                f"--seeds must be A-B with integers A <= B (or A, or a comma list); got {text!r}"
            ) from None
        if b < a:
            raise SweepInputError(f"--seeds {piece!r} is empty: A-B needs A <= B")
        seeds.extend(range(a, b + 1))
    return sorted(set(seeds))


def parse_parameter_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill's ``-p`` reads it: True/False/None, int, float, else str."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class _Chapter:
    path: Path
    stem: str
    docname: str
    defaults: dict[str, Any]
    quick: dict[str, Any]
    spec: dict[str, Any]
    guards: str  # the validation cell's own extra checks (``if …: raise``), run on the client too


def _root_chapters(root: Path) -> dict[str, Path]:
    from .book import toc_notebooks

    try:
        toc = toc_notebooks(root)
    except ValueError:
        toc = []
    found = {p.stem: p for p in sorted((root / "chapters").glob("*.ipynb"))}
    found.update({p.stem: p for p in toc})
    return found


def _guards(nb: Path) -> str:
    """The top-level ``if``/``for`` statements of the validation cell that only raise."""
    data = json.loads(nb.read_text(encoding="utf-8"))
    cells = [c for c in data["cells"] if c["cell_type"] == "code"]
    i = next(k for k, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    src = cells[i + 1]["source"]
    src = "".join(src) if isinstance(src, list) else src
    keep = []

    def only_raises(node: ast.stmt) -> bool:
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, (ast.If, ast.For)):
            return all(only_raises(s) for s in [*node.body, *node.orelse])
        return False

    for node in ast.parse(src).body:
        if isinstance(node, (ast.If, ast.For)) and only_raises(node):
            keep.append(ast.get_source_segment(src, node) or "")
    return "\n".join(keep)


def _resolve_chapters(chapters: Sequence[str | Path], root: Path) -> list[_Chapter]:
    known = _root_chapters(root)
    paths: list[Path] = []
    for item in chapters:
        text = str(item)
        if text == "all":
            paths.extend(_root_chapters_in_toc(root, known))
            continue
        path = Path(text)
        if path.suffix == ".ipynb" and (path.is_file() or (root / path).is_file()):
            paths.append(path if path.is_file() else root / path)
        elif text in known:
            paths.append(known[text])
        else:
            raise SweepInputError(f"unknown chapter {text!r}: give a notebook path or one of {sorted(known)} or 'all'")
    out: list[_Chapter] = []
    seen: set[Path] = set()
    for path in paths:
        path = path.resolve()
        if path in seen:
            continue
        seen.add(path)
        try:
            params = chapter_parameters(path)
            quick = quick_parameters(path)
            guards = _guards(path)
        except (ValueError, KeyError, StopIteration, SyntaxError) as exc:
            raise SweepInputError(f"chapter {str(path)!r} is not a parameterised chapter: {exc}") from None
        try:
            docname = path.relative_to(root.resolve()).with_suffix("").as_posix()
        except ValueError:
            docname = f"chapters/{path.stem}"
        out.append(
            _Chapter(
                path=path,
                stem=path.stem,
                docname=docname,
                defaults={p.name: p.default for p in params},
                quick=quick,
                spec={p.name: p.spec for p in params},
                guards=guards,
            )
        )
    if not out:
        raise SweepInputError("no chapter given: name at least one chapter (a path, a stem or 'all')")
    return out


def _root_chapters_in_toc(root: Path, known: dict[str, Path]) -> list[Path]:
    from .book import toc_notebooks

    try:
        return toc_notebooks(root)
    except ValueError:
        return list(known.values())


def _parameter_sets(chapter: _Chapter, quick: bool, grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    base = chapter.defaults | (chapter.quick if quick else {})
    names = list(grid)
    sets = []
    for combo in itertools.product(*(grid[n] for n in names)):
        params = dict(base)
        params.update(zip(names, combo))
        params.pop("SEED", None)
        sets.append(params)
    return sets


def _validate_run(chapter: _Chapter, params: Mapping[str, Any], seed: int) -> None:
    values = dict(params) | {"SEED": seed}
    try:
        checked = validate_parameters(values, chapter.spec)
    except (ValueError, TypeError) as exc:
        raise SweepInputError(f"chapter {chapter.stem}: {exc}") from None
    if chapter.guards:
        env = dict(checked) | {"PARAMS": checked}
        try:
            exec(compile(chapter.guards, str(chapter.path), "exec"), {"__builtins__": __builtins__}, env)
        except (ValueError, TypeError) as exc:
            raise SweepInputError(f"chapter {chapter.stem}: {exc}") from None


# Modules of ctdepth_lib that no chapter's claims depend on: the book machinery, the CLI and
# the sweep itself, plotting and benchmarking. Editing them does not make a sweep stale.
# top-level modules that are machinery, not science (the book and bench wings are subpackages, never hashed)
_NOT_SCIENCE = ("__main__.py", "plotting.py")


def science_digest() -> str:
    """SHA-256 of the ``ctdepth_lib`` modules a chapter's claims depend on (not the machinery)."""
    pkg = sweep_task.package_dir()
    h = hashlib.sha256()
    for path in sorted(pkg.glob("*.py")):
        if path.name in _NOT_SCIENCE or path.name.startswith(("sphinx_", "sweep")):
            continue
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def code_version(nb: str | Path, *, _library: str | None = None) -> str:
    """Fingerprint of what the claims of a run of ``nb`` depend on (16 hex digits).

    It hashes the notebook's code cells and quick parameters (not its outputs: re-executing a
    chapter does not make a sweep stale), the science modules of ``ctdepth_lib``
    (:func:`science_digest`; not the Sphinx extensions, the CLI or the sweep) and the registry
    entries of the chapter's own claims. A record whose ``version`` differs from the chapter's
    current ``code_version`` is stale.
    """
    nb = Path(nb)
    data = json.loads(nb.read_text(encoding="utf-8"))
    h = hashlib.sha256(f"ctdepth-sweep-{RECORD_FORMAT}".encode())
    h.update((_library or science_digest()).encode())
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            h.update(("".join(src) if isinstance(src, list) else str(src)).encode() + b"\0")
    h.update(json.dumps(data.get("metadata", {}).get("ctdepth", {}), sort_keys=True).encode())
    docname = nb.resolve().with_suffix("").as_posix()
    mine = sorted(
        (cid, repr(c)) for cid, c in registry().items() if docname.endswith("/" + c.chapter) or docname == c.chapter
    )
    h.update(json.dumps(mine).encode())
    return h.hexdigest()[:16]


def _param_hash(params: Mapping[str, Any], quick: bool) -> str:
    text = json.dumps({"parameters": dict(params), "quick": bool(quick)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class _Run:
    chapter: _Chapter
    seed: int
    params: dict[str, Any]
    quick: bool
    phash: str
    version: str

    @property
    def run_id(self) -> str:
        return f"{self.chapter.stem}/{self.phash}/seed{self.seed}"


# ---------------------------------------------------------------------------------------------
# the task (worker side)


# ---------------------------------------------------------------------------------------------
# records (client side)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _run_dir(out: Path, run: _Run) -> Path:
    return out / "runs" / run.chapter.stem / run.phash


def _record_path(out: Path, run: _Run) -> Path:
    return _run_dir(out, run) / f"seed{run.seed}.run.json"


def _claim_records(nb_text: str | None) -> list[dict[str, Any]]:
    if not nb_text:
        return []
    try:
        nb = json.loads(nb_text)
    except json.JSONDecodeError:
        return []
    return [
        dict(out["data"][CLAIM_MIME])
        for cell in nb.get("cells", [])
        for out in cell.get("outputs", []) or []
        if CLAIM_MIME in out.get("data", {})
    ]


def _write_run(out: Path, run: _Run, outcome: dict[str, Any], *, lost: bool = False) -> dict[str, Any]:
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


def _read_record(path: Path) -> dict[str, Any] | None:
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


def _build_table(out: Path, root: Path) -> Any:
    import pandas as pd

    claims = registry()
    records = [r for p in sorted((out / "runs").glob("*/*/seed*.run.json")) if (r := _read_record(p))]
    library = science_digest()
    chapters = _root_chapters(root)
    current = {stem: code_version(path, _library=library) for stem, path in chapters.items()}
    rows = [row for rec in records for row in _rows(rec, claims, current)]
    df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    df = df.astype({"seed": "int64", "quick": "bool", "measured": "float64", "seconds": "float64"})
    df = df.astype({"current": "bool", "lost": "bool"})
    df = df.sort_values(["chapter", "param_hash", "seed", "claim"], kind="stable").reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results.", suffix=".parquet.tmp", dir=out)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, out / "results.parquet")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
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


# ---------------------------------------------------------------------------------------------
# the sweep


def _plan(
    chapters: Sequence[str | Path],
    seeds: Iterable[int] | str,
    quick: bool,
    parameters: Mapping[str, Any],
    root: Path,
) -> list[_Run]:
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
    resolved = _resolve_chapters(chapters, root)
    library = science_digest()
    runs: list[_Run] = []
    for ch in resolved:
        unknown = sorted(set(grid) - set(ch.spec))
        if unknown:
            raise SweepInputError(
                f"chapter {ch.stem} has no parameter {unknown[0]} (its parameters: {', '.join(ch.spec)})"
            )
        version = code_version(ch.path, _library=library)
        for params in _parameter_sets(ch, quick, grid):
            for seed in (seed_list[0], seed_list[-1]):
                _validate_run(ch, params, seed)
            phash = _param_hash(params, quick)
            runs.extend(_Run(ch, seed, params, quick, phash, version) for seed in seed_list)
    return runs


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
        quick: start from each chapter's ``metadata.ctdepth.quick_parameters`` (else its defaults).
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
    runs = _plan(chapters, seeds, quick, parameters, root)

    todo = []
    for run in runs:
        rec = None if force else _read_record(_record_path(out, run))
        if rec is None or rec.get("version") != run.version or rec.get("lost"):
            todo.append(run)
    if not todo:
        return _build_table(out, root)

    client, cluster = _connect(scheduler, workers or os.cpu_count() or 1, float(connect_timeout))
    try:
        _run_all(client, todo, out, float(timeout), progress)
    except BaseException:
        _close(client, cluster)
        _build_table(out, root)  # also after Ctrl-C: the table holds every finished run
        raise
    _close(client, cluster)
    return _build_table(out, root)


def _close(client: Any, cluster: Any) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=10)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)


def _run_all(client: Any, todo: list[_Run], out: Path, timeout: float, progress: bool) -> None:
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
            rec = _write_run(out, run, outcome, lost=lost)
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
