"""The book's Sphinx extensions, registered by one entry point.

``_config.yml`` lists only ``ctdepth_lib.book.sphinx``; :func:`setup` sets up each part:

* :mod:`.claims` — the claims ledger (``claims-table``, ``claims-list``,
  ``claims-sweep-figures``, the ``sweep-rate`` role);
* :mod:`.boxes` — claim boxes styled by their source;
* :mod:`.offline` — MathJax served from ``_static`` so the book reads offline;
* :mod:`.pages` — the Rerun guide, the build versions and launch buttons only with a repository;

with the shared :mod:`.nodes` (tables, plain-text math) and :mod:`.regenerate` (pages rebuilt on
every build).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

__all__ = ["EXTENSIONS", "setup"]

#: The parts, in the order they are set up.
EXTENSIONS = (
    "ctdepth_lib.book.sphinx.claims",
    "ctdepth_lib.book.sphinx.boxes",
    "ctdepth_lib.book.sphinx.offline",
    "ctdepth_lib.book.sphinx.pages",
)


def setup(app: Sphinx) -> dict[str, Any]:
    """Set up every part of the book's Sphinx machinery."""
    for name in EXTENSIONS:
        app.setup_extension(name)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
