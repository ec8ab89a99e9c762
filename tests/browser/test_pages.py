"""The rendered book as a reader meets it, in a real browser (headless Chromium, offline).

Serves the built HTML on localhost, opens every page in Debian's Chromium through
Playwright (which never downloads a browser of its own here), blocks and records every
request that leaves localhost, and checks each page: no JavaScript console errors, every
image loaded, all math rendered by the bundled MathJax (no raw TeX left), no stored error
output, every internal link and anchor resolving. A screenshot of each page is saved under
`_build/screenshots/` for a human to look at.

The book is read from `$CTDEPTH_HTML` (default `_build/check/_build/html`, the build that
`make test` renders just before this test). Where Chromium is missing the test skips loudly,
except under CI (`CI=true`), where it fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("CTDEPTH_HTML", ROOT / "_build" / "check" / "_build" / "html"))
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
PAGES = (
    sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if "_static" not in p.parts and p.name != "index.html"
    )
    if HTML.is_dir()
    else []
)
SKIP_LINK_CHECK = {"genindex.html", "search.html"}


def _require_browser() -> str:
    if CHROMIUM is None:
        msg = "Chromium is not installed (apt-get install chromium): the browser test CANNOT run"
        if os.environ.get("CI"):
            pytest.fail(msg)
        warnings.warn(msg, stacklevel=2)
        pytest.skip(msg)
    return CHROMIUM


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not HTML.is_dir():
        pytest.fail(f"no built book at {HTML}: run `make test` (or build the book) first")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=exe,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield b
        b.close()


def test_pages_found() -> None:
    assert "intro.html" in PAGES and any(p.startswith("chapters/") for p in PAGES), f"pages found under {HTML}: {PAGES}"


def _local_target(base: str, page_url: str, href: str) -> tuple[Path, str] | None:
    url = urljoin(page_url, href)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not url.startswith(base):
        return None
    rel = unquote(parsed.path[len(urlparse(base).path) :]) or "index.html"
    path = HTML / rel
    if path.is_dir():
        path = path / "index.html"
    return path, parsed.fragment


def test_index_redirects_to_intro(server: str, browser: object) -> None:
    pg = browser.new_page()  # type: ignore[attr-defined]
    pg.goto(server + "index.html")
    pg.wait_for_url("**/intro.html")
    assert pg.title().startswith("Deep networks as differential equations")
    pg.close()


@pytest.mark.parametrize("page", PAGES)
def test_page(page: str, server: str, browser: object, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    outside: list[str] = []

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        host = urlparse(url).hostname
        if host in ("127.0.0.1", "localhost") or url.startswith(("data:", "blob:")):
            r.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            r.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    url = server + page
    pg.goto(url, wait_until="load")
    pg.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
    pg.wait_for_timeout(200)

    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)

    assert not outside, f"{page} fetched from outside localhost: {outside}"
    assert not errors, f"{page}: {errors}"

    broken = pg.evaluate(
        "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken, f"{page}: images that did not load: {broken}"

    math = pg.evaluate(
        """() => {
        const els = Array.from(document.querySelectorAll('.math'));
        return {total: els.length, unrendered: els.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))};
    }"""
    )
    assert not math["unrendered"], f"{page}: math MathJax did not render: {math['unrendered'][:5]}"
    text = pg.inner_text("article") if pg.query_selector("article") else pg.inner_text("body")
    # The prose (code and program output, where TeX in strings is legitimate, removed):
    prose = pg.evaluate(
        """() => {
        const root = (document.querySelector('article') || document.body).cloneNode(true);
        root.querySelectorAll('pre, code, mjx-container, script, style').forEach(e => e.remove());
        return root.innerText;
    }"""
    )
    raw = re.findall(r"\\\(|\\\[|\$\$|\$[^$\s][^$]*\\[a-zA-Z]+[^$]*\$", prose)
    assert not raw, f"{page}: raw TeX left in the text: {raw[:5]}"

    assert "Traceback (most recent call last)" not in text, f"{page}: a stored output is a traceback"
    assert pg.query_selector_all(".output.traceback, .output.error") == [], f"{page}: a stored error output"

    if page not in SKIP_LINK_CHECK:
        hrefs = pg.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
        missing = []
        for href in hrefs:
            target = _local_target(server, url, href)
            if target is None:
                continue
            path, fragment = target
            if not path.is_file():
                missing.append(href)
            elif fragment and path.suffix == ".html" and f'id="{fragment}"' not in path.read_text(encoding="utf-8"):
                missing.append(href)
        assert not missing, f"{page}: internal links that do not resolve: {missing}"
    context.close()
