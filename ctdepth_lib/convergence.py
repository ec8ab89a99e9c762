"""Empirical order of convergence: the least-squares slope of log error against log h."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["convergence_order"]


def convergence_order(hs: Sequence[float] | np.ndarray, errors: Sequence[float] | np.ndarray) -> float:
    """Least-squares slope ``p`` of ``log(error) = p·log(h) + c``.

    A method of order ``p`` has global error ``C h^p + o(h^p)``, so the fitted
    slope over a range where the leading term dominates estimates ``p``.

    Args:
        hs: step sizes, at least 2, all finite and > 0.
        errors: errors of the same length, all finite and > 0.

    Returns:
        The fitted slope as a Python float.
    """
    h = np.asarray(hs, dtype=np.float64).ravel()
    e = np.asarray(errors, dtype=np.float64).ravel()
    if h.size != e.size:
        raise ValueError(f"hs and errors must have equal lengths; got {h.size} and {e.size}")
    if h.size < 2:
        raise ValueError(f"hs must hold at least 2 step sizes; got {h.size}")
    for name, arr in (("hs", h), ("errors", e)):
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"{name} must be finite and > 0 (log–log fit); got {arr.tolist()}")
    lh = np.log(h)
    if np.ptp(lh) == 0:
        raise ValueError(f"hs must hold at least two distinct step sizes; got {h.tolist()}")
    slope = np.polyfit(lh, np.log(e), 1)[0]
    return float(slope) if math.isfinite(slope) else float("nan")
