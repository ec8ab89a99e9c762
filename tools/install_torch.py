"""Install the CPU build of torch into the running interpreter's environment — or stop with one clear message.

``make book`` and ``make test`` call this before anything else is installed, so nothing later
can pull a CUDA build (several GB) through a plain ``torch`` requirement. Sources, in order:

1. ``TORCH_WHEEL=/path/to/torch-….whl`` (make variable or environment), if given;
2. a wheel that pip's own configuration already offers without an index (``--no-index``:
   pip's ``find-links``; this is how an offline machine with the wheel on disk installs it);
3. the PyTorch CPU wheel index (``CTDEPTH_TORCH_INDEX``, default below), which has ``+cpu``
   builds for Linux x86-64 and aarch64;
4. on macOS only, the default package index (its macOS wheels are CPU builds).

Whatever the source, the installed torch must report ``torch.version.cuda is None``.
Exit status 0 when the CPU build is installed, 1 (with the message) otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path


def _pinned_torch() -> str:
    """The torch version ``pyproject.toml`` pins (``"torch==X"``): the one place it is written."""
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    for dep in project["project"]["dependencies"]:
        m = re.fullmatch(r"torch==([\w.]+)", dep.replace(" ", ""))
        if m:
            return m.group(1)
    raise SystemExit("pyproject.toml pins no torch version (expected a dependency 'torch==X')")


TORCH_VERSION = _pinned_torch()
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _installed_is_cpu(python: str) -> bool:
    code = (
        "import torch, sys; v = torch.__version__.split('+')[0]; "
        f"sys.exit(0 if v == {TORCH_VERSION!r} and torch.version.cuda is None else 1)"
    )
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def _installed_version(python: str) -> str:
    code = "from importlib.metadata import version; print(version('torch'))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def _pip(python: str, args: list[str], dry_run: bool, *, deps: bool = False) -> tuple[bool, str]:
    cmd = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not deps:
        cmd.append("--no-deps")
    if dry_run:
        cmd += ["--dry-run", "--ignore-installed"]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True)
    errors = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("ERROR")]
    return proc.returncode == 0, (errors[-1] if errors else proc.stderr.strip().splitlines()[-1:] or [""])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to install into")
    parser.add_argument("--force", action="store_true", help="install even if the CPU build is already there")
    parser.add_argument("--dry-run", action="store_true", help="resolve only (pip --dry-run); used by the tests")
    args = parser.parse_args(argv)

    if not args.force and _installed_is_cpu(args.python):
        return 0
    system, machine = platform.system(), platform.machine().lower()
    spec = f"torch=={TORCH_VERSION}"
    index = os.environ.get("CTDEPTH_TORCH_INDEX", CPU_INDEX)
    attempts: list[tuple[str, list[str]]] = []
    wheel = os.environ.get("TORCH_WHEEL", "")
    if wheel:
        attempts.append((f"the wheel TORCH_WHEEL={wheel}", [wheel]))
    attempts.append(("a wheel offered by pip's configuration without an index (find-links)", ["--no-index", spec]))
    if system == "Linux":
        attempts.append(
            (f"the PyTorch CPU index {index}", ["--index-url", index, "--timeout", "15", "--retries", "1", spec])
        )
    elif system == "Darwin":
        attempts.append(("the default package index (CPU builds on macOS)", [spec]))
    tried = []
    for label, pip_args in attempts:
        ok, why = _pip(args.python, pip_args, args.dry_run)
        if ok and args.dry_run:
            return 0
        if ok:
            # torch itself came without its dependencies (filelock, sympy, …): now take those from
            # the default index, pinning the installed build so that it is kept as it is.
            installed = _installed_version(args.python)
            deps_ok, why = _pip(args.python, [f"torch=={installed}"], False, deps=True)
            if deps_ok and _installed_is_cpu(args.python):
                return 0
        tried.append(f"  - {label}: {why or 'installed a build that is not the CPU build'}")
    print(
        f"ctdepth set-up stopped: could not install the CPU build of torch {TORCH_VERSION} "
        f"(Python {platform.python_version()}, {system} {machine}).\n"
        "Tried:\n" + "\n".join(tried) + "\n"
        "What to do: make the PyTorch CPU index reachable (or set CTDEPTH_TORCH_INDEX to a mirror of it), or\n"
        f"download the torch {TORCH_VERSION} CPU wheel for your platform and Python 3.11 and run\n"
        "  make TORCH_WHEEL=/path/to/torch-….whl test\n"
        "Nothing was installed from the default index: its Linux torch is a CUDA build of several GB.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
