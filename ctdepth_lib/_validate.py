"""Argument validation shared by the public functions (internal).

Every public function checks its inputs once, at the boundary, and raises a
``ValueError`` or ``TypeError`` whose message names the argument, what was
expected and what was given.  Internals trust their callers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from ._typing import Field


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype}, device={value.device})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_callable(name: str, value: Any, call: str | None = None) -> None:
    """Raise ``TypeError`` unless ``value`` is callable; the message shows the call (default ``name(t, x)``)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable as {call or name + '(t, x)'}; got {_describe(value)}")


def check_tensor(name: str, value: Any) -> torch.Tensor:
    """Raise ``TypeError`` unless ``value`` is a ``torch.Tensor``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    return value


def check_float_tensor(name: str, value: Any) -> torch.Tensor:
    """A floating-point tensor with finite entries."""
    check_tensor(name, value)
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype (float32/float64); got dtype {value.dtype}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values; got non-finite entries in {_describe(value)}")
    return value


def check_state(name: str, x: Any) -> torch.Tensor:
    """A hidden state: finite float tensor of shape ``(d,)`` or ``(batch, d)``."""
    check_float_tensor(name, x)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (d,) or (batch, d) with d >= 1; got shape {tuple(x.shape)}")
    return x


def check_time_grid(name: str, ts: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """A strictly monotone 1-D grid of at least two finite times.

    When ``like`` is given the grid must share its dtype and device.
    """
    check_tensor(name, ts)
    if ts.ndim != 1:
        raise ValueError(f"{name} must be 1-D (a grid of times); got shape {tuple(ts.shape)}")
    if ts.numel() < 2:
        raise ValueError(f"{name} must hold at least 2 time points; got {ts.numel()}")
    if not ts.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype; got {ts.dtype}")
    if not bool(torch.isfinite(ts).all()):
        raise ValueError(f"{name} must contain only finite times; got {_describe(ts)}")
    diffs = ts[1:] - ts[:-1]
    if not (bool((diffs > 0).all()) or bool((diffs < 0).all())):
        raise ValueError(f"{name} must be strictly increasing or strictly decreasing; got {_describe(ts)}")
    if like is not None:
        if ts.dtype != like.dtype:
            raise TypeError(f"{name} must have the dtype of x0 ({like.dtype}); got {ts.dtype}")
        if ts.device != like.device:
            raise ValueError(f"{name} must be on the device of x0 ({like.device}); got {ts.device}")
    return ts


def check_field_output(name: str, out: Any, x: torch.Tensor) -> None:
    """The vector field must return a tensor of the state's shape."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name}(t, x) must return a torch.Tensor; got {type(out).__name__}")
    if out.shape != x.shape:
        raise ValueError(f"{name}(t, x) must return the shape of x {tuple(x.shape)}; got shape {tuple(out.shape)}")
    if out.dtype != x.dtype:
        raise TypeError(f"{name}(t, x) must return the dtype of x ({x.dtype}); got {out.dtype}")


def check_int(name: str, value: Any, low: int) -> int:
    """An integer (not a bool) ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return value


def check_positive(name: str, value: Any) -> float:
    """A finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive real number; got {_describe(value)}")
    if not (value > 0) or value != value or value == float("inf"):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """Raise ``TypeError`` unless ``value`` is a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool; got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """A string among ``choices`` (the message lists them)."""
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_int_range(name: str, value: Any, low: int, high: int) -> int:
    """An integer (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (not a bool), optionally bounded: ``low ≤ value ≤ high``.

    ``low_open``/``high_open`` make a bound strict.  The message states the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    v = float(value)
    ok = math.isfinite(v)
    if low is not None:
        ok = ok and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        if low is not None and high is not None:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"{'<' if high_open else '<='} {high:g}"
        else:
            where = "(not NaN or inf)"
        raise ValueError(f"{name} must be a finite number {where}; got {value!r}")
    return v


def check_float_dtype(name: str, value: Any) -> torch.dtype:
    """A floating-point ``torch.dtype``."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype; got {value!r}")
    return value


def check_module(name: str, value: Any, *, with_parameters: bool = True) -> torch.nn.Module:
    """A ``torch.nn.Module`` (by default one with at least one parameter, its θ)."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (its parameters are θ); got {type(value).__name__}")
    if with_parameters and next(value.parameters(), None) is None:
        raise ValueError(f"{name} must have at least one parameter; got a module without parameters")
    return value


def check_loss_value(value: Any) -> torch.Tensor:
    """What ``loss(x_N)`` returned must be a floating-point scalar tensor."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"loss(x_N) must return a torch.Tensor (a scalar); got {type(value).__name__}")
    if value.numel() != 1:
        raise ValueError(f"loss(x_N) must return a scalar (use the sum over a batch); got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        raise TypeError(f"loss(x_N) must return a floating-point scalar; got dtype {value.dtype}")
    return value.reshape(())


def check_momentum(name: str, p: Any, x: torch.Tensor) -> torch.Tensor:
    """A momentum: a finite float tensor of ``x``'s shape and dtype."""
    check_float_tensor(name, p)
    if p.shape != x.shape:
        raise ValueError(f"{name} must have the shape of x {tuple(x.shape)}; got shape {tuple(p.shape)}")
    if p.dtype != x.dtype:
        raise TypeError(f"{name} must have the dtype of x ({x.dtype}); got {p.dtype}")
    return p


def _first_call_checked(name: str, f: Field, x: torch.Tensor) -> Field:
    pending = True

    def checked(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal pending
        out = f(t, y)
        if pending:
            check_field_output(name, out, x)
            pending = False
        return out

    return checked


class _FirstCallCheckedModule(torch.nn.Module):
    """The checked ``f`` as an ``nn.Module`` that holds ``f`` (``odeint_adjoint`` needs its parameters)."""

    def __init__(self, name: str, f: Field, x: torch.Tensor) -> None:
        super().__init__()
        self.f = f  # an nn.Module f becomes a submodule, so its parameters are this module's
        self._checked = _first_call_checked(name, f, x)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self._checked(t, x)


def check_first_output(name: str, f: Field, x: torch.Tensor, *, module: bool = False) -> Field:
    """``f`` wrapped so that its *first real* evaluation must return a tensor of ``x``'s shape and dtype.

    Use it at a public boundary instead of a probe call ``f(t0, x0)``: no extra
    evaluation is made, and later calls pass straight through.  Under ``vmap``
    pass the shape one mapped call sees (e.g. ``x0[0]``).  ``module=True``
    returns an ``nn.Module`` holding ``f`` (and so its parameters), as
    ``torchdiffeq.odeint_adjoint`` requires.
    """
    if module:
        return _FirstCallCheckedModule(name, f, x)
    return _first_call_checked(name, f, x)


def check_trajectory(ts: Any, xs: Any, ps: Any) -> None:
    """A sampled trajectory: ``ts: (M,)``, ``xs, ps: (M, d)`` or ``(M, batch, d)``, one dtype."""
    check_float_tensor("xs", xs)
    if xs.ndim not in (2, 3) or xs.shape[-1] == 0:
        raise ValueError(f"xs must have shape (M, d) or (M, batch, d); got shape {tuple(xs.shape)}")
    check_momentum("ps", ps, xs)
    check_float_tensor("ts", ts)
    if ts.ndim != 1 or ts.shape[0] != xs.shape[0]:
        raise ValueError(f"ts must be 1-D with one time per row of xs ({xs.shape[0]}); got shape {tuple(ts.shape)}")
    if ts.dtype != xs.dtype:
        raise TypeError(f"ts must have the dtype of xs ({xs.dtype}); got {ts.dtype}")


def check_square(name: str, m: Any, *, even: bool = False) -> torch.Tensor:
    """A finite float square matrix ``(n, n)`` or batch ``(batch, n, n)``; ``even``: ``n = 2d``."""
    check_float_tensor(name, m)
    if m.ndim not in (2, 3) or m.shape[-1] != m.shape[-2] or m.shape[-1] == 0:
        raise ValueError(f"{name} must be a square matrix (n, n) or a batch (batch, n, n); got shape {tuple(m.shape)}")
    if even and m.shape[-1] % 2:
        raise ValueError(f"{name} must be a phase-space matrix of even size 2d; got shape {tuple(m.shape)}")
    return m


def check_direction(name: str, v: Any, d: int) -> torch.Tensor:
    """A non-zero direction: a finite float tensor of shape ``(d,)``."""
    check_float_tensor(name, v)
    if v.shape != (d,):
        raise ValueError(f"{name} must be a direction of shape (d,) = ({d},); got shape {tuple(v.shape)}")
    if not bool((v != 0).any()):
        raise ValueError(f"{name} must be a non-zero direction; got the zero vector")
    return v
