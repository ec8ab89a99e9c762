"""The book's one plotting style: rcParams, a colour and a dash per method, log-axis helpers.

Rules every figure follows (CONTRIBUTING.md, "Figures"): one legend entry per kind of line
(label only the first sample), legends outside the data (:func:`legend_outside`), a colour
*and* a line style per method (:data:`COLORS`, :data:`DASHES`), exact zeros on a log axis drawn
on a marked floor (:func:`log_floor`) and explained in the caption, 150 dpi.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.legend import Legend

__all__ = [
    "COLORS",
    "DASHES",
    "NO_FIGURES_VAR",
    "figures_as_text",
    "legend_above",
    "legend_outside",
    "log_floor",
    "reference_slope",
    "use_style",
]

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
    "trace": "#d62728",  # the instantaneous change of variables (−E[Δ log P] along the flow)
    "knn": "#2ca02c",  # k-nearest-neighbour estimates (entropy, mutual information)
    "readout": "#ff7f0e",  # accuracy of a linear read-out of the state
}

#: One line style per method, so that methods of similar colour stay apart in grey scale too.
DASHES: dict[str, str] = {
    "ode": "-",
    "euler": "-",
    "resnet": "-",
    "backprop": "-",
    "midpoint": "--",
    "heun": "-.",
    "rk4": "-",
    "rk38": ":",
    "adjoint": "--",
    "odeint_adjoint": ":",
    "feedforward": "-",
    "reversed": "--",
    "lie_trotter": "-.",
    "strang": ":",
    "control": ":",
    "class0": "-",
    "class1": "--",
    "trace": "-",
    "knn": "--",
    "readout": "-",
}

_RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "font.size": 10,
    "lines.linewidth": 1.6,
}


#: Set to ``"1"`` in the kernels of the seed sweep (:func:`ctdepth_lib.book.sweep_task.kernel_env`):
#: a sweep run is read for its claims only, so its figures are not drawn.
NO_FIGURES_VAR = "CTDEPTH_NO_FIGURES"


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent); with ``CTDEPTH_NO_FIGURES=1``, also :func:`figures_as_text`."""
    mpl.rcParams.update(_RC)
    if os.environ.get(NO_FIGURES_VAR) == "1":
        figures_as_text()


def figures_as_text() -> None:
    """Turn off the running IPython's image formatters: a shown figure is then displayed as its text repr, never drawn.

    Drawing and encoding the figures took 5–10 % of a quick run of chapter 6 (measured); the seed sweep, which
    reads only the claims, skips it.  Outside IPython (a plain script) this does nothing.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    for mime, formatter in shell.display_formatter.formatters.items():
        if mime.startswith("image/") or mime == "application/pdf":
            formatter.enabled = False


def reference_slope(
    ax: Axes,
    hs: Sequence[float],
    errors: Sequence[float],
    order: float,
    *,
    label: str | None = None,
    ls: str = "--",
) -> None:
    """Draw a black ``C h^order`` line (line style ``ls``) through the geometric middle of ``(hs, errors)``.

    Give each of several reference slopes on one axes its own ``ls`` (``"--"``, ``"-."``, ``":"``).
    """
    h = np.asarray(hs, dtype=float)
    e = np.asarray(errors, dtype=float)
    mid = len(h) // 2
    c = e[mid] / h[mid] ** order
    ax.loglog(h, c * h**order, color="k", ls=ls, lw=1, alpha=0.6, label=label or f"slope {order:g}")


def legend_outside(ax: Axes, **kwargs: object) -> None:
    """Put ``ax``'s legend to the right of the axes, where it cannot cover data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kwargs)  # type: ignore[arg-type]


def legend_above(ax: Axes, **kwargs: object) -> Legend:
    """Put ``ax``'s legend in the strip above the axes (two-panel figures, where the right is taken)."""
    return ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), borderaxespad=0.0, **kwargs)  # type: ignore[arg-type]


def log_floor(ax: Axes, values: Sequence[float], *, floor: float | None = None, label: str = "exact 0") -> np.ndarray:
    """Values for a log-scale y axis, with exact zeros moved to a marked floor.

    ``values`` (shape (n,)) is returned as an array in which every entry ``== 0`` is replaced by
    ``floor`` (default: a decade below the smallest positive value, or 1e-17 if there is none);
    a dotted grey line at ``floor`` with the text ``label`` marks it. Say in the caption that
    points on the line are exact zeros. Negative values raise ``ValueError``.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"values must be one-dimensional; got shape {v.shape}")
    if np.any(v < 0) or np.any(~np.isfinite(v)):
        raise ValueError(
            "values must be finite and >= 0 to go on a log axis; got " + repr(v[(v < 0) | ~np.isfinite(v)][:3])
        )
    if floor is None:
        positive = v[v > 0]
        floor = float(positive.min()) / 10.0 if positive.size else 1e-17
    elif not floor > 0:
        raise ValueError(f"floor must be > 0; got {floor!r}")
    if np.any(v == 0):
        ax.axhline(floor, color="0.5", ls=":", lw=1.0)
        ax.annotate(
            label,
            (0.0, floor),
            xycoords=("axes fraction", "data"),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=8,
            color="0.35",
        )
    return np.where(v == 0, floor, v)
