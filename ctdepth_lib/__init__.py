"""ctdepth_lib — the helper library of the ctdepth book.

Deep networks as differential equations (Ruseckas, arXiv:1909.03767): the
ResNet/feedforward unrolls, momenta, Hamiltonians, invariants and convergence
fits that the chapters show, each tested against an independent reference.

The public names are listed once, in ``__init__.pyi`` (read by type checkers and, here, by
``lazy_loader``): ``import ctdepth_lib`` loads nothing heavy, and ``cl.resnet_unroll`` imports its
module (and torch) on first use. A submodule not re-exported by name (``cl.momenta``,
``cl.jacobians``, …) loads on first use too.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import lazy_loader

__version__ = "0.1.0"

_stub_getattr, _stub_dir, __all__ = lazy_loader.attach_stub(__name__, __file__)


def __getattr__(name: str) -> Any:
    try:
        return _stub_getattr(name)
    except AttributeError:
        if name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module 'ctdepth_lib' has no attribute {name!r}") from None
    value = importlib.import_module(f".{name}", __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
