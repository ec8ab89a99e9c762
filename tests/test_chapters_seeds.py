"""Every chapter of the table of contents under papermill, with its quick parameters
and each of the robustness seeds (none of them the committed SEED = 0).

The runs are written to `_build/seeds/` (never over a committed notebook); the book's
Claims page shows their spread. Every claim registered for the chapter must be checked
and pass under every seed. nbval (run by `make test` on the same notebooks) separately
proves that a fresh full run reproduces the committed outputs; bad parameters are
tested in tests/test_chapters_bad_parameters.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctdepth_lib import claims
from ctdepth_lib.book import toc_notebooks
from ctdepth_lib.notebooks import ROBUSTNESS_SEEDS, quick_parameters, run_chapter, seed_run_path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = toc_notebooks(ROOT)
SEED_RUNS = ROOT / "_build" / "seeds"


def _quick(nb: Path) -> dict[str, Any]:
    return quick_parameters(nb)


def _run(nb: Path, out: Path, params: dict[str, Any]) -> None:
    run_chapter(nb, out, params)


def test_chapters_exist() -> None:
    assert CHAPTERS, "the table of contents lists no chapter notebook"


CASES = [(nb, seed) for nb in CHAPTERS for seed in ROBUSTNESS_SEEDS]


@pytest.mark.parametrize(("nb", "seed"), CASES, ids=[f"{p.stem}-seed{s}" for p, s in CASES])
def test_quick_run_with_other_seeds(nb: Path, seed: int) -> None:
    assert seed != 0
    out = seed_run_path(SEED_RUNS, nb, seed)
    before = nb.read_bytes()
    _run(nb, out, _quick(nb) | {"SEED": seed})
    assert nb.read_bytes() == before, "papermill must never write over the committed notebook"
    docname = nb.relative_to(ROOT).with_suffix("").as_posix()
    mine = {cid: c for cid, c in claims.registry().items() if c.chapter == docname}
    assert mine, f"{docname} registers no claim"
    for row in claims.ledger_rows(claims.collect([out]), mine):
        assert row.verdict == "pass", f"claim {row.claim.id} under SEED={seed}: {row.verdict}"
        assert row.seed == seed
