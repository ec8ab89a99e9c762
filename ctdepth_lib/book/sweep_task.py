"""The task of a seed sweep: one papermill run on a Dask worker (see :mod:`ctdepth_lib.book.sweep`),
and the digests of the library that say which runs are comparable.

Self-contained on purpose: :mod:`ctdepth_lib.book.sweep` sends this module's functions to the
workers by value (``cloudpickle.register_pickle_by_value``), so a worker runs a task without
importing ``ctdepth_lib`` (only the chapter's kernel does, and pays for torch), and a worker whose
``ctdepth_lib`` differs from the client's is found out before it runs anything. Only the standard
library and papermill are used here.

Two digests, both SHA-256 over relative POSIX paths and file bytes in sorted path order:

* :func:`science_digest` — the modules a chapter's claims depend on: every ``*.py`` under
  ``ctdepth_lib/`` (recursively; the ``bench/`` wing too, since claim T-memory measures with
  ``cost_table``), except everything under ``ctdepth_lib/book/`` (the book's machinery, this
  sweep included) and :data:`NOT_SCIENCE`. It enters every run's code version, so changing one of
  these files makes the committed sweep stale.
* :func:`library_digest` — what a worker must share with the client: the science modules, the
  plotting style and the claims registry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = [
    "CONTINUE_VAR",
    "NOT_SCIENCE",
    "THREAD_VARS",
    "execute_run",
    "failed_claims",
    "library_digest",
    "package_dir",
    "science_digest",
    "science_files",
]

#: Thread-count variables that Dask's nanny sets to 1 for its workers; a run's kernel gets the
#: client's values instead, so a sweep computes what a plain papermill run on the client does.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Set to ``1`` in a run's kernel: a failing claim is recorded and the run goes on, so a run
#: measures every claim (``ctdepth_lib.claims.CONTINUE_VAR``; spelled out, this module imports
#: nothing of ctdepth_lib).
CONTINUE_VAR = "CTDEPTH_CLAIMS_CONTINUE"
CLAIM_MIME = "application/vnd.ctdepth.claim+json"
#: Modules outside ``book/`` that no claim depends on: the command line and the plotting style.
NOT_SCIENCE = ("__main__.py", "plotting.py", "sweep.py")  # sweep.py: the re-export of book.sweep


def package_dir() -> Path:
    """The folder of the ``ctdepth_lib`` this process would import (found without importing it)."""
    spec = importlib.util.find_spec("ctdepth_lib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"ctdepth_lib is not installed on {socket.gethostname()}")
    return Path(next(iter(spec.submodule_search_locations)))


def science_files(pkg: Path | None = None) -> list[str]:
    """The science modules: relative POSIX paths of every ``*.py`` under the package, sorted.

    Everything under ``book/`` and the top-level :data:`NOT_SCIENCE` are left out; ``bench/``
    is in. ``pkg`` is the package folder (default :func:`package_dir`).
    """
    pkg = package_dir() if pkg is None else Path(pkg)
    rels = (p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py"))
    return sorted(r for r in rels if not r.startswith("book/") and r not in NOT_SCIENCE)


def _digest(pkg: Path, rels: list[str]) -> str:
    h = hashlib.sha256()
    for rel in rels:
        data = (pkg / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def science_digest(pkg: Path | None = None) -> str:
    """SHA-256 of the science modules (:func:`science_files`): each one's relative path, size and bytes."""
    pkg = package_dir() if pkg is None else Path(pkg)
    return _digest(pkg, science_files(pkg))


def library_digest(pkg: Path | None = None) -> str:
    """SHA-256 of what a run imports or reads from ``ctdepth_lib``: the science modules, ``plotting.py``
    and ``claims.yaml`` (not the book's machinery nor the command line, which only drive runs)."""
    pkg = package_dir() if pkg is None else Path(pkg)
    return _digest(pkg, sorted([*science_files(pkg), "plotting.py", "claims.yaml"]))


def failed_claims(notebook: str) -> list[str]:
    """The text lines of the failing claim records in an executed notebook (JSON text), in order."""
    out = []
    for cell in json.loads(notebook).get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            record = data.get(CLAIM_MIME)
            if isinstance(record, dict) and record.get("verdict") == "fail":
                text = data.get("text/plain", "")
                out.append("".join(text) if isinstance(text, list) else str(text))
    return out


def execute_run(
    notebook: bytes,
    name: str,
    parameters: dict[str, Any],
    timeout: float,
    library: str,
    thread_env: dict[str, str | None],
) -> dict[str, Any]:
    """Execute one run with papermill on a worker; return its outcome and executed notebook.

    The kernel runs with ``CTDEPTH_CLAIMS_CONTINUE=1``: a failing claim does not stop the run,
    which then measures every later claim and is recorded as ``fail``. Never raises for what happens in the notebook (claim failure, cell error, timeout): those
    are outcomes. Raises only when this worker cannot run it at all (its ``ctdepth_lib``
    differs from the client's), so Dask retries it and the client records it as lost.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    mine = library_digest()
    if mine != library:  # not an outcome of the run: the task fails (retried, then recorded as lost)
        raise RuntimeError(
            f"worker {socket.gethostname()} has a different ctdepth_lib ({mine[:12]} at {package_dir()}) "
            f"than the client ({library[:12]}): install the same version (or the tree changed during the sweep)"
        )
    saved = {k: os.environ.get(k) for k in (*THREAD_VARS, CONTINUE_VAR)}
    for key, value in (thread_env | {CONTINUE_VAR: "1"}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    status, error = "pass", ""
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="ctdepth-sweep-") as tmp:
            src, dst = Path(tmp) / f"{name}.ipynb", Path(tmp) / f"{name}.out.ipynb"
            src.write_bytes(notebook)
            try:
                pm.execute_notebook(
                    str(src), str(dst), parameters=parameters, cwd=tmp, kernel_name="python3",
                    progress_bar=False, execution_timeout=timeout,
                )  # fmt: skip
            except PapermillExecutionError as exc:
                status = "fail" if exc.ename == "ClaimFailed" else "error"
                error = f"{exc.ename}: {exc.evalue}"
            except TimeoutError as exc:  # nbclient's CellTimeoutError
                status, error = "timeout", f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # the kernel died, could not start, …: still an outcome
                status, error = "error", f"{type(exc).__name__}: {exc}"
            text = dst.read_text(encoding="utf-8") if dst.is_file() else None
            failed = failed_claims(text) if text else []
            if status == "pass" and failed:  # claims failed, and the run went on to measure the rest
                status, error = "fail", "ClaimFailed: " + " | ".join(failed)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "status": status,
        "error": error[:2000],
        "notebook": text,
        "seconds": time.perf_counter() - start,
        "worker": socket.gethostname(),
    }
