"""Claim boxes are classed by the source their title names."""

from __future__ import annotations

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from ctdepth_lib.book.sphinx import boxes as sphinx_boxes


def test_the_title_names_the_source() -> None:
    assert sphinx_boxes.claim_box_source("Claim 1b (reconstruction) — deeper networks") == "reconstruction"
    assert sphinx_boxes.claim_box_source("Claims L2, L2-volume (correction) — volume") == "correction"
    assert sphinx_boxes.claim_box_source("Claim 2a (paper)") == "paper"
    assert sphinx_boxes.claim_box_source("Claim 1b (guess) — x") is None
    assert sphinx_boxes.claim_box_source("Answer") is None


def test_boxes_get_a_class_per_source() -> None:
    doc = new_document("t", get_default_settings(Parser))
    for title in ("Claim 1a (extension) — x", "Answer"):
        box = nodes.admonition()
        box += nodes.title(text=title)
        doc += box
    sphinx_boxes._style_boxes(None, doc)  # type: ignore[arg-type]
    claim, other = doc.findall(nodes.admonition)
    assert claim["classes"] == ["ctdepth-claim", "ctdepth-claim-extension"]
    assert other["classes"] == []
