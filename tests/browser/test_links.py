"""Every link in the built book works or is absent (no browser needed).

Walks every HTML page of `$CTDEPTH_HTML` (default `_build/check/_build/html`, the build that
`make test` renders just before this test): every internal link and image resolves to a file,
every `#anchor` exists on its target page, and every external link has one of the stable forms
the book allows — a DOI, an arXiv entry, a file of a GitHub repository pinned to a commit (a
cited source such as the author's slides), or the repository configured in `_config.yml` (and its
Binder launch). While no repository is configured, no page links to any repository at all.
"""

from __future__ import annotations

import os
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("CTDEPTH_HTML", ROOT / "_build" / "check" / "_build" / "html"))
PLACEHOLDER = "github.com/ctdepth/ctdepth"


def _repository() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = str((config.get("repository") or {}).get("url") or "").strip().rstrip("/")
    return "" if PLACEHOLDER in url else url


def allowed_external(url: str, repository: str) -> bool:
    """Whether ``url`` is one of the stable external forms the book may link to."""
    if url.startswith("https://doi.org/10.") or re.match(r"https://arxiv\.org/(abs|pdf)/\d{4}\.\d{4,5}", url):
        return True
    if re.match(r"https://github\.com/[\w.-]+/[\w.-]+/blob/[0-9a-f]{40}/\S+$", url):  # a file at a fixed commit
        return True
    if repository:
        repo = repository.removeprefix("https://github.com/")
        return (
            url == repository
            or url.startswith(repository + "/")
            or url.startswith(f"https://mybinder.org/v2/gh/{repo}/")
        )
    return False


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(str(a[key]))
        for key in ("href", "src"):
            value = a.get(key)
            if value and not (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")):
                self.links.append(value)


@cache
def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


PAGES = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts) if HTML.is_dir() else []


def test_the_book_was_built() -> None:
    if not PAGES:
        pytest.fail(f"no built book at {HTML}: run `make test` (or build the book) first")


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(HTML).as_posix() for p in PAGES])
def test_every_link_resolves_or_is_an_allowed_external_form(page: Path) -> None:
    repository = _repository()
    base = "file://" + page.as_posix()
    bad = []
    for link in _parse(page).links:
        if link.startswith(("mailto:", "javascript:", "data:")):
            continue
        parts = urlparse(urljoin(base, link))
        if parts.scheme in ("http", "https"):
            if not allowed_external(link, repository):
                bad.append(f"external link not in the allow-list: {link}")
            continue
        target = Path(unquote(parts.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            bad.append(f"broken link: {link}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
            bad.append(f"missing anchor: {link}")
    assert not bad, f"{page.relative_to(HTML)}:\n" + "\n".join(sorted(set(bad)))


def test_no_placeholder_repository_anywhere() -> None:
    hits = [
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*")
        if p.is_file()
        and p.suffix in (".html", ".js", ".txt")
        and PLACEHOLDER in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert not hits, f"the placeholder repository URL appears in {hits}"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://doi.org/10.1137/151002769", True),
        ("https://arxiv.org/abs/1909.03767", True),
        ("https://papermill.readthedocs.io", False),
        ("https://github.com/someone/else", False),
        ("https://github.com/o/r/blob/d30c6907b6350c11d555b3aaf59d96332d97b9f6/ml/talk.pdf", True),
        ("https://github.com/o/r/blob/master/ml/talk.pdf", False),
    ],
)
def test_allow_list(url: str, ok: bool) -> None:
    assert allowed_external(url, "") == ok
    assert allowed_external("https://github.com/o/r/issues/1", "https://github.com/o/r")
    assert not allowed_external("https://github.com/o/rr", "https://github.com/o/r")
