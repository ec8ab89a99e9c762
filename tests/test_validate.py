"""Tests of ctdepth_lib._validate: each check accepts good values and names the argument in its error."""

from __future__ import annotations

import math

import pytest
import torch

from ctdepth_lib import _validate as v

DT = torch.float64


def test_check_real_bounds_and_messages() -> None:
    assert v.check_real("a", 2) == 2.0
    assert v.check_real("a", 0.0, low=0.0) == 0.0
    with pytest.raises(ValueError, match=r"^a must be a finite number > 0; got 0.0$"):
        v.check_real("a", 0.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match=r"^a must be a finite number in \(0, 1\); got 1$"):
        v.check_real("a", 1, low=0.0, high=1.0, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"^a must be a finite number <= -1; got 0$"):
        v.check_real("a", 0, high=-1.0)
    with pytest.raises(ValueError, match=r"^a must be a finite number \(not NaN or inf\); got nan$"):
        v.check_real("a", math.nan)
    for bad in (True, "1", None, torch.tensor(1.0)):
        with pytest.raises(TypeError, match=r"^a must be a real number"):
            v.check_real("a", bad)


def test_check_int_range_choice_bool_dtype() -> None:
    assert v.check_int_range("k", 3, 0, 3) == 3
    for bad in (4, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"^k must be an integer in \[0, 3\]; got "):
            v.check_int_range("k", bad, 0, 3)
    assert v.check_choice("method", "rk4", ("euler", "rk4")) == "rk4"
    with pytest.raises(ValueError, match=r"^method must be one of \['euler', 'rk4'\]; got 'rk5'$"):
        v.check_choice("method", "rk5", ("euler", "rk4"))
    with pytest.raises(TypeError, match=r"^flag must be a bool; got 1$"):
        v.check_bool("flag", 1)
    assert v.check_float_dtype("dtype", torch.float32) is torch.float32
    with pytest.raises(TypeError, match=r"^dtype must be a floating torch.dtype; got torch.int64$"):
        v.check_float_dtype("dtype", torch.int64)


def test_check_module_and_loss_value() -> None:
    lin = torch.nn.Linear(2, 2)
    assert v.check_module("f", lin) is lin
    with pytest.raises(TypeError, match=r"^f must be a torch.nn.Module"):
        v.check_module("f", lambda t, x: x)
    with pytest.raises(ValueError, match=r"^f must have at least one parameter"):
        v.check_module("f", torch.nn.Tanh())
    assert v.check_module("f", torch.nn.Tanh(), with_parameters=False) is not None
    out = v.check_loss_value(torch.ones(1, 1, dtype=DT))
    assert out.shape == ()
    with pytest.raises(ValueError, match="must return a scalar"):
        v.check_loss_value(torch.ones(2, dtype=DT))
    with pytest.raises(TypeError, match="floating-point"):
        v.check_loss_value(torch.ones((), dtype=torch.int64))
    with pytest.raises(TypeError, match=r"torch.Tensor"):
        v.check_loss_value(1.0)


def test_check_momentum_square_trajectory() -> None:
    x = torch.zeros(4, 2, dtype=DT)
    with pytest.raises(ValueError, match=r"^p must have the shape of x \(4, 2\)"):
        v.check_momentum("p", torch.zeros(4, 3, dtype=DT), x)
    with pytest.raises(TypeError, match=r"^p must have the dtype of x"):
        v.check_momentum("p", torch.zeros(4, 2, dtype=torch.float32), x)
    with pytest.raises(ValueError, match=r"^M must be a square matrix"):
        v.check_square("M", torch.zeros(2, 3, dtype=DT))
    with pytest.raises(ValueError, match=r"^M must be a phase-space matrix of even size"):
        v.check_square("M", torch.zeros(3, 3, dtype=DT), even=True)
    ts = torch.linspace(0, 1, 4, dtype=DT)
    v.check_trajectory(ts, x, x)
    with pytest.raises(ValueError, match=r"^ts must be 1-D with one time per row of xs"):
        v.check_trajectory(ts[:3], x, x)


def test_check_first_output_checks_only_the_first_call() -> None:
    x = torch.zeros(3, 2, dtype=DT)
    calls = []

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls.append(y.shape)
        return y if len(calls) == 1 else y[..., :1]  # only the first output is checked

    checked = v.check_first_output("f", f, x)
    assert checked(torch.tensor(0.0), x) is x
    assert checked(torch.tensor(0.0), x).shape == (3, 1)
    assert len(calls) == 2  # no extra (probe) evaluation
    bad = v.check_first_output("f", lambda t, y: y[..., :1], x)
    with pytest.raises(ValueError, match=r"^f\(t, x\) must return the shape of x \(3, 2\); got shape \(3, 1\)$"):
        bad(torch.tensor(0.0), x)
    as_float = v.check_first_output("f", lambda t, y: y.float(), x)
    with pytest.raises(TypeError, match="dtype of x"):
        as_float(torch.tensor(0.0), x)


def test_check_first_output_module_keeps_the_parameters() -> None:
    lin = torch.nn.Linear(2, 2, dtype=DT)
    wrapped = v.check_first_output("f", lambda_module(lin), torch.zeros(2, dtype=DT), module=True)
    assert isinstance(wrapped, torch.nn.Module)
    assert {id(p) for p in wrapped.parameters()} == {id(p) for p in lin.parameters()}


def lambda_module(lin: torch.nn.Linear) -> torch.nn.Module:
    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = lin

        def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    return Field()
