"""The book's one plotting style: rcParams, a colour per method, log–log helpers."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes

__all__ = ["COLORS", "reference_slope", "use_style"]

#: One colour per method, the same in every chapter.
COLORS: dict[str, str] = {
    "ode": "#222222",  # the exact / reference solution
    "euler": "#1f77b4",  # ResNet = explicit Euler
    "resnet": "#1f77b4",
    "backprop": "#1f77b4",
    "midpoint": "#ff7f0e",
    "heun": "#bcbd22",
    "rk4": "#2ca02c",
    "rk38": "#17becf",
    "adjoint": "#d62728",
    "odeint_adjoint": "#9467bd",
    "feedforward": "#8c564b",
    "reversed": "#c49c94",  # feedforward layer in the other order, W σ_h(x) + b
    "lie_trotter": "#98df8a",  # Lie–Trotter splitting with exact subflows
    "strang": "#e377c2",
    "control": "#7f7f7f",  # a control that must fail (broken symmetry, …)
    "class0": "#4c72b0",  # data points of class 0
    "class1": "#dd8452",  # data points of class 1
}

_RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "font.size": 10,
    "lines.linewidth": 1.6,
}


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent)."""
    mpl.rcParams.update(_RC)


def reference_slope(
    ax: Axes, hs: Sequence[float], errors: Sequence[float], order: float, *, label: str | None = None
) -> None:
    """Draw a dashed ``C h^order`` line through the geometric middle of ``(hs, errors)``."""
    h = np.asarray(hs, dtype=float)
    e = np.asarray(errors, dtype=float)
    mid = len(h) // 2
    c = e[mid] / h[mid] ** order
    ax.loglog(h, c * h**order, "k--", lw=1, alpha=0.6, label=label or f"slope {order:g}")
