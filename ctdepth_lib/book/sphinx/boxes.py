"""Sphinx extension: claim boxes styled by their source.

A chapter states each claim in an admonition titled ``Claim <id> (<source>) — …``. This
extension gives every such box the classes ``ctdepth-claim`` and ``ctdepth-claim-<source>``
(``paper``, ``reconstruction``, ``correction``, ``extension``), which ``_static/ctdepth.css``
draws in four styles, so a reader tells at a glance what the abstract states and what the book
derived, corrected or added.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from ...claims import SOURCES

__all__ = ["claim_box_source", "setup"]

_TITLE = re.compile(r"^Claims? ([\w.,\s-]+?) \((?P<source>[a-z]+)\)")


def claim_box_source(title: str) -> str | None:
    """The source a claim box's title names (``"Claim 1b (paper) — …"`` → ``"paper"``), or None."""
    m = _TITLE.match(title.strip())
    return m.group("source") if m and m.group("source") in SOURCES else None


def _style_boxes(app: Sphinx, doctree: nodes.document) -> None:
    for box in doctree.findall(nodes.admonition):
        titles = [c for c in box.children if isinstance(c, nodes.title)]
        source = claim_box_source(titles[0].astext()) if titles else None
        if source is not None:
            box["classes"] += ["ctdepth-claim", f"ctdepth-claim-{source}"]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the handler that classes the claim boxes."""
    app.connect("doctree-read", _style_boxes)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
