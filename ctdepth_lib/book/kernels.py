"""Jupyter kernels that start one at a time on a machine, so that no two get the same TCP port.

A Jupyter kernel manager picks five free TCP ports (it binds port 0 and closes the socket again),
writes them into the kernel's connection file, and the kernel binds them a second or so later.
Between the two, another kernel manager, or any other process opening a connection, can be
handed the same port; the kernel then fails with ``zmq.error.ZMQError: Address already in use``
and never answers (jupyter_client reports "Kernel died before replying to kernel_info" or
"Kernel didn't respond in 60 seconds"). It happened in ``make test`` when its two pytest-xdist
workers started kernels at the same moment: once to a chapter's nbval kernel (every cell of the
chapter errored), once to a papermill run of the bad-parameter tests.

Every kernel this project starts therefore starts under one lock per user and machine
(:func:`kernel_start_lock`, an ``fcntl.flock``), held until the kernel has answered: its ports
are bound by then. nbval's kernels take it in :mod:`.nbval_plugin`; papermill's and nbclient's
take it through :class:`LockedKernelManager`, their ``kernel_manager_class``. Only the standard
library and jupyter_client are used here (a sweep's workers receive this module by value, see
:mod:`.sweep_task`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

__all__ = ["LockedKernelManager", "kernel_start_lock", "kernel_start_lock_path"]


def kernel_start_lock_path() -> Path:
    """The file kernel starts lock: one per user, in the system's temporary folder."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"ctdepth-kernel-start-{uid}.lock"


@contextlib.contextmanager
def kernel_start_lock(path: Path | None = None) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (default :func:`kernel_start_lock_path`) for the block.

    Waits as long as another process holds it. The lock is released when the block ends, or
    when the process dies. Where there is no ``fcntl`` (Windows) there is no lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux or macOS
        yield
        return
    fd = os.open(kernel_start_lock_path() if path is None else path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class LockedKernelManager(AsyncKernelManager):
    """jupyter_client's ``AsyncKernelManager`` whose ``start_kernel`` holds :func:`kernel_start_lock`
    until the kernel answers ``kernel_info`` (at most :attr:`ready_timeout` seconds).

    Pass it as ``kernel_manager_class`` to ``papermill.execute_notebook`` or
    ``nbclient.NotebookClient``. A kernel that does not answer in time is shut down and the
    start raises ``RuntimeError``, as nbclient's own wait would.
    """

    #: Seconds a starting kernel may take to answer (nbval is given the same 180 s in the Makefile).
    ready_timeout: float = 180.0
    #: The lock file; ``None``: :func:`kernel_start_lock_path`, the one nbval's kernels use too.
    lock_path: Path | None = None

    async def start_kernel(self, **kw: Any) -> None:
        with kernel_start_lock(self.lock_path):
            await super().start_kernel(**kw)
            client = self.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=self.ready_timeout)
            except RuntimeError:
                await self.shutdown_kernel(now=True)
                raise
            finally:
                client.stop_channels()
