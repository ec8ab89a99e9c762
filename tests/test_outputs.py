"""ctdepth_lib.outputs: numbers compared to the digits they print, rounding-level values, volatile outputs."""

from __future__ import annotations

import pytest

from ctdepth_lib.outputs import below, fmt, glue, numbers_agree, snap, stable, volatile_numbers


def test_numbers_agree_to_one_unit_of_the_last_printed_digit() -> None:
    assert numbers_agree("3.111e-02", "3.112e-02")
    assert numbers_agree("1.0037", "1.0036")
    assert not numbers_agree("3.111e-02", "3.151e-02")
    assert not numbers_agree("0.9960", "0.9940")
    assert not numbers_agree("12", "13")  # integers are counts: exact


def test_rounding_level_values_agree_whatever_their_digits() -> None:
    assert numbers_agree("4.15e-16", "2.2e-16")
    assert numbers_agree("0.0e+00", "3.3e-16")
    assert not numbers_agree("4.15e-16", "4.2e-09")


def test_glued_reprs_compare_relative() -> None:
    assert numbers_agree("1.0037002007801237", "1.0037002007803149", rtol=1e-6)
    assert not numbers_agree("1.0037002007801237", "1.0047002007803149", rtol=1e-6)
    assert numbers_agree("8e-09", "7e-09", rtol=1e-6)  # a short (rounded) glue: its digits


def test_snap_respells_agreeing_numbers_only() -> None:
    ref = "N = 32   max |x_N - x(T)| = 3.111e-02\nfitted order: 1.0037\n"
    assert snap(ref, ref.replace("3.111e-02", "3.112e-02")) == ref
    changed = ref.replace("1.0037", "1.1037")
    assert snap(ref, changed) == changed
    other = "a different sentence 3.112e-02"
    assert snap(ref, other) == other


def test_stable_fmt_and_below() -> None:
    assert stable(1.0037002007801237, 5) == 1.0037
    assert fmt(3.8e-16) == "≤ 1e-12" and fmt(0.0) == "≤ 1e-12" and fmt(8.07e-9, 1) == "8e-09"
    assert below(2e-16, 1e-14) == "≤ 1e-14" and below(0.0, 1e-14) == "≤ 1e-14"
    assert below(3e-13, 1e-14) == "> 1e-14 (3.00e-13)"


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((1.0, 0), ValueError, r"^digits must be an int in \[1, 6\]"),
        ((1.0, 2.0), TypeError, r"^digits must be an int"),
        (("x", 2), TypeError, r"^value must be a real number"),
    ],
)
def test_stable_rejects(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        stable(*args)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"bound": -1.0}, ValueError, r"^bound must be a positive number"),
        ({"bound": "1e-14"}, TypeError, r"^bound must be a positive number"),
        ({"tolerance": 0.0}, ValueError, r"^tolerance must be a positive number"),
        ({"tolerance": True}, TypeError, r"^tolerance must be a positive number"),
    ],
)
def test_below_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        below(**({"value": 1.0, "bound": 1e-14} | bad))


@pytest.mark.parametrize(
    ("digits", "error", "match"), [(9, ValueError, r"^digits must be an int"), (None, TypeError, r"^digits must be")]
)
def test_fmt_rejects(digits: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fmt(1.0, digits)  # type: ignore[arg-type]


def test_volatile_numbers() -> None:
    assert volatile_numbers("fitted order: 1.0037002007803149") == ["1.0037002007803149"]
    assert volatile_numbers("drift of p.v = 4.15e-16") == ["4.15e-16"]
    assert volatile_numbers("drift ≤ 1e-12 (tolerance 1e-12), order 1.004, N = 2048") == []


@pytest.mark.parametrize(
    ("key", "error", "match"), [("", ValueError, r"^key must be a non-empty string"), (3, TypeError, r"^key must be")]
)
def test_glue_rejects(key: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        glue(key, 1.0)  # type: ignore[arg-type]
