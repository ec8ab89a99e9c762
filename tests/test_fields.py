"""TimeMLP: the formula, batching, seeding and validation; runtime.setup."""

from __future__ import annotations

import pytest
import torch

import ctdepth_lib as cl


def test_formula_and_batching() -> None:
    f = cl.TimeMLP(3, 5, seed=7)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    t = torch.tensor(0.3)
    expected = torch.tanh(x @ f.w1.T + t * f.u + f.b1) @ f.w2.T + f.b2
    torch.testing.assert_close(f(t, x), expected, rtol=0, atol=0)
    torch.testing.assert_close(f(t, x[1]), expected[1], rtol=1e-15, atol=1e-15)


def test_seed_fixes_weights_and_leaves_global_rng() -> None:
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    f1, f2 = cl.TimeMLP(2, seed=1), cl.TimeMLP(2, seed=1)
    assert torch.equal(torch.rand(1), a)
    assert all(torch.equal(p, q) for p, q in zip(f1.parameters(), f2.parameters()))
    assert not torch.equal(cl.TimeMLP(2, seed=2).w1, f1.w1)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"d": 0}, ValueError, "d must be an integer >= 1"),
        ({"width": 2.5}, ValueError, "width must be an integer >= 1"),
        ({"scale": 0}, ValueError, "scale must be a number > 0"),
        ({"dtype": torch.int64}, TypeError, "dtype must be a floating"),
    ],
)
def test_bad_input(kwargs: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        cl.TimeMLP(**({"d": 2} | kwargs))


def test_setup() -> None:
    gen = cl.setup(5)
    assert torch.get_default_dtype() == torch.float64
    assert torch.get_num_threads() == 1
    assert torch.equal(torch.rand(2, generator=gen), torch.rand(2, generator=torch.Generator().manual_seed(5)))
    with pytest.raises(ValueError, match="seed must be an integer"):
        cl.setup(-1)
    with pytest.raises(ValueError, match="threads must be an integer"):
        cl.setup(0, threads=0)
