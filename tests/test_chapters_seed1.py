"""Every chapter under papermill with its quick parameters and SEED = 1: all its claims pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from chapter_runs import CHAPTERS, check_seeded_quick_run


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_quick_run_seed_1(nb: Path) -> None:
    check_seeded_quick_run(nb, 1)


def test_robustness_seeds_are_the_test_modules() -> None:
    from ctdepth_lib.notebooks import ROBUSTNESS_SEEDS

    here = Path(__file__).parent
    assert {int(p.stem.removeprefix("test_chapters_seed")) for p in here.glob("test_chapters_seed*.py")} == set(
        ROBUSTNESS_SEEDS
    )
