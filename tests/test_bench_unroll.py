"""Tests of ctdepth_lib.bench.unroll: the verdict on made-up timings (the bench itself is not a timed test)."""

from __future__ import annotations

import pytest

from ctdepth_lib.__main__ import main
from ctdepth_lib.bench.unroll import TARGET_RATIO, bench_unroll, unroll_verdict


def test_the_verdict_is_on_the_median_of_the_runs() -> None:
    ok, text = unroll_verdict([0.98, 1.20, 1.01, 0.99, 1.30])  # one slow run does not decide: median 1.01
    assert ok and text.startswith("median ratio 1.010 over 5 runs (0.980, 1.200, 1.010, 0.990, 1.300): meets")
    ok, text = unroll_verdict([1.06, 0.90, 1.07, 1.10, 1.02])  # median 1.06 > 1.05
    assert not ok and "MISSES the target <= 1.05" in text
    assert unroll_verdict([1.05]) == (True, "median ratio 1.050 over 1 runs (1.050): meets the target <= 1.05")
    assert unroll_verdict([1.2, 1.3], target=1.25)[0]  # an even count: the mean of the middle two
    assert TARGET_RATIO == 1.05


@pytest.mark.parametrize(
    ("ratios", "target", "match"),
    [
        ([], 1.05, r"^ratios must be"),
        ([1.0, float("nan")], 1.05, r"^ratios must be"),
        ([0.0], 1.05, r"^ratios"),
        ([1.0], 0.0, r"^target"),
    ],
)
def test_unroll_verdict_rejects(ratios: list, target: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        unroll_verdict(ratios, target)


def test_main_exits_non_zero_when_the_target_is_missed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ctdepth_lib.bench.unroll as bench

    def fake(ratios: list[float]):
        ok, verdict = unroll_verdict(ratios)
        return lambda **kwargs: {
            "resnet_unroll_s": 0.1,
            "torchdiffeq_euler_s": 0.1,
            "ratios": ratios,
            "ratio": 1.0,
            "ok": ok,
            "verdict": verdict,
        }

    monkeypatch.setattr(bench, "bench_unroll", fake([1.2, 1.1, 1.3]))
    assert main(["bench", "--runs", "3"]) == 1
    assert "MISSES" in capsys.readouterr().out
    monkeypatch.setattr(bench, "bench_unroll", fake([0.9, 1.0, 0.95]))
    assert main(["bench"]) == 0


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"d": 0}, ValueError, r"^d must be an integer >= 1"),
        ({"n_steps": 10.0}, TypeError, r"^n_steps must be an integer"),
        ({"repeats": 0}, ValueError, r"^repeats must be an integer >= 1"),
        ({"min_run_time": 0.0}, ValueError, r"^min_run_time must be a finite number > 0"),
    ],
)
def test_bench_unroll_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        bench_unroll(**bad)
