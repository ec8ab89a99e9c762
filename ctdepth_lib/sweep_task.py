"""The task of a seed sweep: one papermill run on a Dask worker (see :mod:`ctdepth_lib.sweep`).

Self-contained on purpose: :mod:`ctdepth_lib.sweep` sends this module's functions to the workers
by value (``cloudpickle.register_pickle_by_value``), so a worker runs a task without importing
``ctdepth_lib`` — whose ``__init__`` imports torch, seconds per worker process — and only the
chapter's kernel pays for torch. Only the standard library and papermill are used here.
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

__all__ = ["CONTINUE_VAR", "THREAD_VARS", "execute_run", "failed_claims", "library_digest", "package_dir"]

#: Thread-count variables that Dask's nanny sets to 1 for its workers; a run's kernel gets the
#: client's values instead, so a sweep computes what a plain papermill run on the client does.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Set to ``1`` in a run's kernel: a failing claim is recorded and the run goes on, so a run
#: measures every claim (``ctdepth_lib.claims.CONTINUE_VAR``; spelled out, this module imports
#: nothing of ctdepth_lib).
CONTINUE_VAR = "CTDEPTH_CLAIMS_CONTINUE"
CLAIM_MIME = "application/vnd.ctdepth.claim+json"
#: Modules that drive runs but do not change what a run measures (left out of the digest).
DRIVER_MODULES = ("__main__.py", "sweep.py")


def package_dir() -> Path:
    """The folder of the ``ctdepth_lib`` this process would import (found without importing it)."""
    spec = importlib.util.find_spec("ctdepth_lib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"ctdepth_lib is not installed on {socket.gethostname()}")
    return Path(next(iter(spec.submodule_search_locations)))


def library_digest() -> str:
    """SHA-256 of ``ctdepth_lib``'s sources and claims registry, without the sweep driver
    (``__main__.py``, ``sweep.py``, ``sweep_*.py``)."""
    pkg = package_dir()
    h = hashlib.sha256()
    for path in [*sorted(pkg.glob("*.py")), pkg / "claims.yaml"]:
        if path.name in DRIVER_MODULES or path.name.startswith("sweep_"):
            continue
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


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
