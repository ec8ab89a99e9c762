"""Counts of how the book reads, from a built book and its PDF (issue 27's before/after figures).

    python tools/reading_counts.py [--html _build/check/_build/html] [--pdf _build/pdf/ctdepth.pdf] [--json OUT]

For every chapter page of the table of contents:

* **claim-id mentions**: how often a registered claim id (``1b``, ``L2-lognorm``, …) appears in
  the page's paragraphs outside claim boxes, other admonitions, margins and cell outputs — the
  prose a reader reads as the argument;
* **records in the main column**: claim records a reader at 1280 px sees inside the text column
  (a record printed as a cell output, or a badge that does not sit in the margin);
* **figure scale**: each figure's displayed width at 1280 px over its natural width, the width it
  was drawn at (its pixels at the book's 150 dpi, 96 CSS px per inch: at scale 1 the fonts have
  the point sizes matplotlib set; at 0.8 a 9 pt tick label is 9.6 px). Also the plain ratio of
  displayed to image pixels, for comparison;
* **PDF toggles**: how many "Show code cell source" toggles the PDF prints.

Headless Chromium (Debian's ``chromium``, driven by Playwright) measures the layout; the HTML is
served from a local folder and nothing is fetched from elsewhere.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DPI = 150  # ctdepth_lib.plotting saves every figure at 150 dpi
CSS_PX_PER_INCH = 96

_MEASURE_JS = """
() => {
  // the text column's right edge: the widest paragraph of the article (its box has padding beyond it)
  const paras = Array.from(document.querySelectorAll('article p')).filter(
    p => !p.closest('div.cell_output, aside, div.margin, figure, div.cell.tag_full-width, div.full-width'));
  const right = Math.max(...paras.map(p => p.getBoundingClientRect().right));
  const records = [];
  document.querySelectorAll('div.ctdepth-badge').forEach(b => {
    const r = b.getBoundingClientRect();
    records.push({kind: 'badge', inMain: r.left < right - 2});
  });
  document.querySelectorAll('div.cell_output pre').forEach(p => {
    if (/^claim \\S+: (PASS|FAIL)/m.test(p.textContent)) records.push({kind: 'text', inMain: true});
  });
  const figures = [];
  document.querySelectorAll('div.cell_output img, figure img').forEach(img => {
    if (!img.naturalWidth) return;
    const fig = img.closest('figure');
    const id = (fig && fig.id) || (img.closest('[id]') || {}).id || '';
    figures.push({id: id, shown: img.getBoundingClientRect().width, natural: img.naturalWidth});
  });
  return {records: records, figures: figures};
}
"""


def _ids() -> list[str]:
    from ctdepth_lib.claims import registry

    return sorted(registry(), key=len, reverse=True)


def claim_mentions(page: Path, ids: list[str]) -> int:
    """Claim ids in the page's paragraphs outside boxes, margins, outputs and figures."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup
    for node in article.select("div.admonition, aside, div.margin, div.cell_output, figure, div.sidebar"):
        node.decompose()
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(i) for i in ids) + r")(?![\w])")
    text = " ".join(p.get_text(" ") for p in article.find_all("p"))
    return len(pattern.findall(text))


def measure(html: Path, pages: list[str]) -> dict[str, dict]:
    """Records in the main column and figure scales of each page at 1280 px (headless Chromium)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("reading_counts: Chromium is not installed (apt-get install chromium)")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    out: dict[str, dict] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            pg = context.new_page()
            for page in pages:
                pg.goto(base + page, wait_until="load")
                pg.wait_for_timeout(300)
                out[page] = pg.evaluate(_MEASURE_JS)
            browser.close()
    finally:
        httpd.shutdown()
    return out


def pdf_toggles(pdf: Path) -> int:
    """How many times the PDF's text prints "Show code cell source"."""
    import pypdf

    text = " ".join(p.extract_text() or "" for p in pypdf.PdfReader(str(pdf)).pages)
    return len(re.findall(r"Show\s+code\s+cell\s+source", text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "check" / "_build" / "html")
    parser.add_argument("--pdf", type=Path, default=ROOT / "_build" / "pdf" / "ctdepth.pdf")
    parser.add_argument("--json", type=Path, help="also write the counts as JSON here")
    args = parser.parse_args(argv)
    from ctdepth_lib.book import toc_notebooks

    chapters = [f"chapters/{nb.stem}.html" for nb in toc_notebooks(ROOT)]
    ids = _ids()
    layout = measure(args.html, chapters)
    rows = {}
    print(
        f"{'chapter':24} {'id mentions':>11} {'records in main':>15} {'figures':>7} {'min scale':>9} {'min px ratio':>12}"
    )
    for page in chapters:
        figs = layout[page]["figures"]
        scales = [f["shown"] / (f["natural"] * CSS_PX_PER_INCH / DPI) for f in figs]
        ratios = [f["shown"] / f["natural"] for f in figs]
        small = [(f["id"], round(s, 2)) for f, s in zip(figs, scales) if s < 0.8]
        row = {
            "id_mentions": claim_mentions(args.html / page, ids),
            "records_in_main": sum(r["inMain"] for r in layout[page]["records"]),
            "records": len(layout[page]["records"]),
            "figures": len(figs),
            "min_scale": round(min(scales), 3) if scales else None,
            "min_pixel_ratio": round(min(ratios), 3) if ratios else None,
            "figures_below_0.8": small,
        }
        rows[page] = row
        print(
            f"{Path(page).stem:24} {row['id_mentions']:11d} {row['records_in_main']:15d} {row['figures']:7d} "
            f"{row['min_scale'] if row['min_scale'] is not None else '-':>9} "
            f"{row['min_pixel_ratio'] if row['min_pixel_ratio'] is not None else '-':>12}"
        )
        for fid, s in small:
            print(f"    figure {fid or '(no id)'} at scale {s}")
    result = {"chapters": rows}
    if args.pdf.is_file():
        result["pdf_toggles"] = pdf_toggles(args.pdf)
        print(f"PDF: {result['pdf_toggles']} 'Show code cell source' toggles")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
