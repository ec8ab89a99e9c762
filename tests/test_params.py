"""validate_parameters: accepted values pass through, bad ones name the parameter."""

from __future__ import annotations

import pytest

from ctdepth_lib import Param, validate_parameters

SPEC = {
    "SEED": Param(int, 0, 2**31 - 1),
    "T": Param(float, 0.0, 10.0, low_open=True),
    "METHOD": Param(str, choices=("euler", "rk4")),
    "QUICK": Param(bool),
}
GOOD = {"SEED": 1, "T": 1, "METHOD": "euler", "QUICK": False}


def test_good_values_pass() -> None:
    out = validate_parameters(GOOD, SPEC)
    assert out == {"SEED": 1, "T": 1.0, "METHOD": "euler", "QUICK": False}
    assert isinstance(out["T"], float)


@pytest.mark.parametrize(
    ("name", "value", "exc"),
    [
        ("SEED", -1, ValueError),
        ("SEED", "abc", TypeError),
        ("SEED", 1.5, TypeError),
        ("SEED", True, TypeError),
        ("T", 0.0, ValueError),
        ("T", -1.0, ValueError),
        ("T", float("nan"), ValueError),
        ("T", 11.0, ValueError),
        ("METHOD", "rk45", ValueError),
        ("QUICK", 1, TypeError),
    ],
)
def test_bad_values_name_the_parameter(name: str, value: object, exc: type) -> None:
    with pytest.raises(exc, match=f"parameter {name} must"):
        validate_parameters(GOOD | {name: value}, SPEC)


def test_missing_and_unknown() -> None:
    with pytest.raises(ValueError, match=r"\['QUICK'\] have no value"):
        validate_parameters({k: v for k, v in GOOD.items() if k != "QUICK"}, SPEC)
    with pytest.raises(ValueError, match="not known"):
        validate_parameters(GOOD | {"X": 1}, SPEC)


def test_describe() -> None:
    assert SPEC["T"].describe() == "float in (0, 10]"
    assert SPEC["SEED"].describe() == "int in [0, 2147483647]"
    assert SPEC["METHOD"].describe() == "one of ['euler', 'rk4']"


def test_power_of_two() -> None:
    spec = {"N": Param(int, 1, 4096, power_of_two=True)}
    assert validate_parameters({"N": 64}, spec) == {"N": 64}
    assert spec["N"].describe() == "int in [1, 4096], a power of two"
    with pytest.raises(ValueError, match=r"^parameter N must be a power of two; got 96$"):
        validate_parameters({"N": 96}, spec)
