"""Argument validation shared by the public functions (internal).

Every public function checks its inputs once, at the boundary, and raises a
``ValueError`` or ``TypeError`` whose message names the argument, what was
expected and what was given.  Internals trust their callers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype}, device={value.device})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_callable(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable as {name}(t, x); got {_describe(value)}")


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
