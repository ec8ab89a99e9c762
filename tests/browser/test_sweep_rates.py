"""The built book states the committed sweep's pass rates where it says a claim holds over seeds.

Reads `$CTDEPTH_HTML` (default `_build/check/_build/html`, rendered by `make test` just before):
every `{sweep-rate}` in a chapter shows the rate of the committed table, and the Claims page
gives every claim stated over seeds (`over_seeds:` in claims.yaml) its stated rate.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from ctdepth_lib import claims
from ctdepth_lib.book.sweep_summary import SWEEP_TABLE, load_table, pass_rates, rate_sentence, stated_rates

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("CTDEPTH_HTML", ROOT / "_build" / "check" / "_build" / "html"))


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def rates() -> dict:
    if not (ROOT / SWEEP_TABLE).is_file():
        pytest.skip("no committed sweep")
    return pass_rates(load_table(ROOT / SWEEP_TABLE), {cid: c.chapter for cid, c in claims.registry().items()})


def test_every_claim_stated_over_seeds_shows_its_rate_in_its_chapter(rates: dict) -> None:
    for cid, stated in stated_rates().items():
        page = HTML / f"{claims.registry()[cid].chapter}.html"
        spans = re.findall(r'<span class="ctdepth-sweep-rate">(.*?)</span>', page.read_text(encoding="utf-8"))
        words = f"{rate_sentence(rates[cid])} (stated: in at least {100 * stated.min_rate:.0f} % of runs)"
        assert words in [html.unescape(s) for s in spans], f"{page.name}: no sweep rate of {cid} ({words})"


def test_the_claims_page_gives_the_stated_rates(rates: dict) -> None:
    text = _text(HTML / "claims.html")
    for cid, stated in stated_rates().items():
        assert f"stated: holds in ≥ {100 * stated.min_rate:.0f} % of runs" in text, cid
    assert "no sweep runs" not in text
