"""Tests of ctdepth_lib.leaky_limit (the NumPy closed form of the leaky-ReLU limit) against expm and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.integrate import solve_ivp

import ctdepth_lib as cl


def test_closed_form_one_orthant_is_matrix_exponential():
    A = np.array([[-0.5, 0.2], [0.1, -0.3]])
    c = np.array([1.0, 2.0])
    x0 = np.array([1.0, 1.0])  # stays in the positive orthant
    ts = np.linspace(0.0, 2.0, 5)
    xs, crossings = cl.leaky_limit_closed_form(A, c, 1.0, x0, ts)
    assert crossings == []
    for t, x in zip(ts, xs, strict=True):
        expected = scipy.linalg.expm(t * A) @ (x0 + np.linalg.solve(A, c)) - np.linalg.solve(A, c)
        assert np.allclose(x, expected, rtol=1e-12, atol=1e-13)


def test_closed_form_across_orthants_matches_scipy():
    A = np.array([[-0.3, -2.0], [2.0, -0.2]])
    c = np.array([0.3, -0.2])
    alpha, x0 = 1.5, np.array([1.0, 0.5])
    ts = np.linspace(0.0, 4.0, 81)
    xs, crossings = cl.leaky_limit_closed_form(A, c, alpha, x0, ts)
    assert len(crossings) >= 3
    sol = solve_ivp(
        lambda t, x: A @ x + c + alpha * np.maximum(-x, 0),
        (0.0, 4.0),
        x0,
        t_eval=ts,
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
    )
    assert np.abs(sol.y.T - xs).max() <= 1e-8


def test_closed_form_accepts_tensors_and_starts_on_a_face():
    """Torch inputs give the NumPy result; a coordinate starting at 0 goes where the field sends it."""
    A = np.array([[-0.3, -2.0], [2.0, -0.2]])
    ts = np.linspace(0.0, 3.0, 31)
    x0 = np.array([0.0, -0.5])  # (A x0)_0 = 1 > 0: x_0 enters the positive side
    xs_np, cross_np = cl.leaky_limit_closed_form(A, None, 0.7, x0, ts, scan=500)
    xs_t, cross_t = cl.leaky_limit_closed_form(
        torch.from_numpy(A), None, 0.7, torch.from_numpy(x0), torch.from_numpy(ts), scan=500
    )
    assert np.array_equal(xs_np, xs_t) and cross_np == cross_t
    sol = solve_ivp(
        lambda t, x: A @ x + 0.7 * np.maximum(-x, 0), (0.0, 3.0), x0, t_eval=ts, method="DOP853", rtol=1e-13, atol=1e-13
    )
    assert np.abs(sol.y.T - xs_np).max() <= 1e-8


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"A": np.ones((2, 3))}, ValueError, r"^A must be a square"),
        ({"c": np.ones(3)}, ValueError, r"^c must have shape"),
        ({"x0": np.ones((2, 2))}, ValueError, r"^x0 must have shape"),
        ({"ts": np.array([0.0, 0.0])}, ValueError, r"^ts must be a strictly increasing"),
        ({"alpha": float("inf")}, ValueError, r"^alpha must be a finite number"),
        ({"alpha": "1"}, TypeError, r"^alpha must be a real number"),
        ({"scan": 0}, ValueError, r"^scan must be an integer >= 1"),
        ({"scan": 10.0}, TypeError, r"^scan must be an integer"),
    ],
)
def test_leaky_limit_closed_form_rejects(bad: dict, error: type, match: str) -> None:
    args = {"A": np.eye(2), "c": None, "alpha": 1.0, "x0": np.ones(2), "ts": np.linspace(0, 1, 3)}
    with pytest.raises(error, match=match):
        cl.leaky_limit_closed_form(**(args | bad))
