"""ctdepth_lib.book.kernels: the kernel-start lock excludes other processes, and a
LockedKernelManager holds it from before its kernel starts until the kernel answers."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctdepth_lib.book import kernels


def held(path: Path) -> bool:
    """Whether another open file description holds an exclusive ``flock`` on ``path``."""
    fcntl = pytest.importorskip("fcntl")
    with path.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def test_the_lock_excludes_another_process_until_it_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "start.lock"
    code = (
        "import sys\nfrom pathlib import Path\nfrom ctdepth_lib.book.kernels import kernel_start_lock\n"
        "with kernel_start_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        assert held(lock)
    finally:
        proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0 and not held(lock)


def test_one_lock_per_user_in_the_temporary_folder() -> None:
    path = kernels.kernel_start_lock_path()
    assert path.parent == Path(tempfile.gettempdir()) and path.name.startswith("ctdepth-kernel-start-")


def test_a_locked_start_holds_the_lock_until_the_kernel_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    km = kernels.LockedKernelManager(kernel_name="python3")
    seen: list[tuple[str, bool]] = []

    @contextlib.contextmanager
    def recording_lock(path: Path | None = None) -> Iterator[None]:
        seen.append(("take", km.has_kernel))
        yield
        seen.append(("let go", km.has_kernel))

    def spying_client(**kw: Any) -> Any:  # the manager's client, noting when the kernel has answered
        client = real_client(**kw)
        wait = client.wait_for_ready

        async def wait_for_ready(timeout: float | None = None) -> None:
            await wait(timeout=timeout)
            seen.append(("answered", km.has_kernel))

        client.wait_for_ready = wait_for_ready
        return client

    real_client = km.client
    monkeypatch.setattr(kernels, "kernel_start_lock", recording_lock)
    monkeypatch.setattr(km, "client", spying_client)
    try:
        asyncio.run(km.start_kernel())
    finally:
        if km.has_kernel:
            asyncio.run(km.shutdown_kernel(now=True))
    assert seen == [("take", False), ("answered", True), ("let go", True)]
