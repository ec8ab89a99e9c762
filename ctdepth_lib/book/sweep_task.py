"""The task of a seed sweep: one papermill run on a Dask worker (see :mod:`ctdepth_lib.book.sweep`).

Self-contained on purpose: :mod:`ctdepth_lib.book.sweep` sends this module's functions to the
workers by value (``cloudpickle.register_pickle_by_value``), together with :mod:`.digests`, so a
worker runs a task without importing ``ctdepth_lib`` (only the chapter's kernel does, and pays for
torch), and a worker whose ``ctdepth_lib`` differs from the client's is found out before it runs
anything. Only the standard library, papermill and jupyter_client are used here, and
:mod:`.digests` and :mod:`.kernels` (sent by value too).

A worker may run several tasks at once (``--nthreads``), so a task changes nothing of its
process: the kernel's environment and working folder are handed to the kernel when it starts
(:func:`kernel_env`), never set in the worker's ``os.environ`` or by ``os.chdir``.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .digests import library_digest, package_dir
from .kernels import LockedKernelManager

__all__ = [
    "CLAIM_MIME",
    "CLIENT_VARS",
    "CONTINUE_VAR",
    "NO_FIGURES_VAR",
    "THREAD_VARS",
    "execute_run",
    "failed_claims",
    "kernel_env",
]

#: Thread-count variables that Dask's nanny sets to 1 for its workers.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Every variable Dask's nanny sets for a worker before it starts it (the config
#: ``distributed.nanny.pre-spawn-environ``, and ``PYTHONHASHSEED``): the thread counts, a hash
#: seed, and ``MALLOC_TRIM_THRESHOLD_=65536``, with which glibc hands freed memory back at once,
#: so that each large tensor is a fresh ``mmap``: chapter 6's quick run took 65 s instead of 47 s
#: under it (measured, one papermill run on an idle machine). A run's kernel gets the client's
#: values of all of them instead, so a sweep computes, and times, what a plain papermill run on
#: the client does.
CLIENT_VARS = (*THREAD_VARS, "MALLOC_TRIM_THRESHOLD_", "PYTHONHASHSEED")
#: Set to ``1`` in a run's kernel: a failing claim is recorded and the run goes on, so a run
#: measures every claim (``ctdepth_lib.claims.CONTINUE_VAR``; spelled out, this module imports
#: nothing of ctdepth_lib).
CONTINUE_VAR = "CTDEPTH_CLAIMS_CONTINUE"
#: Set to ``1`` in a run's kernel: the run is read for its claims only, so its figures are not
#: drawn (``ctdepth_lib.plotting.NO_FIGURES_VAR``): 5–10 % of a quick run of chapter 6, measured.
NO_FIGURES_VAR = "CTDEPTH_NO_FIGURES"
CLAIM_MIME = "application/vnd.ctdepth.claim+json"


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


def kernel_env(client_env: Mapping[str, str | None]) -> dict[str, str]:
    """The environment a run's kernel starts with: this process's, with ``client_env`` (the client's
    values of :data:`CLIENT_VARS`; a value of None unsets the variable), ``CTDEPTH_CLAIMS_CONTINUE=1``
    and ``CTDEPTH_NO_FIGURES=1``. ``os.environ`` itself is only read."""
    env = dict(os.environ)
    for key, value in (dict(client_env) | {CONTINUE_VAR: "1", NO_FIGURES_VAR: "1"}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _kernel_manager(env: dict[str, str], cwd: str) -> type:
    """A kernel manager class whose kernels start in ``cwd`` with exactly ``env``.

    jupyter_client's ``start_kernel(env=…, cwd=…)`` sets both for the kernel process alone, and
    nbclient's ``NotebookClient.execute(**kw)`` would pass them there, but papermill 2.7's engine
    calls ``execute()`` with none. It does pass its extra keywords (``execute_notebook(…,
    kernel_manager_class=…)``) to ``NotebookClient``, whose ``kernel_manager_class`` trait makes
    the kernel manager; this one adds ``env`` and ``cwd`` to its ``start_kernel``. (papermill's own
    ``cwd`` would ``os.chdir`` the whole worker process.) Its kernels start one at a time on the
    machine (:class:`~ctdepth_lib.book.kernels.LockedKernelManager`).
    """

    class KernelManager(LockedKernelManager):  # a class per run: runs on one worker share nothing
        async def start_kernel(self, **kw: Any) -> None:
            await super().start_kernel(**(kw | {"env": env, "cwd": cwd}))

    return KernelManager


def execute_run(
    notebook: bytes,
    name: str,
    parameters: dict[str, Any],
    timeout: float,
    library: str,
    client_env: dict[str, str | None],
) -> dict[str, Any]:
    """Execute one run with papermill on a worker; return its outcome and executed notebook.

    The kernel runs in a temporary folder with :func:`kernel_env`: the client's :data:`CLIENT_VARS`,
    ``CTDEPTH_NO_FIGURES=1`` (the executed notebook has no images) and ``CTDEPTH_CLAIMS_CONTINUE=1``,
    so a failing claim does not stop the run, which then measures every later claim and is
    recorded as ``fail``. Never raises for what happens in the notebook
    (claim failure, cell error, timeout): those are outcomes. Raises only when this worker cannot
    run it at all (its ``ctdepth_lib`` differs from the client's), so Dask retries it and the
    client records it as lost.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    mine = library_digest()
    if mine != library:  # not an outcome of the run: the task fails (retried, then recorded as lost)
        raise RuntimeError(
            f"worker {socket.gethostname()} has a different ctdepth_lib ({mine[:12]} at {package_dir()}) "
            f"than the client ({library[:12]}): install the same version (or the tree changed during the sweep)"
        )
    status, error = "pass", ""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ctdepth-sweep-") as tmp:
        src, dst = Path(tmp) / f"{name}.ipynb", Path(tmp) / f"{name}.out.ipynb"
        src.write_bytes(notebook)
        try:
            pm.execute_notebook(
                str(src), str(dst), parameters=parameters, kernel_name="python3", progress_bar=False,
                execution_timeout=timeout, kernel_manager_class=_kernel_manager(kernel_env(client_env), tmp),
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
    return {
        "status": status,
        "error": error[:2000],
        "notebook": text,
        "seconds": time.perf_counter() - start,
        "worker": socket.gethostname(),
    }
