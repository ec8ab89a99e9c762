"""``make book``'s check before it renders: every chapter that changed runs here, and its claims hold.

The book renders the committed notebooks — the outputs ``make test`` re-executes and compares, on
three numerics paths, with the rules of :mod:`ctdepth_lib.outputs` — so the web pages and the PDF
show one set of numbers. ``make book`` does not render fresh numbers; before rendering,
``python -m ctdepth_lib verify`` runs every chapter whose inputs changed since it last passed on
this machine (the notebook, the library, its registries, the installed torch/NumPy and the numerics
variables of :mod:`.audit`) with its **quick parameters** (papermill, into ``OUT/``, never in
place), ``jobs`` at a time. Every claim of a run is checked against its threshold; a claim that
misses it stops the run, and the check fails naming the claim, its value and the cell. A chapter
that passed is stamped (``OUT/<chapter>.verified.json``: its fingerprint, the time, the seconds,
the ATen capability), so a second ``make book`` with nothing changed runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from .audit import PATH_VARIABLES
from .digests import library_digest

__all__ = ["fingerprint", "stale_chapters", "verify"]


def fingerprint(nb: Path) -> str:
    """SHA-256 of what a chapter's run depends on: the notebook, the library, versions, numerics."""
    h = hashlib.sha256(Path(nb).read_bytes())
    h.update(library_digest().encode())
    for pkg in ("torch", "torchdiffeq", "numpy", "scipy", "scikit-learn", "papermill"):
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


def _run(nb: Path, out: Path) -> tuple[Path, float, str]:
    """Run one chapter with its quick parameters; return ``(nb, seconds, error)`` (``""`` when it passed)."""
    import papermill as pm

    from .notebooks import quick_parameters, run_chapter

    start = time.monotonic()
    try:
        run_chapter(nb, out / nb.name, quick_parameters(nb))
    except pm.PapermillExecutionError as exc:
        cell = exc.exec_count if exc.exec_count is not None else exc.cell_index
        return nb, time.monotonic() - start, f"{exc.ename} in cell {cell}: {exc.evalue}"
    return nb, time.monotonic() - start, ""


def verify(chapters: Sequence[Path], out: Path, *, jobs: int = 2) -> int:
    """Run the stale chapters with their quick parameters, ``jobs`` at a time; stamp those whose claims hold.

    Returns 0 when every stale chapter ran and every claim held, 1 otherwise (each failure printed).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    # absolute paths: papermill runs each chapter from its own folder (a process-wide chdir), and the
    # runs share the process, so a relative path would resolve against another run's folder
    out = Path(out).resolve()
    stale = stale_chapters([Path(nb).resolve() for nb in chapters], out)
    if not stale:
        print(f"verify: all {len(chapters)} chapters unchanged since they last ran here with every claim holding")
        return 0
    print(f"verify: running {len(stale)} chapter(s) with their quick parameters: {', '.join(nb.stem for nb in stale)}")
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    import torch

    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each kernel is its own process
        for nb, seconds, error in pool.map(lambda nb: _run(nb, out), stale):
            if error:
                failed += 1
                print(f"verify: {nb.stem} FAILED after {seconds:.0f} s — {error}")
                continue
            print(f"verify: {nb.stem} ran in {seconds:.0f} s, every claim held")
            record = {"fingerprint": fingerprint(nb), "seconds": round(seconds, 1), "time": time.strftime("%Y-%m-%d %H:%M"),
                      "aten": torch.backends.cpu.get_cpu_capability()}  # fmt: skip
            _stamp(out, nb).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 1 if failed else 0
