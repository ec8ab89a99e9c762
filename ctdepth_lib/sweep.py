"""The old import path of the seed sweep, deprecated: import from :mod:`ctdepth_lib.book.sweep`.

Kept for readers' notebooks (``from ctdepth_lib.sweep import load_results``): every public name of
:mod:`ctdepth_lib.book.sweep` is still found here, and each use raises a ``DeprecationWarning``
that names the new path (attributed to the line that uses it, so a notebook shows it).
"""

from __future__ import annotations

import warnings
from typing import Any

from .book import sweep as _new

__all__ = list(_new.__all__)


def __getattr__(name: str) -> Any:
    if name in __all__:
        warnings.warn(
            f"ctdepth_lib.sweep is deprecated: import {name} from ctdepth_lib.book.sweep",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_new, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
