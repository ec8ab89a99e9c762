"""ctdepth_lib.claims: the registry, thresholds, reproduction tolerances and check() verdicts."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest

from ctdepth_lib import claims

ROOT = Path(__file__).resolve().parent.parent


def test_registry_is_well_formed() -> None:
    reg = claims.registry()
    assert {"1a", "1b", "1c"} <= set(reg)
    for c in reg.values():
        assert c.source in claims.SOURCES
        assert c.statement and c.quantity
        assert (ROOT / f"{c.chapter}.ipynb").is_file(), f"claim {c.id}: chapter {c.chapter} has no notebook"


def test_every_registered_chapter_is_in_the_toc() -> None:
    from ctdepth_lib.book import toc_notebooks

    toc = {p.relative_to(ROOT).with_suffix("").as_posix() for p in toc_notebooks(ROOT)}
    assert {c.chapter for c in claims.registry().values()} <= toc


@pytest.mark.parametrize(
    ("op", "value", "target", "measured", "holds"),
    [
        ("<=", 1e-12, None, 1e-13, True),
        ("<=", 1e-12, None, 2e-12, False),
        (">=", 0.97, None, 0.975, True),
        (">=", 0.97, None, 0.96, False),
        ("==", 0.0, None, 0.0, True),
        ("==", 0.0, None, 1e-300, False),
        ("abs_diff<=", 0.1, 1.0, 1.09, True),
        ("abs_diff<=", 0.1, 1.0, 0.89, False),
        ("<=", 1.0, None, math.nan, False),
    ],
)
def test_thresholds(op: str, value: float, target: float | None, measured: float, holds: bool) -> None:
    c = claims.Claim("x", "s", "paper", "chapters/x", "q", op, value, target)
    assert c.holds(measured) is holds


def test_check_passes_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    claims.begin("chapters/01_resnet_euler", seed=3, parameters={"N_MAX": 64})
    claims.check("1b", 1.02)
    assert "claim 1b: PASS" in capsys.readouterr().out
    with pytest.raises(claims.ClaimFailed, match="claim 1b: FAIL"):
        claims.check("1b", 1.5)
    with pytest.raises(claims.ClaimFailed):
        claims.check("1b", float("nan"))


def test_check_goes_on_when_a_sweep_asks(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    claims.begin("chapters/01_resnet_euler", seed=3, parameters={"N_MAX": 64})
    monkeypatch.setenv(claims.CONTINUE_VAR, "1")
    claims.check("1b", 1.5)  # recorded as failing, not raised
    assert "claim 1b: FAIL" in capsys.readouterr().out
    monkeypatch.setenv(claims.CONTINUE_VAR, "yes")  # only "1" switches it on
    with pytest.raises(claims.ClaimFailed):
        claims.check("1b", 1.5)


def test_check_rejects_unknown_and_foreign_claims() -> None:
    claims.begin("chapters/01_resnet_euler", seed=0, parameters={})
    with pytest.raises(ValueError, match="claim_id must be a registered claim"):
        claims.check("9z", 1.0)
    with pytest.raises(TypeError, match="measured must be a real number"):
        claims.check("1b", "one")
    with pytest.raises(ValueError, match="chapter must be a chapter of the registry"):
        claims.begin("chapters/nope", seed=0, parameters={})


def test_reproduction_tolerances() -> None:
    reg = claims.registry()
    assert all(c.reproduce[0] in claims.REPRODUCE_KINDS for c in reg.values())
    slope, exact, rounding, trained = reg["1b"], reg["1a"], reg["N1"], reg["T-moons"]
    assert slope.reproduces(1.0037002007801237, 1.0037002007803149)
    assert not slope.reproduces(1.0037, 1.0137)
    assert exact.reproduces(0.0, 0.0) and not exact.reproduces(0.0, 1e-300)
    assert rounding.reproduces(2.8e-16, 4.2e-16) and not rounding.reproduces(2.8e-16, 1e-9)
    assert trained.reproduces(0.996, 0.98) and not trained.reproduces(0.996, 0.876)


def test_registry_rejects_a_bad_reproduce(tmp_path: Path) -> None:
    text = (claims_yaml := resources.files("ctdepth_lib").joinpath("claims.yaml").read_text(encoding="utf-8"))
    bad = tmp_path / "claims.yaml"
    bad.write_text(claims_yaml.replace("reproduce: {rel: 1.0e-4}", "reproduce: {within: 3}", 1), encoding="utf-8")
    assert text != bad.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="reproduce must be one of"):
        claims.registry(bad)


def test_every_correction_states_its_naive_reading(tmp_path: Path) -> None:
    reg = claims.registry()
    corrections = [c for c in reg.values() if c.source == "correction"]
    assert corrections and all(c.naive for c in corrections)
    assert not [c.id for c in reg.values() if c.source not in ("correction", "pitfall") and c.naive]
    text = resources.files("ctdepth_lib").joinpath("claims.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "claims.yaml"
    start = text.index("    naive: >-")
    while not text.startswith("    source: correction", end := text.index("    source:", start)):
        start = text.index("    naive: >-", end)  # a pitfall's naive reading: the next one
    bad.write_text(text[:start] + text[end:], encoding="utf-8")  # the first correction loses its naive reading
    with pytest.raises(ValueError, match="a correction states the naive reading"):
        claims.registry(bad)


def test_load_registry_is_the_one_reader(tmp_path: Path) -> None:
    data = claims.load_registry()
    assert [c["id"] for c in data["claims"]] == list(claims.registry())
    assert set(data.get("over_seeds") or {}) <= set(claims.registry())
    bad = tmp_path / "claims.yaml"
    bad.write_text("over_seeds: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^path: a registry holds a list `claims:`"):
        claims.load_registry(bad)


def test_shipped_registry_is_parsed_once_and_handed_out_as_a_copy() -> None:
    first = claims.registry()
    first.clear()  # a caller's edits do not reach the cache
    again = claims.registry()
    assert again and again == claims.registry()
    assert next(iter(again.values())) is next(iter(claims.registry().values()))  # the same parsed records
