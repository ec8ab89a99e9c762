"""The book wing of ``ctdepth_lib``: everything that runs when the book is built or tested.

Chapters never import it; it depends on the science modules, never the reverse.

* :mod:`.toc` — which notebooks the table of contents lists (``toc_notebooks``) and which
  registered chapters a folder holds (``registered_notebooks``);
* :mod:`.notebooks` — a chapter's parameters, quick settings and seeded runs, read from the
  notebook itself; stripping execution timestamps;
* :mod:`.ledger` — the claim records of executed notebooks, judged against the registry and
  reproduced by fresh runs; the report of ``python -m ctdepth_lib claims``;
* :mod:`.sweep` (with :mod:`.sweep_plan`, :mod:`.sweep_task`, :mod:`.digests`) — seed
  sweeps on Dask (``python -m ctdepth_lib sweep``); :mod:`.sweep_summary` — their pass rates;
* :mod:`.nbval_plugin` — the pytest plugin that lets nbval compare numbers to their printed
  digits and records fresh claim records (``pytest -p ctdepth_lib.book.nbval_plugin --nbval``);
* :mod:`.sphinx` — the Sphinx extensions, registered by one entry point
  (``extra_extensions: [ctdepth_lib.book.sphinx]`` in ``_config.yml``).
"""

from __future__ import annotations

from .toc import registered_notebooks, toc_notebooks

__all__ = ["registered_notebooks", "toc_notebooks"]
