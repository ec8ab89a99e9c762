"""A chapter's papermill parameters as data: their types, defaults, ranges, meanings and relations.

``parameters.yaml`` (shipped inside this package) is the one place where a chapter's parameters
are written: for each chapter, each parameter's type, default, allowed range, meaning and quick
value, and the relations between parameters (``N_MAX >= 4 * N_MIN``). Everything else reads it:

* a chapter's cell tagged ``parameters`` is generated from it (``python -m ctdepth_lib params
  --write``), in the form papermill parses (``N_MAX: int = 2048  # deepest network``), so
  ``papermill --help-notebook`` and ``-p N_MAX 1024`` work;
* the chapter's next cell, ``cl.start_chapter("chapters/NN_name", globals())``, validates the
  values against it (:func:`validate_parameters`) and stops with a message naming a bad one;
* the seed sweep, the Rerun guide and the bad-parameter test read it too.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._resources import read_yaml

__all__ = ["ChapterSpec", "Param", "Relation", "chapter_spec", "parameter_cell", "validate_parameters"]

_KINDS: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


@dataclass(frozen=True)
class Param:
    """Allowed values of one parameter.

    ``kind`` is ``int``, ``float``, ``str`` or ``bool``; numbers may have a lower bound ``low`` and
    an upper bound ``high`` (inclusive, or exclusive with ``low_open``), strings a tuple of
    ``choices``; ``power_of_two`` asks an integer to be ``2**k`` (the depths of a halving-step
    convergence study). ``default`` and ``quick`` are the full-scale and quick values, ``help``
    what the parameter means.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[Any, ...] | None = None
    help: str = ""
    power_of_two: bool = False
    default: Any = None
    quick: Any = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS.values():
            raise TypeError(f"kind must be one of int, float, str, bool; got {self.kind!r}")
        if self.power_of_two and self.kind is not int:
            raise TypeError(f"power_of_two applies to an int parameter; got kind {self.kind.__name__}")

    def describe(self) -> str:
        """The allowed range as text, e.g. ``int in [1, 4096]``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.kind in (str, bool):
            return self.kind.__name__
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high is None else "]"
        two = ", a power of two" if self.power_of_two else ""
        return f"{self.kind.__name__} in {left}{lo}, {hi}{right}{two}"

    def check(self, name: str, value: Any) -> Any:
        """``value`` if it is allowed (a float parameter's int as a float); else ``TypeError``/``ValueError`` naming ``name``."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise TypeError(f"parameter {name} must be True or False; got {value!r}")
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise TypeError(f"parameter {name} must be a string, {self.describe()}; got {value!r}")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"parameter {name} must be an integer, {self.describe()}; got {value!r}")
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"parameter {name} must be a number, {self.describe()}; got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"parameter {name} must be finite, {self.describe()}; got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"parameter {name} must be {self.describe()}; got {value!r}")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError(f"parameter {name} must be {self.describe()}; got {value!r}")
        if self.high is not None and value > self.high:
            raise ValueError(f"parameter {name} must be {self.describe()}; got {value!r}")
        if self.power_of_two and (value < 1 or value & (value - 1)):
            raise ValueError(f"parameter {name} must be a power of two; got {value!r}")
        return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
_RELATION = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*(>=|<=|>|<)\s*(?:(\d+(?:\.\d+)?)\s*\*\s*)?([A-Z][A-Z0-9_]*)\s*$")


@dataclass(frozen=True)
class Relation:
    """A relation between two parameters, ``left op factor * right`` (e.g. ``N_MAX >= 4 * N_MIN``).

    Parsed from that text by a regular expression (:meth:`parse`); never evaluated as code.
    """

    left: str
    op: str
    factor: float
    right: str

    @classmethod
    def parse(cls, text: str) -> Relation:
        """``"N_MAX >= 4 * N_MIN"`` → ``Relation("N_MAX", ">=", 4.0, "N_MIN")``."""
        m = _RELATION.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"a relation must read 'A >= k * B' (ops >=, >, <=, <; k optional); got {text!r}")
        left, op, factor, right = m.groups()
        return cls(left, op, float(factor) if factor else 1.0, right)

    def __str__(self) -> str:
        k = "" if self.factor == 1 else f"{_num(self.factor)} * "
        return f"{self.left} {self.op} {k}{self.right}"

    def check(self, values: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming ``left`` when the relation does not hold for ``values``."""
        bound = self.factor * values[self.right]
        if not _OPS[self.op](values[self.left], bound):
            k = "" if self.factor == 1 else f"{_num(self.factor)} * "
            raise ValueError(
                f"parameter {self.left} must be {self.op} {k}{self.right} = {_num(bound)}; got {values[self.left]!r}"
            )


@dataclass(frozen=True)
class ChapterSpec:
    """A chapter's parameters (in the order of its ``parameters`` cell) and the relations between them."""

    docname: str
    parameters: dict[str, Param]
    requires: tuple[Relation, ...] = field(default_factory=tuple)

    @property
    def defaults(self) -> dict[str, Any]:
        """``{name: default}``."""
        return {name: p.default for name, p in self.parameters.items()}

    @property
    def quick(self) -> dict[str, Any]:
        """The quick parameters that differ from the defaults (never ``SEED``)."""
        return {name: p.quick for name, p in self.parameters.items() if p.quick is not None}


def validate_parameters(
    values: Mapping[str, Any], spec: Mapping[str, Param], requires: Sequence[Relation] = ()
) -> dict[str, Any]:
    """Check each parameter against its spec, then the relations; return the validated values.

    Raises:
        ValueError / TypeError naming the first bad parameter, what it must be and what it was.
    """
    missing = set(spec) - set(values)
    if missing:
        raise ValueError(f"parameters {sorted(missing)} have no value")
    extra = set(values) - set(spec)
    if extra:
        raise ValueError(f"parameters {sorted(extra)} are not known (known: {sorted(spec)})")
    checked = {name: p.check(name, values[name]) for name, p in spec.items()}
    for relation in requires:
        relation.check(checked)
    return checked


def _parse_param(docname: str, name: str, raw: Any) -> Param:
    where = f"parameters.yaml, {docname}, {name}"
    if not isinstance(raw, Mapping) or raw.get("type") not in _KINDS or "default" not in raw:
        raise ValueError(f"{where}: needs type (one of {list(_KINDS)}) and default; got {raw!r}")
    unknown = set(raw) - {"type", "default", "quick", "low", "high", "low_open", "choices", "power_of_two", "help"}
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    p = Param(
        _KINDS[raw["type"]],
        low=raw.get("low"),
        high=raw.get("high"),
        low_open=bool(raw.get("low_open", False)),
        choices=tuple(raw["choices"]) if "choices" in raw else None,
        help=str(raw.get("help", "")).strip(),
        power_of_two=bool(raw.get("power_of_two", False)),
        default=raw["default"],
        quick=raw.get("quick"),
    )
    if "=" in p.help or "\n" in p.help:
        raise ValueError(f"{where}: help must be one line without '=' (papermill parses the comment); got {p.help!r}")
    p.check(name, p.default)
    if p.quick is not None:
        if name == "SEED":
            raise ValueError(f"{where}: the quick parameters must not fix SEED")
        p.check(name, p.quick)
    return p


def load_specs(path: str | Path | None = None) -> dict[str, ChapterSpec]:
    """Every chapter's :class:`ChapterSpec`, by docname, from ``parameters.yaml`` (or ``path``)."""
    data = read_yaml("parameters.yaml", path)
    if not isinstance(data, Mapping) or not isinstance(data.get("chapters"), Mapping):
        raise ValueError("parameters.yaml must hold a mapping `chapters:` of docname -> {parameters, requires}")
    specs = {}
    for docname, raw in data["chapters"].items():
        params = {name: _parse_param(docname, name, p) for name, p in dict(raw.get("parameters") or {}).items()}
        if "SEED" not in params:
            raise ValueError(f"parameters.yaml, {docname}: every chapter has the parameter SEED")
        requires = tuple(Relation.parse(r) for r in raw.get("requires") or ())
        for rel in requires:
            for name in (rel.left, rel.right):
                if name not in params:
                    raise ValueError(f"parameters.yaml, {docname}: relation {rel} names an unknown parameter {name}")
        spec = ChapterSpec(str(docname), params, requires)
        validate_parameters(spec.defaults, params, requires)
        validate_parameters(spec.defaults | spec.quick, params, requires)
        specs[str(docname)] = spec
    return specs


@functools.cache
def _shipped() -> dict[str, ChapterSpec]:
    return load_specs()


def chapter_spec(docname: str) -> ChapterSpec:
    """The :class:`ChapterSpec` of the chapter ``docname`` (e.g. ``"chapters/01_resnet_euler"``)."""
    specs = _shipped()
    if docname not in specs:
        raise ValueError(f"docname must be a chapter of parameters.yaml {sorted(specs)}; got {docname!r}")
    return specs[docname]


def parameter_cell(spec: ChapterSpec) -> str:
    """The source of the chapter's cell tagged ``parameters``: one ``NAME: type = default  # help`` per line."""
    lines = [f"{name}: {p.kind.__name__} = {p.default!r}  # {p.help}" for name, p in spec.parameters.items()]
    return "\n".join(lines)
