"""Sphinx extension: serve MathJax from the built book itself, so it reads offline;
and load each page script once.

MathJax 3 ships, as static files, in the PyPI package ``django-static-mathjax``
(import name ``mathjax``; we only read its files, Django is not needed). After
the build we copy the combined ``tex-mml-chtml`` component, its CHTML fonts and
the TeX extensions it may autoload into ``_static/mathjax/``; ``_config.yml`` sets
``mathjax_path: mathjax/tex-mml-chtml.js`` (relative to ``_static``), so no page
fetches anything from outside the book.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

__all__ = ["mathjax_source", "setup"]

#: The parts of MathJax's ``es5`` folder the book needs.
PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax 3 files."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax files not found: install django-static-mathjax (the book extra of ctdepth_lib)")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise RuntimeError(f"MathJax files not found in {es5}")
    return es5


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = mathjax_source()
    dest = Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        s, d = src / part, dest / part
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        elif s.is_file():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    # sphinx-thebe 0.3.1 adds its inline configuration script twice under Sphinx 7.4
    # ("Identifier 'THEBE_JS_URL' has already been declared" in every page's console).
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for script in context.get("script_files", []):
        name = getattr(script, "filename", script) or ""  # inline scripts come as None and as ""
        key = (str(name), tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the copy step and the script de-duplication."""
    mathjax_source()  # fail early, with a clear message, when the files are missing
    app.connect("build-finished", _copy)
    app.connect("html-page-context", _dedupe_scripts)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
