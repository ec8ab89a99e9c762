"""The old import path of the seed sweep, kept for readers' notebooks (``from ctdepth_lib.sweep import load_results``).

The sweep lives in the book wing, :mod:`ctdepth_lib.book.sweep`; import it from there. This module
re-exports its public names and nothing else.
"""

from __future__ import annotations

from .book import sweep as _sweep
from .book.sweep import *  # noqa: F403 - exactly ctdepth_lib.book.sweep.__all__

__all__ = list(_sweep.__all__)
