"""ctdepth_lib.book.kernels: the kernel-start lock excludes other processes, and a
LockedKernelManager holds it from before its kernel starts until the kernel answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
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


def test_a_locked_start_holds_the_lock_from_before_the_launch_until_the_kernel_answers(tmp_path: Path) -> None:
    """Seen from outside, through public hooks only: a trait observer on ``kernel_id`` (set as the
    start begins, before the kernel process is launched) and the client's ``wait_for_ready``.

    (Patching the module's ``kernel_start_lock`` would not do: an in-process sweep test pickles
    this class by value, and cloudpickle then sets the unpickled copies of its methods, with their
    own globals, on it.)
    """
    lock = tmp_path / "start.lock"

    class Manager(kernels.LockedKernelManager):
        lock_path = lock

    km = Manager(kernel_name="python3")
    seen: list[tuple[str, bool]] = []
    km.observe(lambda change: seen.append(("launch", held(lock))), names="kernel_id")

    def spying_client(**kw: Any) -> Any:  # the manager's client, noting when the kernel has answered
        client = real_client(**kw)
        wait = client.wait_for_ready

        async def wait_for_ready(timeout: float | None = None) -> None:
            await wait(timeout=timeout)
            seen.append(("answered", held(lock)))

        client.wait_for_ready = wait_for_ready
        return client

    real_client = km.client
    km.client = spying_client  # type: ignore[method-assign]
    try:
        asyncio.run(km.start_kernel())
        seen.append(("started", held(lock)))
    finally:
        if km.has_kernel:
            asyncio.run(km.shutdown_kernel(now=True))
    assert seen[0] == ("launch", True) and seen[-2:] == [("answered", True), ("started", False)], seen
