"""Shared by the chapter tests: the chapters of the table of contents and one seeded quick run.

The robustness runs are split into one test module per seed (test_chapters_seed1.py, …) so
that `pytest -n 2 --dist loadfile` — which keeps each nbval notebook on one worker — also
spreads the papermill runs over both workers.
"""

from __future__ import annotations

from pathlib import Path

from ctdepth_lib import claims
from ctdepth_lib.book import toc_notebooks
from ctdepth_lib.notebooks import quick_parameters, run_chapter, seed_run_path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = toc_notebooks(ROOT)
SEED_RUNS = ROOT / "_build" / "seeds"


def check_seeded_quick_run(nb: Path, seed: int) -> None:
    """Run ``nb`` with its quick parameters and ``seed`` into `_build/seeds/`; every claim of the chapter passes."""
    assert seed != 0, "the robustness seeds differ from the committed SEED = 0"
    out = seed_run_path(SEED_RUNS, nb, seed)
    before = nb.read_bytes()
    run_chapter(nb, out, quick_parameters(nb) | {"SEED": seed})
    assert nb.read_bytes() == before, "papermill must never write over the committed notebook"
    docname = nb.relative_to(ROOT).with_suffix("").as_posix()
    mine = {cid: c for cid, c in claims.registry().items() if c.chapter == docname}
    assert mine, f"{docname} registers no claim"
    for row in claims.ledger_rows(claims.collect([out]), mine):
        assert row.verdict == "pass", f"claim {row.claim.id} under SEED={seed}: {row.verdict}"
        assert row.seed == seed
