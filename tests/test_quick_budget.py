"""tools/quick_budget.py: the scaling of a run's time to the issue's machine and the verdict (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import quick_budget  # noqa: E402


def test_scaled_divides_by_this_machines_reference_and_multiplies_by_the_issues() -> None:
    # here the reference took 14 s and 24 s: this machine is twice as slow as the issue's (7 s, 12 s)
    assert quick_budget.scaled(40.0, {8: 14.0, 16: 24.0}) == pytest.approx({8: 20.0, 16: 20.0})
    assert quick_budget.scaled(30.0, {8: 7.0}) == pytest.approx({8: 30.0})


@pytest.mark.parametrize(
    ("times", "budget", "expected"),
    [([19.0, 21.0, 20.0], 20.0, (20.0, True)), ([19.0, 21.0, 22.0], 20.0, (21.0, False)), ([85.0], 90.0, (85.0, True))],
)
def test_verdict_is_the_median_against_the_budget(times: list[float], budget: float, expected: tuple) -> None:
    assert quick_budget.verdict(times, budget) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quick_budget.scaled(0.0, {8: 7.0}), "run_seconds must be > 0; got 0.0"),
        (lambda: quick_budget.scaled(10.0, {4: 7.0}), "no reference time for 4 channels"),
        (lambda: quick_budget.scaled(10.0, {8: -1.0}), r"reference_here\[8\] must be > 0; got -1.0"),
        (lambda: quick_budget.verdict([], 20.0), "at least one time"),
        (lambda: quick_budget.verdict([1.0], 0.0), "budget must be > 0 seconds; got 0.0"),
    ],
)
def test_bad_input_names_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
