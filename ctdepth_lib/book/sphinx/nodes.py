"""Shared by the book's Sphinx extensions: docutils tables built from rows of cells, and text
whose plain-text math (``x_{n+1}``, ``σ_max``, ``h^2``) renders with sub- and superscripts."""

from __future__ import annotations

import re
from collections.abc import Sequence

from docutils import nodes

__all__ = ["cell", "math_text", "table"]

# x_n, x_{n+1}, σ_max, dθ_n: a one-letter base (a Latin letter not inside a word — so step_size and
# RK_N_MAX stay code — or any Greek letter), then "_" and a braced group or a run of letters/digits;
# h^2, J^{-T}, e^T: "^" after a letter, digit or bracket, then a braced group or a signed word.
_SCRIPT = re.compile(
    r"(?:(?<![\w])(?P<latin>[A-Za-z])|(?P<greek>[α-ωΑ-Ω]))_(?P<sub>\{[^{}]+\}|[A-Za-z0-9]+)"
    r"|(?<=[\w)\]}])\^(?P<sup>\{[^{}]+\}|-?[A-Za-z0-9.]+)"
)


def math_text(text: str) -> list[nodes.Node]:
    """``text`` as docutils nodes, its plain-text sub- and superscripts as real ones.

    ``"x_{n+1} = x_n + h^2"`` → Text("x"), subscript("n+1"), Text(" = x"), subscript("n"),
    Text(" + h"), superscript("2"). Text with no scripts is a single ``Text`` node.
    """
    out: list[nodes.Node] = []
    pos = 0
    for m in _SCRIPT.finditer(text):
        script = m.group("sub") or m.group("sup")
        base = m.group("latin") or m.group("greek") or ""
        out.append(nodes.Text(text[pos : m.start()] + base))
        inner = script[1:-1] if script.startswith("{") else script
        out.append(nodes.subscript(text=inner) if m.group("sub") else nodes.superscript(text=inner))
        pos = m.end()
    out.append(nodes.Text(text[pos:]))
    return [n for n in out if not (isinstance(n, nodes.Text) and not n.astext())]


def cell(content: nodes.Node | str, classes: Sequence[str] = ()) -> nodes.entry:
    """A table cell holding one paragraph with ``content`` (a node or text)."""
    entry = nodes.entry(classes=list(classes))
    para = nodes.paragraph()
    para += content if isinstance(content, nodes.Node) else nodes.Text(str(content))
    entry += para
    return entry


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[nodes.Node | str]],
    widths: Sequence[int],
    *,
    classes: Sequence[str] = (),
    ids: Sequence[str] = (),
    row_ids: Sequence[str] | None = None,
    title: str | None = None,
) -> nodes.table:
    """A table with a header row; a row item that is already a ``nodes.entry`` is used as it is.

    Body cells get the class ``ctdepth-col-<j>`` (``j`` from 0), so that a narrow screen can show
    each row as a card whose cells are labelled with their column's header (``_static/ctdepth.css``).
    """
    # "colwidths-given": the HTML writer then emits the column widths (a <colgroup>)
    tbl = nodes.table(classes=[*classes, "colwidths-given"], ids=list(ids))
    if title is not None:
        tbl += nodes.title(text=title)
    group = nodes.tgroup(cols=len(headers))
    tbl += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head, body = nodes.thead(), nodes.tbody()
    hrow = nodes.row()
    for h in headers:
        hrow += cell(h)
    head += hrow
    for i, items in enumerate(rows):
        row = nodes.row(ids=[row_ids[i]] if row_ids is not None else [])
        for j, item in enumerate(items):
            entry = item if isinstance(item, nodes.entry) else cell(item)
            entry["classes"].append(f"ctdepth-col-{j}")  # narrow screens label each cell (a card per row)
            row += entry
        body += row
    group += head
    group += body
    return tbl
