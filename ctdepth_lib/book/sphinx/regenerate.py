"""Shared by the book's Sphinx extensions: pages generated at build time are rebuilt every build.

A directive that renders data from outside its page (executed notebooks, the registry,
the environment) calls :func:`track`; :func:`connect` makes Sphinx treat every tracked
page as outdated on every build, so it never shows stale content.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

__all__ = ["connect", "track", "tracked"]

_ATTR = "ctdepth_generated_docs"


def tracked(env: BuildEnvironment) -> set[str]:
    """The docnames of the pages generated at build time."""
    docs: set[str] = getattr(env, _ATTR, set())
    setattr(env, _ATTR, docs)
    return docs


def track(env: BuildEnvironment) -> None:
    """Mark the page being read as generated at build time."""
    tracked(env).add(env.docname)


def _always_outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    return sorted(tracked(env) - removed)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    tracked(env).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    tracked(env).update(tracked(other))


def connect(app: Sphinx) -> None:
    """Connect the event handlers (once per application, whichever extension asks first)."""
    if getattr(app, "_ctdepth_regenerate", False):
        return
    app._ctdepth_regenerate = True  # type: ignore[attr-defined]
    app.connect("env-get-outdated", _always_outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
