"""The bench wing of ``ctdepth_lib``: benchmarks that print figures, not timed tests.

It depends on the science modules, never the reverse; chapter 5 calls the cost harness through
the top-level names (``cl.cost_table``, ``cl.start_measuring_process``).

* :mod:`.unroll` — ``bench_unroll``: ``resnet_unroll`` against torchdiffeq's Euler
  (``python -m ctdepth_lib bench``);
* :mod:`.cost` — peak memory and time of a gradient, backprop through the unroll against the
  adjoint, each configuration in its own forked process (``python -m ctdepth_lib cost``).

Importing this package loads nothing (no torch); a name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .unroll import bench_unroll

__all__ = ["bench_unroll"]

_LAZY = {"bench_unroll": "unroll"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in ("cost", "unroll"):  # the submodules, as attributes (``ctdepth_lib.bench.cost``)
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
