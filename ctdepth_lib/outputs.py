"""Notebook outputs that mean the same on every machine: how numbers in them are compared.

Two machines (or one machine under ``MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1``) round
differently, so a fresh run of a chapter reproduces a committed number only to the digits
that rounding does not touch. The rules (CONTRIBUTING.md, "Outputs that mean the same on
every machine"):

* **printed numbers** (stream text, ``text/plain``) are compared to the digits they print:
  ``3.111e-02`` and ``3.112e-02`` agree (one unit in the last printed place), ``3.111e-02``
  and ``3.151e-02`` do not. Integers are compared exactly. A chapter therefore prints only
  digits that are stable (4 significant digits for deterministic numerics);
* **rounding-level numbers** (|x| ≤ :data:`ROUNDING_LEVEL`) agree with each other whatever
  their digits, and must be printed against their bound (``≤ 1e-14``, :func:`below`), which
  :func:`volatile_numbers` enforces;
* **tolerance-level numbers** — an error whose size is set by a solver's tolerance or a
  finite-difference step, not by the quantity measured (dopri5 at 1e-12 against a closed form,
  the adjoint against backprop at 1e-10, a drift divided by the tolerance) — change by an order of
  magnitude from machine to machine, because which steps an adaptive controller accepts depends
  on the last bit of every intermediate value. They are printed and glued only against a bound
  (:func:`below`, ``≤ 1e-09 at tolerance 1e-12``), never by their digits; a claim of this kind
  has ``reproduce: {below: b}`` and its record keeps the measured value for the ledger. No rule can
  tell them from other numbers by looking: ``python -m ctdepth_lib audit-numerics`` finds those
  that differ between numerics paths;
* **glued values** (``application/papermill.record/...``, full reprs) are compared to
  :data:`GLUE_RTOL` relative, or as rounding-level numbers;
* claim records (``application/vnd.ctdepth.claim+json``) are not compared digit by digit:
  the ledger judges their reproduction with each claim's registered tolerance.

:func:`snap` implements the comparison for nbval: it returns the fresh text with every number
that agrees with the reference's replaced by the reference's spelling, so nbval's exact
string comparison then fails only where a number (or any other text) really differs.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "GLUE_RTOL",
    "NUMBER",
    "ROUNDING_LEVEL",
    "below",
    "fmt",
    "glue",
    "numbers_agree",
    "snap",
    "stable",
    "volatile_numbers",
]

#: A number as a chapter prints it: optional sign, digits, optional fraction, optional exponent.
NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
#: Below this magnitude a float64 difference is rounding noise of O(1) quantities.
ROUNDING_LEVEL = 1e-12
#: Relative tolerance for glued values (stored as full reprs, shown rounded in the prose).
GLUE_RTOL = 1e-6
#: Significant digits above which a printed number carries digits rounding changes.
MAX_STABLE_DIGITS = 6


def _value(token: str) -> float:
    return float(token.replace("−", "-"))


def _is_integer(token: str) -> bool:
    return not any(c in token for c in ".eE")


def _last_place(token: str) -> float:
    """The value of one unit in the last printed place of ``token`` (``3.111e-02`` → 1e-05)."""
    mantissa, _, exp = token.replace("−", "-").lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exp or 0) - decimals)


def _significant_digits(token: str) -> int:
    mantissa = token.replace("−", "").lstrip("+-").lower().partition("e")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    return len(digits)


def numbers_agree(ref: str, test: str, *, rtol: float | None = None) -> bool:
    """Whether two printed numbers agree under the rules of this module.

    Args:
        ref: the committed spelling, e.g. ``"3.111e-02"``.
        test: the fresh spelling.
        rtol: compare full reprs (more than :data:`MAX_STABLE_DIGITS` significant digits, as
            ``glue`` stores an unrounded float) to this relative tolerance instead of their digits.
    """
    if ref == test:
        return True
    a, b = _value(ref), _value(test)
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    if abs(a) <= ROUNDING_LEVEL and abs(b) <= ROUNDING_LEVEL:
        return True
    if rtol is not None and _significant_digits(ref) > MAX_STABLE_DIGITS:
        return abs(a - b) <= rtol * max(abs(a), abs(b))
    if _is_integer(ref) and _is_integer(test):
        return a == b
    # One unit in the last printed place (rounding can flip the last digit), with slack for
    # the binary representation of the printed values.
    return abs(a - b) <= 1.000001 * max(_last_place(ref), _last_place(test))


def snap(ref: str, test: str, *, rtol: float | None = None) -> str:
    """``test`` with each number that agrees with the number at the same place of ``ref`` spelt as in ``ref``.

    The texts must have the same shape (the same non-numeric text, the same count of numbers);
    otherwise ``test`` is returned unchanged and nbval reports the difference.
    """
    ref_nums, test_nums = NUMBER.findall(ref), NUMBER.findall(test)
    if len(ref_nums) != len(test_nums) or NUMBER.split(ref) != NUMBER.split(test):
        return test
    if not any(r != t for r, t in zip(ref_nums, test_nums)):
        return test
    pieces = NUMBER.split(test)
    out = [pieces[0]]
    for r, t, piece in zip(ref_nums, test_nums, pieces[1:]):
        out.append(r if numbers_agree(r, t, rtol=rtol) else t)
        out.append(piece)
    return "".join(out)


def _check_positive(name: str, value: object) -> None:
    """A number > 0 (this module imports no torch, so not :mod:`ctdepth_lib._validate`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number; got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}")


def below(value: float, bound: float, *, tolerance: float | None = None) -> str:
    """A rounding- or tolerance-level value shown against its bound: ``"≤ 1e-14"`` (or ``"> 1e-14 (1.23e-13)"``).

    An exact zero is shown as ``"≤ 1e-14"`` too: one machine's 0 is another's 2e-16. The
    claim records (:meth:`ctdepth_lib.claims.Claim.show`) use the same form. With ``tolerance``
    the text names the solver tolerance that sets the value's size: ``"≤ 1e-09 at tolerance 1e-12"``.

    Args:
        value: the measured quantity.
        bound: the bound it is shown against, e.g. ``1e-14`` (or ``10`` for a drift in units of the tolerance).
        tolerance: the tolerance of the solve whose error the value is, if any.
    """
    _check_positive("bound", bound)
    if tolerance is not None:
        _check_positive("tolerance", tolerance)
    value = float(value)
    text = f"≤ {bound:g}" if abs(value) <= bound else f"> {bound:g} ({value:.2e})"
    return text if tolerance is None else f"{text} at tolerance {tolerance:g}"


def volatile_numbers(text: str) -> list[str]:
    """The numbers in ``text`` that a fresh run on another machine would print differently.

    A number is volatile when it prints more than :data:`MAX_STABLE_DIGITS` significant digits
    (a 16-digit repr), or when it is a non-zero rounding-level value printed as digits instead
    of against its bound (:func:`below`).
    """
    bad = []
    for m in NUMBER.finditer(text):
        token = m.group(0)
        if _is_integer(token):
            continue
        if _significant_digits(token) > MAX_STABLE_DIGITS:
            bad.append(token)
            continue
        value = abs(_value(token))
        before = text[max(0, m.start() - 2) : m.start()]
        mantissa = token.replace("−", "").lstrip("+-").lower().partition("e")[0].replace(".", "").strip("0")
        is_power_of_ten = mantissa == "1"  # a bound or a tolerance written as a parameter (1e-12)
        if 0 < value <= ROUNDING_LEVEL and not is_power_of_ten and not any(s in before for s in "≤≥<>~"):
            bad.append(token)
    return bad


def stable(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits: what a chapter glues or prints.

    Args:
        value: a real number (Python, NumPy or 0-d torch).
        digits: significant digits that rounding leaves unchanged across machines (1 … 6).
    """
    if isinstance(digits, bool) or not isinstance(digits, int):
        raise TypeError(f"digits must be an int in [1, {MAX_STABLE_DIGITS}]; got {digits!r}")
    if not 1 <= digits <= MAX_STABLE_DIGITS:
        raise ValueError(f"digits must be an int in [1, {MAX_STABLE_DIGITS}]; got {digits!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"value must be a real number; got {value!r}") from None
    if not math.isfinite(x) or x == 0.0:
        return x
    return float(f"{x:.{digits - 1}e}")


def glue(key: str, value: object, *, digits: int = 4) -> None:
    """Glue ``value`` for the prose (myst-nb ``glue``, not displayed), floats rounded by :func:`stable`.

    Integers and strings are glued as they are. The prose may show at most ``digits``
    significant digits of a glued float (``{glue:text}`key:.3f``` for a value near 1 and
    ``digits=4``).
    """
    if not isinstance(key, str):
        raise TypeError(f"key must be a non-empty string; got {key!r}")
    if not key:
        raise ValueError(f"key must be a non-empty string; got {key!r}")
    from myst_nb import glue as nb_glue

    if isinstance(value, bool) or isinstance(value, (int, str)):
        nb_glue(key, value, display=False)
    else:
        nb_glue(key, stable(value, digits), display=False)  # type: ignore[arg-type]


def fmt(value: float, digits: int = 4) -> str:
    """``value`` as a chapter prints it: ``digits`` significant digits, or ``≤ 1e-12`` at rounding level.

    |value| ≤ :data:`ROUNDING_LEVEL`, exact zeros included, prints against that bound: its digits
    are rounding noise that differs from machine to machine (one machine's exact 0 is another's
    2e-16).
    """
    x = stable(value, digits)
    if abs(x) <= ROUNDING_LEVEL:
        return f"≤ {ROUNDING_LEVEL:.0e}"
    return f"{x:.{digits - 1}e}"
