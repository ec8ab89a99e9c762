"""Validation of a chapter's papermill parameters.

Every chapter has a cell tagged ``parameters`` and, right after it, a cell that
calls :func:`validate_parameters` with a spec of allowed values; a bad value
stops the run there with a message naming the parameter.  The same specs feed
the rerun guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Param", "validate_parameters"]


@dataclass(frozen=True)
class Param:
    """Allowed values of one parameter.

    ``kind`` is ``int``, ``float``, ``str`` or ``bool``; numbers may have a
    lower bound ``low`` and upper bound ``high`` (inclusive, or exclusive with
    ``low_open``), strings a tuple of ``choices``; ``power_of_two`` asks an
    integer to be ``2**k`` (the depths of a halving-step convergence study).
    """

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[Any, ...] | None = None
    help: str = ""
    power_of_two: bool = False

    def describe(self) -> str:
        """The allowed range as text, e.g. ``int in [1, 4096]``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high is None else "]"
        two = ", a power of two" if self.power_of_two else ""
        return f"{self.kind.__name__} in {left}{lo}, {hi}{right}{two}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_one(name: str, value: Any, p: Param) -> Any:
    if p.kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"parameter {name} must be True or False; got {value!r}")
        return value
    if p.kind is str:
        if not isinstance(value, str):
            raise TypeError(f"parameter {name} must be a string, {p.describe()}; got {value!r}")
    elif p.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"parameter {name} must be an integer, {p.describe()}; got {value!r}")
    elif p.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"parameter {name} must be a number, {p.describe()}; got {value!r}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"parameter {name} must be finite, {p.describe()}; got {value!r}")
    if p.choices is not None and value not in p.choices:
        raise ValueError(f"parameter {name} must be {p.describe()}; got {value!r}")
    if p.low is not None and (value < p.low or (p.low_open and value == p.low)):
        raise ValueError(f"parameter {name} must be {p.describe()}; got {value!r}")
    if p.high is not None and value > p.high:
        raise ValueError(f"parameter {name} must be {p.describe()}; got {value!r}")
    if p.power_of_two and (value < 1 or value & (value - 1)):
        raise ValueError(f"parameter {name} must be a power of two; got {value!r}")
    return value


def validate_parameters(values: Mapping[str, Any], spec: Mapping[str, Param]) -> dict[str, Any]:
    """Check each parameter against its spec; return the validated values.

    Raises:
        ValueError / TypeError naming the first bad parameter, what it must be and what it was.
    """
    missing = set(spec) - set(values)
    if missing:
        raise ValueError(f"parameters {sorted(missing)} have no value")
    extra = set(values) - set(spec)
    if extra:
        raise ValueError(f"parameters {sorted(extra)} are not known (known: {sorted(spec)})")
    return {name: _check_one(name, values[name], p) for name, p in spec.items()}
