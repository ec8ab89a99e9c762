"""Facts about the book's source tree: which notebooks the table of contents lists, and where a
folder holds the chapters the claims registry names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..claims import registry

__all__ = ["registered_notebooks", "toc_notebooks"]


def _files(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("root", "file") and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_files(item))
    return out


def toc_notebooks(root: Path) -> list[Path]:
    """The ``.ipynb`` files listed in ``root/_toc.yml``, in table-of-contents order."""
    toc = root / "_toc.yml"
    if not toc.is_file():
        raise ValueError(
            f"root must be the book's root, the folder holding _toc.yml; {toc.resolve()} does not exist (run from the repository root or pass --root)"
        )
    entries = _files(yaml.safe_load(toc.read_text(encoding="utf-8")))
    notebooks = []
    for entry in entries:
        path = root / entry
        if path.suffix == "":
            path = path.with_suffix(".ipynb")
        if path.suffix == ".ipynb" and path.is_file():
            notebooks.append(path)
    return notebooks


def registered_notebooks(folder: Path) -> list[Path]:
    """The notebooks ``folder/<chapter>.ipynb`` of the chapters the claims registry names, in docname order.

    ``folder`` is the book's root (the committed chapters) or a build's ``jupyter_execute``
    folder (the notebooks it executed); a chapter without a notebook there is left out.
    """
    chapters = sorted({c.chapter for c in registry().values()})
    return [folder / f"{ch}.ipynb" for ch in chapters if (folder / f"{ch}.ipynb").is_file()]
