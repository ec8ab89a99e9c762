"""Every chapter under papermill with its quick parameters and SEED = 3: all its claims pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from chapter_runs import CHAPTERS, check_seeded_quick_run


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_quick_run_seed_3(nb: Path) -> None:
    check_seeded_quick_run(nb, 3)
