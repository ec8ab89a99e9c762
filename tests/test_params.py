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


# --------------------------------------------------------------------------- the registry of chapter parameters
from ctdepth_lib.params import ChapterSpec, Relation, chapter_spec, load_specs, parameter_cell  # noqa: E402


@pytest.mark.parametrize(
    ("text", "values", "ok"),
    [
        ("N_MAX >= 4 * N_MIN", {"N_MAX": 64, "N_MIN": 16}, True),
        ("N_MAX >= 4 * N_MIN", {"N_MAX": 32, "N_MIN": 16}, False),
        ("N_TRANSFER <= DEPTH_MAX", {"N_TRANSFER": 8, "DEPTH_MAX": 8}, True),
        ("A < 0.5 * B", {"A": 1.0, "B": 2.0}, False),
    ],
)
def test_relations(text: str, values: dict, ok: bool) -> None:
    rel = Relation.parse(text)
    assert str(rel) == text
    if ok:
        rel.check(values)
    else:
        with pytest.raises(ValueError, match=f"parameter {rel.left} must be {rel.op}"):
            rel.check(values)


@pytest.mark.parametrize("text", ["N_MAX >= 4*", "N_MAX = N_MIN", "import os", "N_MAX >= N_MIN + 1", 3])
def test_malformed_relations(text: object) -> None:
    with pytest.raises(ValueError, match="a relation must read"):
        Relation.parse(text)  # type: ignore[arg-type]


def test_validate_checks_relations_after_ranges() -> None:
    spec = {"SEED": Param(int, 0, 9), "N_MIN": Param(int, 1, 64), "N_MAX": Param(int, 1, 64)}
    rel = (Relation.parse("N_MAX >= 4 * N_MIN"),)
    assert validate_parameters({"SEED": 0, "N_MIN": 4, "N_MAX": 16}, spec, rel)["N_MAX"] == 16
    with pytest.raises(ValueError, match="parameter N_MAX must be >= 4 \\* N_MIN = 32; got 16"):
        validate_parameters({"SEED": 0, "N_MIN": 8, "N_MAX": 16}, spec, rel)


def test_a_float_power_of_two_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="power_of_two applies to an int parameter"):
        Param(float, 1.0, 8.0, power_of_two=True)


def test_every_registered_chapter_is_consistent() -> None:
    specs = load_specs()
    assert specs, "parameters.yaml lists no chapter"
    for docname, spec in specs.items():
        assert isinstance(spec, ChapterSpec) and "SEED" in spec.parameters
        cell = parameter_cell(spec)
        assert all("=" not in line.partition("#")[2] for line in cell.splitlines()), docname
    with pytest.raises(ValueError, match=r"docname must be a chapter of parameters\.yaml"):
        chapter_spec("chapters/no_such_chapter")


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("SEED: {type: int, default: 0}\n      N: {type: int}", "needs type"),
        ("SEED: {type: int, default: 0}\n      N: {type: int, default: 0, low: 1}", "parameter N must be"),
        ("SEED: {type: int, default: 0, quick: 3}", "must not fix SEED"),
        ("SEED: {type: int, default: 0, helps: x}", "unknown fields"),
        ("SEED: {type: int, default: 0, help: 'a = b'}", "without '='"),
        ("N: {type: int, default: 0}", "every chapter has the parameter SEED"),
    ],
)
def test_bad_registry_entries(tmp_path, entry: str, match: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "parameters.yaml"
    path.write_text(f"chapters:\n  chapters/x:\n    parameters:\n      {entry}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        load_specs(path)
