"""Shared by the book's Sphinx extensions: docutils tables built from rows of cells."""

from __future__ import annotations

from collections.abc import Sequence

from docutils import nodes

__all__ = ["cell", "table"]


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
    """A table with a header row; a row item that is already a ``nodes.entry`` is used as it is."""
    tbl = nodes.table(classes=list(classes), ids=list(ids))
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
        for item in items:
            row += item if isinstance(item, nodes.entry) else cell(item)
        body += row
    group += head
    group += body
    return tbl
