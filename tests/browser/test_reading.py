"""The rendered pages read as prose: no Markdown or LaTeX residue, code folded away (no browser needed).

Scans every HTML page of `$CTDEPTH_HTML` (default `_build/check/_build/html`, the build `make
test` renders just before): no pipe-table residue, no raw LaTeX command outside math, no
parameter name where its value belongs, no emoji (which render as empty boxes without an emoji
font); on each chapter page visible code is at most a fifth of the text, and the page has its
Key results and its Summary.
"""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ctdepth_lib.book import toc_notebooks
from ctdepth_lib.book.notebooks import chapter_parameters

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("CTDEPTH_HTML", ROOT / "_build" / "check" / "_build" / "html"))
PAGES = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts) if HTML.is_dir() else []
CHAPTERS = toc_notebooks(ROOT)
MAX_VISIBLE_CODE = 0.20
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2705\u274c]")


class _Article(HTMLParser):
    """Text of the page's article, split into prose, visible code and folded code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.prose: list[str] = []
        self.code: list[str] = []
        self.folded: list[str] = []

    def _inside(self, tag: str, cls: str | None = None) -> bool:
        return any(t == tag and (cls is None or cls in c) for t, c in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "hr", "input", "meta", "link", "col", "wbr"):
            return
        self.stack.append((tag, set(str(dict(attrs).get("class") or "").split())))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not self._inside("article", "bd-article") or self._inside("script") or self._inside("style"):
            return
        if self._inside("div", "cell_input"):
            (self.folded if self._inside("details") else self.code).append(data)
        elif not self._inside("div", "cell_output") and not self._inside("details", "hide"):
            self.prose.append(data)


def _article(page: Path) -> _Article:
    parser = _Article()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _prose_html(page: Path) -> str:
    """The page's HTML without code blocks, math, scripts and styles."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"<(pre|script|style)\b.*?</\1>", "", text, flags=re.S)
    return re.sub(r'<(span|div) class="math[^"]*">.*?</\1>', "", text, flags=re.S)


def test_the_book_was_built() -> None:
    if not PAGES:
        pytest.fail(f"no built book at {HTML}: run `make test` (or build the book) first")


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(HTML).as_posix() for p in PAGES])
def test_no_markdown_or_latex_residue(page: Path) -> None:
    body = _prose_html(page)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    assert not re.search(r"\|\s*:?-{3,}:?\s*\|", text), "a pipe table rendered as text"
    latex = re.findall(r"\\[A-Za-z]{2,}", text)
    assert not latex, f"raw LaTeX outside math: {sorted(set(latex))[:5]}"
    assert not EMOJI.findall(text), f"emoji (empty boxes without an emoji font): {set(EMOJI.findall(text))}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_parameter_names_are_not_shown_for_their_values(nb: Path) -> None:
    page = HTML / nb.relative_to(ROOT).with_suffix(".html")
    body = _prose_html(page)
    for name in (p.name for p in chapter_parameters(nb) if "_" in p.name or len(p.name) >= 4):  # not T, D: symbols too
        hit = re.search(rf"=\s*(?:<[^>]*>\s*)*{name}\b", body)
        assert hit is None, f"{page.name}: the prose shows the parameter {name} where its value belongs"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_code_is_folded_and_the_argument_comes_first(nb: Path) -> None:
    page = HTML / nb.relative_to(ROOT).with_suffix(".html")
    art = _article(page)
    prose, code = "".join(art.prose), "".join(art.code)
    share = len(code) / (len(prose) + len(code))
    assert share <= MAX_VISIBLE_CODE, f"{page.name}: visible code is {share:.0%} of the text"
    assert art.folded, f"{page.name}: no folded code cells (hide-input)"
    article = page.read_text(encoding="utf-8").split('<article class="bd-article">', 1)[-1].split("</article>", 1)[0]
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", article, flags=re.S)
    titles = [html.unescape(re.sub(r"<[^>]+>", "", h)).strip().rstrip("#¶ ").strip() for h in headings]
    assert titles and titles[0] == "Key results", f"{page.name}: the first section is {titles[:1]}, not Key results"
    assert titles[-1] == "Summary", f"{page.name}: the last section is {titles[-1:]}, not Summary"


def _page(name: str) -> str:
    path = HTML / name
    if not path.is_file():
        pytest.fail(f"no page {name} in {HTML}")
    return path.read_text(encoding="utf-8")


def test_claims_page_groups_rows_by_chapter_and_links_every_claim_to_its_box() -> None:
    from ctdepth_lib.claims import registry

    text = _page("claims.html")
    groups = re.findall(r'<p class="ctdepth-claims-chapter" id="claims-([\w-]+)">', text)
    assert groups == [nb.stem for nb in CHAPTERS], f"chapter groups {groups}"
    for cid, claim in registry().items():
        row = re.search(rf'<tr class="[^"]*" id="claim-{re.escape(cid.lower())}">(.*?)</tr>', text, flags=re.S)
        assert row, f"no row for claim {cid}"
        link = re.search(r'<a class="[^"]*ctdepth-claim-box-link[^"]*" href="([^"]+)"', row.group(1))
        assert link and link.group(1).endswith(f"#box-{cid.lower()}"), f"claim {cid}: the row does not link its box"
        if claim.source == "correction":
            assert "Naive reading:" in row.group(1) and "correction confirmed" in row.group(1), cid
    assert "<sub>" in text, "plain-text math (x_{n+1}) is not rendered with subscripts"


def test_corrections_page_gives_naive_reading_correct_statement_and_evidence() -> None:
    from ctdepth_lib.claims import registry

    text = html.unescape(re.sub(r"<[^>]+>", "", _page("corrections.html")))
    for cid in (c.id for c in registry().values() if c.source == "correction"):
        entry = text.split(f"Claim {cid} (correction confirmed).", 1)
        assert len(entry) == 2, f"no confirmed entry for correction {cid}"
        body = entry[1][:2000]
        for part in ("Naive reading:", "Correct statement:", "Evidence:"):
            assert part in body, f"correction {cid}: no {part!r}"


def test_rerun_page_explains_quick_and_shows_run_times_and_exercises() -> None:
    text = _page("rerun.html")
    assert "Quick parameters." in text
    assert len(re.findall(r'class="ctdepth-run-time"', text)) == len(CHAPTERS)
    for nb in CHAPTERS:
        anchor = "try-" + nb.stem.replace("_", "-")  # the (try-NN_name)= target, as docutils spells ids
        assert f'href="chapters/{nb.stem}.html#{anchor}"' in text, f"no link to {nb.stem}'s exercises"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_claim_boxes_are_styled_by_source_and_exercises_fold_their_answers(nb: Path) -> None:
    text = _page(nb.relative_to(ROOT).with_suffix(".html").as_posix())
    boxes = re.findall(r'<div class="([^"]*\badmonition\b[^"]*)"', text)
    claim_boxes = [b for b in boxes if "ctdepth-claim" in b.split()]
    assert claim_boxes, f"{nb.stem}: no claim box carries a source style"
    assert all(re.search(r"ctdepth-claim-(paper|reconstruction|correction|extension|pitfall)", b) for b in claim_boxes)
    assert f'id="try-{nb.stem.replace("_", "-")}"' in text, f"{nb.stem}: no Try it yourself target"
    answers = [b for b in boxes if "dropdown" in b.split()]
    assert len(answers) >= 2, f"{nb.stem}: {len(answers)} folded answers, expected two or more exercises"
