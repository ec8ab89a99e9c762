"""convergence_order: exact slopes of power laws, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ctdepth_lib as cl


@given(p=st.floats(0.25, 6.0), c=st.floats(1e-6, 1e3))
def test_recovers_power_law(p: float, c: float) -> None:
    h = np.array([0.1, 0.05, 0.025, 0.0125])
    assert cl.convergence_order(h, c * h**p) == pytest.approx(p, rel=1e-9)


def test_least_squares_slope_matches_numpy() -> None:
    h = np.array([1.0, 0.5, 0.25, 0.125])
    e = np.array([1.0, 0.6, 0.2, 0.11])
    x, y = np.log(h), np.log(e)
    expected = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert cl.convergence_order(h, e) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("hs", "errors", "match"),
    [
        ([0.1], [0.2], "hs must hold at least 2"),
        ([0.1, 0.2], [0.1], "equal lengths"),
        ([0.1, -0.2], [0.1, 0.2], "hs must be finite and > 0"),
        ([0.1, 0.2], [0.0, 0.2], "errors must be finite and > 0"),
        ([0.1, 0.2], [np.nan, 0.2], "errors must be finite and > 0"),
        ([0.1, 0.1], [0.1, 0.2], "two distinct"),
    ],
)
def test_convergence_order_rejects(hs: list, errors: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cl.convergence_order(hs, errors)
