"""The committed seed sweep (data/sweep/results.parquet) is complete and not stale.

Stale means a chapter's code cells, its quick parameters, its registered claims or the science
modules of ctdepth_lib changed since the sweep ran (`ctdepth_lib.book.sweep_plan.code_version`). Refresh it
with the commands in data/sweep/README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctdepth_lib import claims
from ctdepth_lib.book import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "data" / "sweep" / "results.parquet"
MIN_QUICK_SEEDS, MIN_FULL_SEEDS = 50, 10


@pytest.fixture(scope="module")
def table() -> object:
    if not TABLE.is_file():
        pytest.skip("no committed sweep yet (data/sweep/results.parquet): see data/sweep/README.md")
    from ctdepth_lib.book.sweep_summary import load_table

    return load_table(TABLE)


@pytest.mark.parametrize("nb", toc_notebooks(ROOT), ids=lambda p: p.stem)
def test_sweep_covers_every_chapter_and_is_current(nb: Path, table: object) -> None:
    from ctdepth_lib.book.sweep_plan import code_version

    docname = nb.relative_to(ROOT).with_suffix("").as_posix()
    mine = table[table["chapter"] == docname]  # type: ignore[index]
    runs = mine.drop_duplicates(["quick", "seed", "parameters"])
    n_quick, n_full = int(runs["quick"].sum()), int((~runs["quick"]).sum())
    assert n_quick >= MIN_QUICK_SEEDS and n_full >= MIN_FULL_SEEDS, f"{docname}: {n_quick} quick, {n_full} full runs"
    stale = set(mine["version"]) - {code_version(nb)}
    assert not stale, f"{docname}: the committed sweep is stale (refresh it: data/sweep/README.md)"
    registered = {cid for cid, c in claims.registry().items() if c.chapter == docname}
    assert registered <= set(mine["claim"]), (
        f"{docname}: claims missing from the sweep: {registered - set(mine['claim'])}"
    )


def test_every_claim_holds_in_every_run_or_at_its_stated_rate(table: object) -> None:
    """A claim not stated over seeds (claims.yaml `over_seeds:`) passes in every run of the sweep;
    a stated one at least at its stated rate; no run ended in a cell error or a timeout."""
    from ctdepth_lib.book.sweep_summary import stated_rates, sweep_problems

    chapters = {cid: c.chapter for cid, c in claims.registry().items()}
    assert sweep_problems(table, chapters, stated_rates()) == []
    assert set(stated_rates()) <= set(chapters), "over_seeds names a claim the registry does not have"
    statuses = set(table["run_status"])  # type: ignore[index]
    assert statuses <= {"pass", "fail"}, f"runs that did not finish: {statuses - {'pass', 'fail'}}"
