"""The PDF of the whole book (`make pdf`, `_build/pdf/ctdepth.pdf`): every page, figures, links, outline.

`make test` writes the PDF (tools/make_pdf.py) just before this test. Checks: enough pages for
the whole book, the title of every page of `_toc.yml` in its text and in its outline
(bookmarks), the figures embedded as images, the table of contents' internal links resolving to
destinations inside the document, and no raw TeX or stored error output left in the text.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import cache
from pathlib import Path

import pypdf
import pytest

ROOT = Path(__file__).resolve().parents[2]
PDF = Path(os.environ.get("CTDEPTH_PDF", ROOT / "_build" / "pdf" / "ctdepth.pdf"))


@cache
def _reader() -> object:
    if not PDF.is_file():
        pytest.fail(f"no PDF at {PDF}: run `make pdf` (make test writes it before this test)")
    return pypdf.PdfReader(str(PDF))


def _titles() -> list[str]:
    from ctdepth_lib.book import toc_notebooks

    titles = []
    for nb in toc_notebooks(ROOT):
        import json

        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        first = "".join(cells[0]["source"]).splitlines()[0]
        titles.append(first.removeprefix("# ").strip())
    for page in ("claims.md", "corrections.md", "glossary.md", "rerun.md", "status.md", "references.md"):
        lines = (ROOT / page).read_text(encoding="utf-8").splitlines()  # after any front matter
        titles.append(next(line for line in lines if line.startswith("# ")).removeprefix("# ").strip())
    return titles


@cache
def _text() -> str:
    # NFKC undoes the typographic ligatures the PDF's fonts use ("ﬂow" → "flow", "diﬀerential")
    text = " ".join(p.extract_text() or "" for p in _reader().pages)  # type: ignore[attr-defined]
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))


def _flat(outline: list[object]) -> list[str]:
    out: list[str] = []
    for item in outline:
        out.extend(_flat(item) if isinstance(item, list) else [str(item.title)])  # type: ignore[attr-defined]
    return out


def test_every_page_of_the_book_is_in_the_pdf() -> None:
    reader = _reader()
    assert len(reader.pages) >= 60, f"only {len(reader.pages)} PDF pages"  # type: ignore[attr-defined]
    # compared without white space: the PDF breaks long titles over lines
    text = re.sub(r"\s+", "", _text())
    bookmarks = re.sub(r"\s+", "", "".join(_flat(reader.outline)))  # type: ignore[attr-defined]
    for title in _titles():
        plain = re.sub(r"\s+", "", title)
        assert plain in text, f"the PDF text lacks the page {title!r}"
        assert plain in bookmarks, f"the PDF outline lacks {title!r}"


def test_figures_are_embedded() -> None:
    n_images = sum(len(p.images) for p in _reader().pages)  # type: ignore[attr-defined]
    n_figures = sum(
        1
        for nb in (ROOT / "chapters").glob("*.ipynb")
        for line in nb.read_text(encoding="utf-8").splitlines()
        if '"image/png":' in line
    )
    assert n_figures > 0 and n_images >= n_figures, f"{n_images} images in the PDF for {n_figures} figures"


def test_internal_links_have_destinations() -> None:
    reader = _reader()
    internal = 0
    for page in reader.pages:  # type: ignore[attr-defined]
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") == "/Link" and ("/Dest" in a or a.get("/A", {}).get("/S") == "/GoTo"):
                internal += 1
    assert internal >= 50, f"only {internal} internal links in the PDF"
    local = [
        str(a.get_object().get("/A", {}).get("/URI"))
        for page in reader.pages  # type: ignore[attr-defined]
        for a in page.get("/Annots") or []
        if "127.0.0.1" in str(a.get_object().get("/A", {}).get("/URI", ""))
        or "localhost" in str(a.get_object().get("/A", {}).get("/URI", ""))
    ]
    assert not local, f"links to the local server that printed the PDF: {local[:5]}"


def test_no_raw_tex_or_errors_in_the_text() -> None:
    text = _text()
    # MathJax's delimiters left in the text mean a formula was not typeset (code cells may hold TeX)
    for bad in ("\\(", "\\)", "\\[", "Traceback (most recent call last)", "\\texttt"):
        assert bad not in text, f"the PDF text contains {bad!r}"


HTML = Path(os.environ.get("CTDEPTH_HTML", ROOT / "_build" / "check" / "_build" / "html"))


def _numbers(text: str) -> list[str]:
    from ctdepth_lib.outputs import NUMBER

    text = re.sub(r"(?<=\d[eE])[-−]\s+(?=\d)", "-", text)  # "1e-" at a line end, "12" on the next
    return [t.replace("−", "-") for t in NUMBER.findall(text)]


def _html_key_results(page: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    section = soup.find(id="key-results")
    assert section is not None, f"{page.name} has no Key results section"
    items = section.find("ul")
    assert items is not None, f"{page.name}: Key results holds no list"
    for math in items.select("span.math, div.math"):
        math.decompose()  # typeset formulas: the PDF prints them apart from the text
    return items.get_text(" ")


def _is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def test_key_results_show_the_same_numbers_on_the_web_and_in_the_pdf() -> None:
    """Both render the committed outputs: every number of a chapter's Key results is the same in both."""
    from ctdepth_lib.book import toc_notebooks

    chapters = toc_notebooks(ROOT)
    pdf = _text()
    starts = [m.start() for m in re.finditer(r"Key results", pdf)]
    assert len(starts) == len(chapters), f"{len(starts)} 'Key results' sections in the PDF for {len(chapters)} chapters"
    for nb, start, end in zip(chapters, starts, [*starts[1:], len(pdf)]):
        page = HTML / "chapters" / f"{nb.stem}.html"
        web = _numbers(_html_key_results(page))
        printed = _numbers(pdf[start:end])
        assert web, f"{nb.stem}: no number in the Key results of the web page"
        assert _is_subsequence(web, printed), (
            f"{nb.stem}: Key results on the web {web} are not the PDF's {printed[:60]}"
        )


def test_a_print_book_has_no_toggles() -> None:
    assert not re.search(r"Show\s+code\s+cell\s+(source|content|output)", _text()), "the PDF prints code toggles"


def test_bookmarks_read_as_the_headings() -> None:
    titles = _flat(_reader().outline)  # type: ignore[attr-defined]
    assert len(titles) >= 60
    for t in titles:
        assert t.strip() == t and "  " not in t, f"bookmark with stray spaces: {t!r}"
        doubled = re.search(r"(.{8,})\1", t)
        assert doubled is None, f"bookmark repeats itself: {t!r}"
        assert not re.search(r"[a-z][A-Z][a-z]", t.replace("ReLU", "").replace("ResNet", "").replace("TeX", "")), (
            f"words run together in bookmark {t!r}"
        )
    text = re.sub(r"\s+", "", _text())  # _text() has undone the ligatures ("ff", "fi")
    missing = [t for t in titles if re.sub(r"\s+", "", unicodedata.normalize("NFKC", t)) not in text]
    assert len(missing) <= len(titles) // 10, f"bookmarks that are no heading's text: {missing[:8]}"


def test_no_figure_is_split_across_pages() -> None:
    seen: dict[object, int] = {}
    for number, page in enumerate(_reader().pages):  # type: ignore[attr-defined]
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") != "/Image" or int(obj.get("/Width", 0)) < 200:
                continue
            key = getattr(ref, "idnum", id(obj))
            assert key not in seen, f"a figure is printed on pages {seen[key] + 1} and {number + 1}: split across pages"
            seen[key] = number
    assert seen, "no figure found in the PDF"
