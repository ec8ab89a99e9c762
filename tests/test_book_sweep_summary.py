"""Pass rates and spreads over a sweep table (ctdepth_lib.book.sweep_summary), on a hand-made table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

pd = pytest.importorskip("pandas")

from ctdepth_lib.book import sweep_summary as ss  # noqa: E402


def _table() -> object:
    rows = []
    p_quick, p_full = json.dumps({"N": 8}), json.dumps({})
    for seed in range(1, 5):
        rows.append(("A", "ch/a", seed, p_quick, 0.1 * seed, "pass", True))
        rows.append(("B", "ch/a", seed, p_quick, 2.0 + seed, "pass" if seed < 4 else "fail", True))
    # seed 5 stopped before claim B: its run counts for B, and does not pass
    rows.append(("A", "ch/a", 5, p_quick, float("nan"), "error", True))
    rows.append(("A", "ch/a", 1, p_full, 0.05, "pass", False))
    rows.append(("B", "ch/a", 1, p_full, 2.5, "pass", False))
    cols = ["claim", "chapter", "seed", "parameters", "measured", "verdict", "quick"]
    df = pd.DataFrame(rows, columns=cols)
    df["seconds"], df["version"] = 1.0, "v"
    return df


def test_pass_rates_count_runs_not_records() -> None:
    rates = ss.pass_rates(_table(), {"A": "ch/a", "B": "ch/a", "C": "ch/other"})
    a, b = rates["A"]["quick"], rates["B"]["quick"]
    assert (a.runs, a.passed) == (5, 4) and a.rate == pytest.approx(0.8)
    assert (a.lo, a.hi) == pytest.approx((0.1, 0.4)) and a.median == pytest.approx(0.25)
    assert (b.runs, b.passed) == (5, 3)  # seed 5 never reached B
    assert rates["B"]["full"].runs == 1 and rates["B"]["full"].passed == 1
    assert rates["C"] == {}
    assert ss.format_rates(rates["C"]) == "no sweep runs"
    assert ss.format_rates(rates["A"]).splitlines() == [
        "quick: 4/5 (80 %), 1 run stopped before it; 0.1 – 0.4",
        "full: 1/1 (100 %); 0.05",
    ]


def test_pass_rates_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="claim_chapters"):
        ss.pass_rates(_table(), ["A"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "value", "target", "x", "holds"),
    [
        ("<=", 1e-12, None, 1e-13, True),
        ("<=", 1e-12, None, 1e-11, False),
        (">=", 10.0, None, 53.0, True),
        (">=", 10.0, None, 3.0, False),
        (">=", 10.0, None, -1.0, False),
        ("<=", -5.0, None, -16.0, True),
        ("<=", -5.0, None, -3.0, False),
        ("<=", -5.0, None, 1.0, False),
        (">=", -5.0, None, 2.0, True),
        (">=", -5.0, None, -6.0, False),
        ("abs_diff<=", 0.1, 1.0, 1.05, True),
        ("abs_diff<=", 0.1, 1.0, 0.85, False),
    ],
)
def test_threshold_ratio_is_at_most_one_iff_the_claim_holds(
    op: str, value: float, target: float | None, x: float, holds: bool
) -> None:
    from ctdepth_lib.claims import Claim

    assert (ss.threshold_ratio(SimpleNamespace(op=op, value=value, target=target), x) <= 1) == holds
    # the same verdict as the registry's own threshold test
    claim = Claim(
        id="X", statement="s", source="extension", chapter="ch/a", quantity="q", op=op, value=value, target=target
    )
    assert claim.holds(x) == holds
    assert math.isnan(ss.threshold_ratio(SimpleNamespace(op="==", value=0.0, target=None), 0.0))


def test_spread_figure_and_load_table(tmp_path: Path) -> None:
    df = _table()
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    loaded = ss.load_table(path)
    assert len(loaded) == len(df)
    claims = [
        SimpleNamespace(id="A", chapter="ch/a", op="<=", value=1.0, target=None),
        SimpleNamespace(id="B", chapter="ch/a", op="<=", value=5.5, target=None),
    ]
    png = ss.spread_figure(loaded, claims, "ch/a", tmp_path / "f.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError, match="no sweep table"):
        ss.load_table(tmp_path / "missing.parquet")
    df.drop(columns=["version"]).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="lacks the columns"):
        ss.load_table(tmp_path / "bad.parquet")


def test_reached_counts_the_runs_that_checked_the_claim() -> None:
    rates = ss.pass_rates(_table(), {"A": "ch/a", "B": "ch/a"})
    assert rates["A"]["quick"].reached == 4 and rates["B"]["quick"].reached == 4
    assert ss.format_rates(rates["B"]).splitlines()[0] == "quick: 3/5 (60 %), 1 run stopped before it; 3 – 6"


def _registry(tmp_path: Path, over_seeds: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text("claims: []\n" + over_seeds, encoding="utf-8")
    return path


def test_stated_rates_read_the_over_seeds_section(tmp_path: Path) -> None:
    path = _registry(tmp_path, "over_seeds:\n  B: {min_rate: 0.7, why: one training run can stall}\n")
    assert ss.stated_rates(path) == {"B": ss.StatedRate(0.7, "one training run can stall")}
    assert ss.stated_rates(_registry(tmp_path, "")) == {}
    assert set(ss.stated_rates()) <= set(__import__("ctdepth_lib").claims.registry())


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("over_seeds: [B]\n", "must map claim ids"),
        ("over_seeds:\n  B: {min_rate: 0.7}\n", "exactly the keys"),
        ("over_seeds:\n  B: {min_rate: 1.5, why: x}\n", "fraction in"),
        ("over_seeds:\n  B: {min_rate: 0.5, why: ''}\n", "why"),
    ],
)
def test_stated_rates_reject_a_malformed_section(tmp_path: Path, section: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ss.stated_rates(_registry(tmp_path, section))


def test_sweep_problems_name_every_unstated_failure() -> None:
    df = _table()
    df["run_status"] = "pass"
    chapters = {"A": "ch/a", "B": "ch/a"}
    problems = ss.sweep_problems(df, chapters, {})
    assert "claim B (quick): fails in 1 of 4 runs" in problems
    assert any("seed 4 (quick) stopped at B" in p for p in problems)
    # stated over seeds at 60 %: B's failure is allowed, the error of seed 5 is not
    df.loc[(df["seed"] == 5), "run_status"] = "error"
    problems = ss.sweep_problems(df, chapters, {"B": ss.StatedRate(0.6, "training")})
    assert problems == ["ch/a seed 5 (quick) stopped at <error>"]
    # a stated rate above the measured one is a problem
    problems = ss.sweep_problems(df, chapters, {"B": ss.StatedRate(0.9, "training")})
    assert "claim B (quick): holds in 3/5 runs, below its stated rate 90%" in problems


def test_format_rates_and_rate_sentence_state_the_rate() -> None:
    from ctdepth_lib.book.sweep_summary import RateSummary, StatedRate, format_rates, rate_sentence

    kinds = {"quick": RateSummary(50, 46, 0.5, 1.0, 1.7), "full": RateSummary(10, 10, 0.7, 0.9, 1.1)}
    assert rate_sentence(kinds) == "46 of 50 quick runs and 10 of 10 full runs"
    assert rate_sentence({"full": RateSummary(1, 1, 1.0, 1.0, 1.0)}) == "1 of 1 full run"
    assert rate_sentence({}) == "no sweep runs"
    text = format_rates(kinds, StatedRate(0.8, "training"))
    assert text.splitlines() == ["quick: 46/50 (92 %); 0.5 – 1.7", "full: 10/10 (100 %); 0.7 – 1.1",
                                 "stated: holds in ≥ 80 % of runs"]  # fmt: skip
    assert "stated" not in format_rates(kinds)


def test_run_times_are_medians_per_run_without_errors() -> None:
    df = _table()
    df["run_id"] = [f"{q}{s}" for q, s in zip(df["quick"], df["seed"])]
    df["seconds"] = [float(s) for s in df["seed"]]
    df["run_status"] = ["error" if s == 5 else "pass" for s in df["seed"]]
    times = ss.run_times(df)
    assert times == {"ch/a": {"quick": (2.5, 4), "full": (1.0, 1)}}  # seeds 1-4 once each; seed 5 errored
