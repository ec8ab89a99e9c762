"""The book wing of ``ctdepth_lib``: everything that runs when the book is built or tested.

Chapters never import it; it depends on the science modules, never the reverse.

* :mod:`.toc` — which notebooks the table of contents lists (``toc_notebooks``);
* :mod:`.notebooks` — a chapter's parameters, quick settings and seeded runs, read from the
  notebook itself; stripping execution timestamps;
* :mod:`.nbval_plugin` — the pytest plugin that lets nbval compare numbers to their printed
  digits and records fresh claim records (``pytest -p ctdepth_lib.book.nbval_plugin --nbval``);
* :mod:`.sphinx` — the Sphinx extensions, registered by one entry point
  (``extra_extensions: [ctdepth_lib.book.sphinx]`` in ``_config.yml``).
"""

from __future__ import annotations

from .toc import toc_notebooks

__all__ = ["toc_notebooks"]
