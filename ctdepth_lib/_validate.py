"""Argument checks for the public faces of the science modules (internal).

Every public function is a checked face over an unchecked core: the face checks
its arguments once, here, and calls the core; internal callers call the cores,
so nothing is checked twice (torchdiffeq's pattern, one ``_check_inputs`` at the
entry point).  A vector field is checked without a probe call: the face wraps it
with :func:`check_first_output`, and its first real evaluation is the one checked.

One rule for the error type, and one message shape:

* a wrong *type* raises ``TypeError``: the Python type of an argument, the dtype
  of a tensor (its element type) and a ``dtype`` argument;
* a wrong *value* raises ``ValueError``: a range, a shape, a non-finite entry, a
  device, a string outside its choices;
* the message names the argument, says what was expected and what was given:
  ``"rtol must be a finite number > 0; got 0.0"``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import torch

from ._typing import Field

__all__ = [
    "as_numpy",
    "check_callable",
    "check_choice",
    "check_field_output",
    "check_first_output",
    "check_float_dtype",
    "check_int",
    "check_loss_value",
    "check_positive",
    "check_real",
    "check_square",
    "check_state",
    "check_tensor",
    "check_time",
    "check_time_grid",
    "check_trajectory",
    "check_type",
]


def as_numpy(value: Any) -> np.ndarray:
    """``value`` as a NumPy array, unchecked; a tensor is detached and brought to the CPU first."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype}, device={value.device})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- types and numbers
def check_type(name: str, value: Any, types: type | tuple[type, ...], expected: str) -> Any:
    """``TypeError`` (naming ``expected``, e.g. ``"a bool"``) unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {expected}; got {_describe(value)}")
    return value


def check_callable(name: str, value: Any, call: str | None = None) -> Any:
    """``TypeError`` unless ``value`` is callable; the message shows the call (default ``name(t, x)``)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable as {call or name + '(t, x)'}; got {_describe(value)}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> Any:
    """A finite real number (not a bool), optionally bounded: ``low ≤ value ≤ high``.

    ``low_open``/``high_open`` make a bound strict; ``integer=True`` requires an ``int`` (and
    returns it), otherwise the value is returned as a ``float``.  The messages state the bounds.
    """
    if low is not None and high is not None:
        where = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        where = f" {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        where = f" {'<' if high_open else '<='} {high:g}"
    else:
        where = ""
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}{where}; got {_describe(value)}")
    v = value if integer else float(value)
    ok = math.isfinite(v)
    if low is not None:
        ok = ok and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        noun = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {noun}{where or ' (not NaN or inf)'}; got {value!r}")
    return v


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """An ``int`` (not a bool, not a float) with ``low ≤ value`` (``≤ high`` when given)."""
    return check_real(name, value, low=low, high=high, integer=True)


def check_positive(name: str, value: Any) -> float:
    """A finite real number ``> 0`` (a tolerance, a step, a scale)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive real number; got {_describe(value)}")
    return check_real(name, value, low=0.0, low_open=True)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """A string among ``choices`` (the message lists them)."""
    options = list(choices)
    check_type(name, value, str, f"one of {options}")
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_float_dtype(name: str, value: Any) -> torch.dtype:
    """A floating-point ``torch.dtype`` (``TypeError`` otherwise: a dtype is a type)."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype; got {value!r}")
    return value


# --------------------------------------------------------------------------- tensors
def check_tensor(
    name: str,
    value: Any,
    *,
    ndim: Collection[int] | None = None,
    expected: str = "",
    like: torch.Tensor | None = None,
    like_name: str = "x",
) -> torch.Tensor:
    """A floating-point tensor with finite entries.

    ``ndim``: the allowed numbers of dimensions (the last one non-empty); ``expected`` says so in
    the message (``"have shape (d,) or (batch, d)"``).  ``like``: the tensor must have the shape,
    dtype and device of ``like`` (a momentum ``p`` like its state ``x``), named ``like_name``.
    """
    check_type(name, value, torch.Tensor, "a torch.Tensor")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype (float32/float64); got dtype {value.dtype}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values; got non-finite entries in {_describe(value)}")
    if ndim is not None and (value.ndim not in ndim or value.ndim == 0 or value.shape[-1] == 0):
        raise ValueError(f"{name} must {expected}; got shape {tuple(value.shape)}")
    if like is not None:
        if value.shape != like.shape:
            raise ValueError(f"{name} must have the shape of {like_name} {tuple(like.shape)}; got {tuple(value.shape)}")
        _check_like(name, value, like, like_name)
    return value


def _check_like(name: str, value: torch.Tensor, like: torch.Tensor, like_name: str) -> None:
    """``value`` must have the dtype (``TypeError``) and the device (``ValueError``) of ``like``."""
    if value.dtype != like.dtype:
        raise TypeError(f"{name} must have the dtype of {like_name} ({like.dtype}); got {value.dtype}")
    if value.device != like.device:
        raise ValueError(f"{name} must be on the device of {like_name} ({like.device}); got {value.device}")


def check_state(name: str, x: Any) -> torch.Tensor:
    """A hidden state: finite float tensor of shape ``(d,)`` or ``(batch, d)``, ``d ≥ 1``."""
    return check_tensor(name, x, ndim=(1, 2), expected="have shape (d,) or (batch, d) with d >= 1")


def check_square(name: str, m: Any, *, even: bool = False) -> torch.Tensor:
    """A finite float square matrix ``(n, n)`` or batch ``(batch, n, n)``; ``even``: ``n = 2d``."""
    square = "be a square matrix (n, n) or a batch (batch, n, n)"
    check_tensor(name, m, ndim=(2, 3), expected=square)
    if m.shape[-1] != m.shape[-2]:
        raise ValueError(f"{name} must {square}; got shape {tuple(m.shape)}")
    if even and m.shape[-1] % 2:
        raise ValueError(f"{name} must be a phase-space matrix of even size 2d; got shape {tuple(m.shape)}")
    return m


def check_time_grid(name: str, ts: Any, like: torch.Tensor | None = None, *, increasing: bool = False) -> torch.Tensor:
    """A strictly monotone 1-D grid of at least two finite times (strictly increasing with ``increasing``).

    When ``like`` is given the grid must share its dtype and device.
    """
    check_type(name, ts, torch.Tensor, "a torch.Tensor (a 1-D grid of times)")
    if not ts.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype; got {ts.dtype}")
    if ts.ndim != 1:
        raise ValueError(f"{name} must be 1-D (a grid of times); got shape {tuple(ts.shape)}")
    if ts.numel() < 2:
        raise ValueError(f"{name} must hold at least 2 time points; got {ts.numel()}")
    if not bool(torch.isfinite(ts).all()):
        raise ValueError(f"{name} must contain only finite times; got {_describe(ts)}")
    diffs = ts[1:] - ts[:-1]
    if increasing and not bool((diffs > 0).all()):
        raise ValueError(f"{name} must be strictly increasing (t_0 < … < t_N); got {_describe(ts)}")
    if not (bool((diffs > 0).all()) or bool((diffs < 0).all())):
        raise ValueError(f"{name} must be strictly increasing or strictly decreasing; got {_describe(ts)}")
    if like is not None:
        _check_like(name, ts, like, "x0")
    return ts


def check_time(name: str, t: Any, like: torch.Tensor) -> torch.Tensor:
    """One time: a real number or a 0-d tensor, returned as a 0-d tensor of ``like``'s dtype and device."""
    if not isinstance(t, torch.Tensor):
        return torch.tensor(check_real(name, t), dtype=like.dtype, device=like.device)
    if t.ndim != 0:
        raise ValueError(f"{name} must be a 0-d tensor (one time); got shape {tuple(t.shape)}")
    return t.to(dtype=like.dtype, device=like.device)


def check_trajectory(xs: Any, ps: Any = None, ts: Any = None, *, grid: bool = True) -> torch.Tensor:
    """Samples along a trajectory: ``xs: (M, d)`` or ``(M, batch, d)``; ``ps`` like ``xs``; ``ts: (M,)``.

    ``grid=True`` requires ``ts`` to be a strictly monotone time grid (:func:`check_time_grid`),
    ``grid=False`` only finite times of ``xs``'s dtype, one per row.
    """
    check_tensor("xs", xs, ndim=(2, 3), expected="have shape (M, d) or (M, batch, d)")
    if ps is not None:
        check_tensor("ps", ps, like=xs, like_name="xs")
    if ts is not None:
        if grid:
            check_time_grid("ts", ts, like=xs)
        else:
            check_tensor("ts", ts, ndim=(1,), expected="have shape (M,)")
            _check_like("ts", ts, xs, "xs")
        if ts.shape[0] != xs.shape[0]:
            raise ValueError(f"ts must hold one time per row of xs ({xs.shape[0]}); got shape {tuple(ts.shape)}")
    return xs


# --------------------------------------------------------------------------- what user functions return
def check_field_output(name: str, out: Any, x: torch.Tensor, call: str | None = None) -> None:
    """The vector field must return a tensor of the state's shape and dtype (``call``: how the
    message writes the call, default ``name(t, x)``)."""
    call = call or f"{name}(t, x)"
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{call} must return a torch.Tensor; got {type(out).__name__}")
    if out.shape != x.shape:
        raise ValueError(f"{call} must return the shape of x {tuple(x.shape)}; got shape {tuple(out.shape)}")
    if out.dtype != x.dtype:
        raise TypeError(f"{call} must return the dtype of x ({x.dtype}); got {out.dtype}")


def check_loss_value(value: Any) -> torch.Tensor:
    """What ``loss(x_N)`` returned must be a floating-point scalar tensor."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"loss(x_N) must return a torch.Tensor (a scalar); got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"loss(x_N) must return a floating-point scalar; got dtype {value.dtype}")
    if value.numel() != 1:
        raise ValueError(f"loss(x_N) must return a scalar (use the sum over a batch); got shape {tuple(value.shape)}")
    return value.reshape(())


def _first_call_checked(name: str, f: Field, x: torch.Tensor, call: str | None = None) -> Field:
    pending = True

    def checked(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        nonlocal pending
        out = f(a, b)
        if pending:
            check_field_output(name, out, x, call)
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


def check_first_output(name: str, f: Field, x: torch.Tensor, *, module: bool = False, call: str | None = None) -> Field:
    """``f`` wrapped so that its *first real* evaluation must return a tensor of ``x``'s shape and dtype.

    Use it at a public face instead of a probe call ``f(t0, x0)``: no extra
    evaluation is made, and later calls pass straight through.  Under ``vmap``
    pass the shape one mapped call sees (e.g. ``x0[0]``).  ``module=True``
    returns an ``nn.Module`` holding ``f`` (and so its parameters), as
    ``torchdiffeq.odeint_adjoint`` requires.  ``call`` is how a message writes a call of another
    form (a control field ``"F(x, q)"``); ``f`` is always called with two arguments.
    """
    if module:
        return _FirstCallCheckedModule(name, f, x)
    return _first_call_checked(name, f, x, call)
