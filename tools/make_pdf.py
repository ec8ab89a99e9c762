"""`make pdf`: the whole book as one PDF, `_build/pdf/ctdepth.pdf`, built offline.

1. Sphinx's `singlehtml` builder renders every page of `_toc.yml` into one HTML page, from the
   committed (nbval-checked) outputs — the same outputs the HTML book shows — into
   `_build/pdf/html`.
2. Debian's Chromium — the browser the browser test already uses, driven by Playwright — opens
   that page from a local server with every request outside localhost blocked, waits for the
   bundled MathJax to typeset every formula, starts each page of the book on a new PDF page
   after the theme's printed table of contents (whose entries link to the pages), and prints it
   to PDF with a document outline (bookmarks), page numbers in the footer and the internal links
   kept as links.
3. The PDF is copied beside the HTML book (`_build/html/ctdepth.pdf`, and into the build of
   `--path-output`), where the introduction links it.

Chromium rather than LaTeX: it renders exactly the HTML and MathJax a reader sees, needs no TeX
installation (several hundred MB) and is already installed for the browser test.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from build_check import JUPYTER_BOOK  # tools/ is this script's folder: sys.path[0]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "pdf"
PDF = OUT / "ctdepth.pdf"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Inserted before printing: a table of contents of the book's pages (the h2 of each page in
# singlehtml), each entry a link into the document, and print rules that keep figures whole.
_PRINT_JS = """
() => {
  const marks = [...document.querySelectorAll('span[id^="document-"]')];
  const pages = marks.map(m => m.nextElementSibling).filter(s => s && s.tagName === 'SECTION');
  pages.forEach(s => s.classList.add('ctdepth-pdf-page'));
  // the introduction's link to this very PDF would point at the local server: keep its text only
  document.querySelectorAll('a[href$="ctdepth.pdf"]').forEach(a => a.replaceWith(...a.childNodes));
  const style = document.createElement('style');
  style.textContent = `
    #jb-print-toc { break-after: page; }
    #jb-print-toc li { margin: 0.3em 0; }
    section.ctdepth-pdf-page { break-before: page; }
    figure, img, table { break-inside: avoid; }
    .headerlink { display: none !important; }
  `;
  document.head.appendChild(style);
  const toc = [...document.querySelectorAll('#jb-print-toc a[href^="#document-"]')];
  const ok = toc.filter(a => document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))));
  return [pages.length, toc.length, ok.length];
}
"""


# The text of every heading, in document order, as a reader should see it in the PDF's outline:
# without the "¶" link, with each typeset formula as the text of its MathML (MathJax's assistive copy).
_HEADINGS_JS = """
() => Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]')).filter(h => h.offsetParent !== null).map(h => {
  const c = h.cloneNode(true);
  c.querySelectorAll('.headerlink, .toc-backref').forEach(e => e.remove());
  c.querySelectorAll('mjx-container').forEach(m => {
    const mml = m.querySelector('mjx-assistive-mml');
    m.replaceWith(document.createTextNode(mml ? mml.textContent : ''));
  });
  return c.textContent.replace(/\\s+/g, ' ').trim();
})
"""


def _outline_items(outlines: object) -> list[object]:
    """The outline's items (PDF dictionaries) in document order, depth first."""
    items: list[object] = []
    node = outlines.get("/First")  # type: ignore[attr-defined]
    while node is not None:
        item = node.get_object()
        items.append(item)
        if "/First" in item:
            items.extend(_outline_items(item))
        node = item.get("/Next")
    return items


def readable_bookmarks(pdf: Path, titles: list[str]) -> int:
    """Give the PDF's outline the headings' own text (Chromium's titles drop spaces at line breaks,
    repeat wrapped lines and lose formulas). Returns the number of bookmarks rewritten."""
    import pypdf
    from pypdf.generic import NameObject, TextStringObject

    writer = pypdf.PdfWriter(clone_from=str(pdf))
    outlines = writer._root_object.get("/Outlines")
    items = _outline_items(outlines.get_object()) if outlines is not None else []
    if len(items) != len(titles):
        raise SystemExit(f"make pdf: {len(items)} bookmarks for {len(titles)} headings; cannot give them their text")
    for item, title in zip(items, titles):
        item[NameObject("/Title")] = TextStringObject(title)
    with pdf.open("wb") as fh:
        writer.write(fh)
    return len(items)


def build_singlehtml(html_dir: Path) -> Path:
    """Render the book into one HTML page (execution off: the committed outputs) under ``html_dir``.

    ``html_dir`` may be the output folder of ``tools/build_check.py`` (same configuration):
    Sphinx then reuses its parsed pages and only writes the single page.
    """
    single = html_dir / "_build" / "singlehtml"
    if single.exists():
        shutil.rmtree(single)
    cmd = [
        JUPYTER_BOOK, "build", str(ROOT), "-W", "-n", "--keep-going",
        "--builder", "custom", "--custom-builder", "singlehtml", "--path-output", str(html_dir),
    ]  # fmt: skip
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    page = html_dir / "_build" / "singlehtml" / "intro.html"
    if not page.is_file():
        raise SystemExit(f"make pdf: the singlehtml build wrote no {page}")
    return page


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def print_pdf(page: Path, pdf: Path) -> int:
    """Print ``page`` to ``pdf`` with Chromium; return the number of book pages in it."""
    if CHROMIUM is None:
        raise SystemExit("make pdf: Chromium is not installed (apt-get install chromium); it prints the PDF")
    from playwright.sync_api import sync_playwright

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(page.parent)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{page.name}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
            )
            context = browser.new_context()
            context.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith((f"http://127.0.0.1:{httpd.server_address[1]}/", "data:", "blob:")) else r.abort(),
            )  # fmt: skip
            pg = context.new_page()
            pg.emulate_media(media="print")
            pg.goto(url, wait_until="load", timeout=120_000)
            pg.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
            pg.wait_for_function("() => !window.MathJax || document.querySelectorAll('mjx-container').length > 0")
            pages, toc, linked = pg.evaluate(_PRINT_JS)
            titles = pg.evaluate(_HEADINGS_JS)
            if not pages or toc != pages or linked != toc:
                raise SystemExit(f"make pdf: {pages} pages, {toc} contents entries, {linked} of them linked")
            pdf.parent.mkdir(parents=True, exist_ok=True)
            pg.pdf(
                path=str(pdf), format="A4", print_background=True, outline=True, tagged=True,
                margin={"top": "18mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
                display_header_footer=True, header_template="<span></span>",
                footer_template='<div style="font-size:8px;width:100%;text-align:center;">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
            )  # fmt: skip
            browser.close()
    finally:
        httpd.shutdown()
    readable_bookmarks(pdf, titles)
    return int(pages)


#: What the PDF is made of: the pages, the chapters with their committed outputs, the book's
#: configuration, bibliography, static files and Sphinx extensions, the registry and the sweep
#: the Claims page reads, and these scripts.
INPUTS = (
    "*.md", "_config.yml", "_toc.yml", "references.bib", "chapters/*.ipynb", "_static/**/*",
    "ctdepth_lib/book/**/*.py", "ctdepth_lib/claims.yaml", "data/sweep/results.parquet", "tools/*.py",
)  # fmt: skip


def inputs_digest() -> str:
    """SHA-256 over the paths and bytes of every :data:`INPUTS` file, in sorted order."""
    files = sorted({p for pattern in INPUTS for p in ROOT.glob(pattern) if p.is_file()})
    h = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        h.update(f"{path.relative_to(ROOT).as_posix()}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the whole book as one PDF, _build/pdf/ctdepth.pdf.")
    parser.add_argument(
        "--path-output",
        type=Path,
        default=OUT / "html",
        help="where Sphinx builds the single HTML page (make test passes _build/check to reuse its build)",
    )
    parser.add_argument(
        "--if-changed",
        action="store_true",
        help="do nothing when the PDF exists and none of its inputs changed since it was written (make book)",
    )
    args = parser.parse_args(argv)
    stamp = PDF.with_suffix(".inputs")
    digest = inputs_digest()
    html = args.path_output.resolve() / "_build" / "html"
    if args.if_changed and PDF.is_file() and stamp.is_file() and stamp.read_text() == digest:
        for folder in {html, ROOT / "_build" / "html"}:
            if folder.is_dir() and not (folder / PDF.name).is_file():
                shutil.copy2(PDF, folder / PDF.name)
        print(f"make pdf: {PDF.relative_to(ROOT)} is up to date (no input changed)")
        return 0
    stamp.unlink(missing_ok=True)
    page = build_singlehtml(args.path_output.resolve())
    pages = print_pdf(page, PDF)
    stamp.write_text(digest)
    # beside the HTML book, where the introduction links it
    for folder in {html, ROOT / "_build" / "html"}:
        if folder.is_dir():
            shutil.copy2(PDF, folder / PDF.name)
    print(f"make pdf: {PDF.relative_to(ROOT)} ({PDF.stat().st_size / 1e6:.1f} MB; the introduction and {pages} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
