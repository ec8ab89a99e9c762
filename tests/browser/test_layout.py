"""Nothing hidden, nothing too small: the layout of every chapter at 1280 px and 400 px, and in print.

In headless Chromium (offline, as tests/browser/test_pages.py), for each chapter page of `_toc.yml`
and the Claims page:

* **figures at reading size** (1280 px): each figure is shown at no less than 80 % of its natural
  size — its image pixels, one per CSS pixel — so that ticks and legends keep their size;
* **nothing overflows** (1280 px): no display equation, table or code block is wider than its box
  (nothing is clipped or needs a scroll bar), and the page itself never scrolls sideways;
* **phones** (400 px): the page never scrolls sideways; an equation, table or code block wider than
  the screen scrolls inside its own box; the claims ledger is a card per claim, every cell within
  the screen;
* **print** (the PDF's layout: A4 with 15 mm margins, print media): no equation, table, code block
  or figure is wider than the page, and no "Show code cell source" toggle is printed.

The book is read from `$CTDEPTH_HTML` (default `_build/check/_build/html`, as `make test` builds it).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import pytest
from test_pages import HTML, ROOT, _Quiet, _require_browser

CHAPTERS = sorted(p.relative_to(HTML).as_posix() for p in (HTML / "chapters").glob("*.html")) if HTML.is_dir() else []
SINGLE = HTML.parent / "singlehtml" / "intro.html"
A4_CONTENT_PX = round((210 - 30) / 25.4 * 96)  # the PDF's text width: A4 less two 15 mm margins

_OVERFLOW_JS = """
(sel) => {
  const out = [];
  document.querySelectorAll(sel).forEach(e => {
    if (e.offsetParent === null) return;  // not displayed
    const over = e.scrollWidth - e.clientWidth;
    if (over > 2) {
      const style = getComputedStyle(e);
      out.push({what: e.tagName.toLowerCase() + '.' + (e.className || '').toString().split(' ')[0],
                text: (e.textContent || '').trim().slice(0, 60), over: over,
                scrolls: ['auto', 'scroll'].includes(style.overflowX)});
    }
  });
  return out;
}
"""
WIDE = "mjx-container[display='true'], div.math, table, div.highlight pre, div.cell_output pre, div.output pre"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not HTML.is_dir():
        pytest.fail(f"no built book at {HTML}: run `make test` (or build the book) first")
    root = HTML.parent  # html/ and singlehtml/ side by side
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=exe, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield b
        b.close()


def _open(browser: object, url: str, width: int, *, media: str = "screen") -> object:
    context = browser.new_context(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url.split("html")[0]) else r.abort())
    pg = context.new_page()
    pg.emulate_media(media=media)
    pg.goto(url, wait_until="load")
    pg.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
    pg.wait_for_timeout(200)
    return pg


def test_chapters_found() -> None:
    assert len(CHAPTERS) >= 5, f"chapter pages under {HTML}: {CHAPTERS}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_figures_are_shown_at_reading_size(page: str, server: str, browser: object) -> None:
    pg = _open(browser, f"{server}html/{page}", 1280)
    figs = pg.evaluate(  # type: ignore[attr-defined]
        """() => Array.from(document.querySelectorAll('div.cell_output img')).filter(i => i.naturalWidth > 0)
             .map(i => ({id: (i.closest('figure') || {}).id || '', ratio: i.getBoundingClientRect().width / i.naturalWidth}))"""
    )
    small = [(f["id"], round(f["ratio"], 2)) for f in figs if f["ratio"] < 0.8]
    assert not small, f"{page}: figures shown below 80 % of their size at 1280 px (draw them narrower): {small}"
    pg.context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("page", [*CHAPTERS, "claims.html", "intro.html"])
def test_nothing_overflows_at_1280(page: str, server: str, browser: object) -> None:
    pg = _open(browser, f"{server}html/{page}", 1280)
    page_over = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")  # type: ignore[attr-defined]
    assert page_over <= 0, f"{page}: the page scrolls sideways by {page_over} px at 1280 px"
    over = pg.evaluate(_OVERFLOW_JS, WIDE)  # type: ignore[attr-defined]
    assert not over, f"{page}: wider than their box at 1280 px: {over[:6]}"
    pg.context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("page", [*CHAPTERS, "claims.html", "intro.html"])
def test_phones_never_scroll_the_page(page: str, server: str, browser: object) -> None:
    pg = _open(browser, f"{server}html/{page}", 400)
    page_over = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")  # type: ignore[attr-defined]
    assert page_over <= 0, f"{page}: the page scrolls sideways by {page_over} px at 400 px"
    over = [o for o in pg.evaluate(_OVERFLOW_JS, WIDE) if not o["scrolls"]]  # type: ignore[attr-defined]
    assert not over, f"{page}: wider than the screen without scrolling in their own box at 400 px: {over[:6]}"
    pg.context.close()  # type: ignore[attr-defined]


def test_the_ledger_is_a_card_per_claim_on_a_phone(server: str, browser: object) -> None:
    pg = _open(browser, f"{server}html/claims.html", 400)
    cells = pg.evaluate(  # type: ignore[attr-defined]
        """() => Array.from(document.querySelectorAll('table.ctdepth-claims tbody td')).map(td => {
             const r = td.getBoundingClientRect(); return {w: r.width, right: r.right, label: getComputedStyle(td, '::before').content};
           })"""
    )
    assert len(cells) >= 8 * 90, f"only {len(cells)} ledger cells"
    assert all(c["right"] <= 400 + 1 for c in cells), "ledger cells run off a 400 px screen"
    assert min(c["w"] for c in cells) >= 300, "ledger cells narrower than the screen: not a card layout"
    labelled = [c for c in cells if c["label"] not in ("none", "normal", "")]
    assert len(labelled) >= 6 * 90, "the card's cells are not labelled with their column"
    pg.context.close()  # type: ignore[attr-defined]


def test_print_layout_fits_the_page(server: str, browser: object) -> None:
    if not SINGLE.is_file():
        pytest.fail(f"no single-page build at {SINGLE}: make test builds it (tools/make_pdf.py) before this test")
    pg = _open(browser, f"{server}singlehtml/intro.html", A4_CONTENT_PX, media="print")
    over = pg.evaluate(_OVERFLOW_JS, WIDE + ", div.cell_output img, figure")  # type: ignore[attr-defined]
    assert not over, f"in print, wider than the page: {over[:8]}"
    toggles = pg.evaluate(  # type: ignore[attr-defined]
        """() => Array.from(document.querySelectorAll('summary')).filter(s => s.offsetParent !== null
             && /Show code cell/.test(s.textContent)).length"""
    )
    assert toggles == 0, f"{toggles} 'Show code cell source' toggles are printed"
    pg.context.close()  # type: ignore[attr-defined]


def test_root_is_the_book() -> None:
    assert (ROOT / "_toc.yml").is_file()
