"""``make book``'s check of the numbers it renders: each chapter, executed afresh, reproduces its committed outputs.

The book renders the committed notebooks (the outputs nbval has checked), so the web pages and the
PDF show one set of numbers. Before rendering, ``python -m ctdepth_lib verify`` executes every
chapter whose inputs changed since it last passed here — the notebook, the science modules, the
claims registry, the installed torch/NumPy and the numerics variables of :mod:`.audit` — with
nbval and the rules of :mod:`ctdepth_lib.outputs` (:mod:`.nbval_plugin`), exactly as the native
pass of ``make test`` does. A fresh value outside its tolerance fails the check and nbval names the
cell and the value; the fresh claim records land in ``OUT/<chapter>.claims.json`` for the ledger.
A chapter that passed is stamped (``OUT/<chapter>.verified.json``: its fingerprint, the time it
took, the ATen capability it ran on), so a second ``make book`` with nothing changed executes
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from .audit import PATH_VARIABLES
from .digests import library_digest

__all__ = ["fingerprint", "stale_chapters", "verify"]


def fingerprint(nb: Path) -> str:
    """SHA-256 of what a chapter's fresh outputs depend on: the notebook, the library, versions, numerics."""
    h = hashlib.sha256(Path(nb).read_bytes())
    h.update(library_digest().encode())
    for pkg in ("torch", "torchdiffeq", "numpy", "scipy", "scikit-learn", "nbval"):
        h.update(f"{pkg}={metadata.version(pkg)};".encode())
    h.update(json.dumps({k: os.environ.get(k) for k in PATH_VARIABLES}, sort_keys=True).encode())
    return h.hexdigest()


def _stamp(out: Path, nb: Path) -> Path:
    return out / f"{nb.stem}.verified.json"


def stale_chapters(chapters: Sequence[Path], out: Path) -> list[Path]:
    """The chapters without a stamp in ``out`` for their current :func:`fingerprint`."""
    stale = []
    for nb in chapters:
        stamp = _stamp(out, nb)
        old = json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") if stamp.is_file() else None
        if old != fingerprint(nb):
            stale.append(nb)
    return stale


def verify(chapters: Sequence[Path], out: Path, *, jobs: int = 2) -> int:
    """Execute the stale chapters with nbval (``jobs`` at a time) and stamp those that reproduce.

    Returns pytest's exit code (0 when every stale chapter reproduced its committed outputs).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    out = Path(out)
    stale = stale_chapters(chapters, out)
    if not stale:
        print(f"verify: all {len(chapters)} chapters unchanged since they last reproduced their committed outputs")
        return 0
    names = ", ".join(nb.stem for nb in stale)
    print(f"verify: executing {len(stale)} chapter(s) afresh and comparing with the committed outputs: {names}")
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "ctdepth_lib.book.nbval_plugin",
           "--nbval", "--ctdepth-fresh", str(out), *(["-n", str(min(jobs, len(stale))), "--dist", "loadfile"]
           if jobs > 1 and len(stale) > 1 else []), *map(str, stale)]  # fmt: skip
    start = time.monotonic()
    code = subprocess.call(cmd)
    if code != 0:
        print("verify: a fresh execution did not reproduce the committed outputs (above: the cell and the value)")
        return code
    import torch

    seconds = time.monotonic() - start
    for nb in stale:
        record = {"fingerprint": fingerprint(nb), "seconds_all": round(seconds, 1), "time": time.strftime("%Y-%m-%d %H:%M"),
                  "aten": torch.backends.cpu.get_cpu_capability()}  # fmt: skip
        _stamp(out, nb).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0
