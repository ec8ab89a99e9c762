"""Digests of ``ctdepth_lib``'s files: which runs compare, and whether a worker has the client's library.

Two digests, both SHA-256 over relative POSIX paths, sizes and file bytes in sorted path order:

* :func:`science_digest` — the modules a chapter's claims depend on: every ``*.py`` under
  ``ctdepth_lib/`` (recursively; the ``bench/`` wing too, since claim T-memory measures with
  ``cost_table``), except everything under ``ctdepth_lib/book/`` (the book's machinery) and
  :data:`NOT_SCIENCE`. It enters every run's code version
  (:func:`ctdepth_lib.book.sweep_plan.code_version`), so changing one of these files makes the
  committed sweep stale.
* :func:`library_digest` — what a sweep's worker must share with its client (and what a verified
  chapter was checked against, :mod:`.verify`): the science modules, the plotting style and the
  claims registry.

Standard library only, and it finds the package without importing it: a sweep ships this module
to its workers by value with the task (:mod:`.sweep_task`), so a worker checks its own
``ctdepth_lib`` without importing it (nor torch).
"""

from __future__ import annotations

import hashlib
import importlib.util
import socket
from pathlib import Path

__all__ = ["NOT_SCIENCE", "library_digest", "package_dir", "science_digest", "science_files"]

#: Modules outside ``book/`` that no claim depends on: the command line and the plotting style.
NOT_SCIENCE = ("__main__.py", "plotting.py", "sweep.py")  # sweep.py: the deprecated path of book.sweep


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
