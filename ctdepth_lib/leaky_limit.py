"""The independent NumPy/SciPy reference for the leaky-ReLU limit (claim F2): the ODE solved piece by piece.

A near-identity network with the weak leaky ReLU ``g(z) = α relu(−z)`` converges to
``dx/dt = A x + c + α relu(−x)`` (:func:`ctdepth_lib.feedforward_unroll`).  With constant
``A`` and ``c`` that equation is piecewise *affine* — in each orthant ``dx/dt = M x + c`` with
``M = A − α D₋`` — so it has a closed-form solution between orthant changes.
:func:`leaky_limit_closed_form` computes it with NumPy and SciPy only (matrix exponentials and
Brent's root finder), sharing no code with the torch networks it checks.

Reference: Moler & Van Loan, *Nineteen dubious ways to compute the exponential of a matrix,
twenty-five years later*, SIAM Review 45 (2003) — the augmented-matrix form of ``φ₁``;
Brent, *Algorithms for Minimization without Derivatives* (1973), ch. 4.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import torch

from ._validate import as_numpy, check_int, check_real

__all__ = ["leaky_limit_closed_form"]


def _array(value: Any) -> np.ndarray:
    """``value`` (a NumPy array, a list or a torch tensor) as a float64 NumPy array."""
    return np.asarray(as_numpy(value), dtype=np.float64)


def _piece_map(m: np.ndarray, cv: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """The exact time-``s`` map of ``dx/dt = m x + cv``: ``x ↦ E x + v`` from ``expm(s [[m, cv], [0, 0]])``."""
    d = m.shape[0]
    aug = np.zeros((d + 1, d + 1))
    aug[:d, :d] = m
    aug[:d, d] = cv
    e = scipy.linalg.expm(s * aug)
    return e[:d, :d], e[:d, d]


def _piece(m: np.ndarray, cv: np.ndarray, y: np.ndarray, s: float) -> np.ndarray:
    """``y`` moved for time ``s`` along ``dx/dt = m x + cv``."""
    e, v = _piece_map(m, cv, s)
    return e @ y + v


def leaky_limit_closed_form(
    A: np.ndarray | torch.Tensor,
    c: np.ndarray | torch.Tensor | None,
    alpha: float,
    x0: np.ndarray | torch.Tensor,
    ts: np.ndarray | torch.Tensor,
    *,
    scan: int = 2000,
) -> tuple[np.ndarray, list[tuple[float, int]]]:
    """The limit ``dx/dt = A x + c + α relu(−x)`` (constant ``A``, ``c``) solved piece by piece in closed form.

    In each orthant the field is affine, ``dx/dt = M x + c`` with
    ``M = A − α D₋`` (``D₋`` the 0/1 diagonal of negative coordinates, since
    ``α relu(−x_i) = −α x_i`` for ``x_i < 0``), so
    ``x(τ + s) = e^{sM} x(τ) + φ₁(sM) s c`` — one matrix exponential of
    ``[[M, c], [0, 0]]``.  A coordinate's zero crossing is located by scanning
    the piece on ``scan`` exact sub-steps and refining with Brent's method; the field is
    continuous across ``x_i = 0``, so the new orthant is given by the sign of
    ``(M x + c)_i`` there.  NumPy/SciPy only (an independent reference for the
    torch code).

    Args:
        A: ``(d, d)``; c: ``(d,)`` or ``None``; alpha: ``α`` (a finite real number).
        x0: ``(d,)`` (one trajectory); ts: increasing output times, ``ts[0]`` the start.
        scan: sampling points per remaining interval used to bracket crossings (≥ 1).

    Returns:
        ``(xs, crossings)``: ``xs`` of shape ``(len(ts), d)``, and the list of
        ``(time, coordinate)`` of every orthant change.
    """
    check_real("alpha", alpha)
    check_int("scan", scan, 1)
    a = _array(A)
    d = a.shape[0]
    if a.shape != (d, d):
        raise ValueError(f"A must be a square (d, d) array; got shape {a.shape}")
    cv = np.zeros(d) if c is None else _array(c)
    if cv.shape != (d,):
        raise ValueError(f"c must have shape ({d},); got {cv.shape}")
    x = _array(x0).copy()
    if x.shape != (d,):
        raise ValueError(f"x0 must have shape ({d},) (one trajectory); got {x.shape}")
    times = _array(ts)
    if times.ndim != 1 or times.size < 2 or not np.all(np.diff(times) > 0):
        raise ValueError("ts must be a strictly increasing 1-D grid of at least 2 times")
    neg = x < 0
    # a coordinate starting on zero goes where the field sends it
    v0 = a @ x + cv + alpha * np.maximum(-x, 0)
    neg = np.where(x == 0, v0 < 0, neg)

    out = np.empty((times.size, d))
    out[0] = x
    crossings: list[tuple[float, int]] = []
    tau, k = times[0], 1
    t_end = times[-1]
    while k < times.size:
        m = a - alpha * np.diag(neg.astype(float))
        ds = (t_end - tau) / scan
        step = _piece_map(m, cv, ds)
        signs_ok = np.where(neg, -1.0, 1.0)
        first_s, first_i = None, None
        y = x
        for j in range(scan):
            y_next = step[0] @ y + step[1]
            bad = np.nonzero(signs_ok * y_next < 0)[0]
            if bad.size:
                roots = [
                    (
                        scipy.optimize.brentq(
                            lambda u, i=i, m=m, y0=x: _piece(m, cv, y0, u)[i], j * ds, (j + 1) * ds, xtol=1e-15
                        ),
                        int(i),
                    )
                    for i in bad
                ]
                first_s, first_i = min(roots)
                break
            y = y_next
        t_next = t_end if first_s is None else tau + first_s
        while k < times.size and times[k] <= t_next:
            out[k] = _piece(m, cv, x, times[k] - tau)
            k += 1
        if first_s is None:
            break
        x = _piece(m, cv, x, first_s)
        x[first_i] = 0.0
        vel = m @ x + cv
        neg[first_i] = vel[first_i] < 0
        crossings.append((float(t_next), first_i))
        tau = t_next
    return out, crossings
