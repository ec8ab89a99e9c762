"""Sphinx extension: pages generated from the chapters and the environment.

* ``rerun-guide`` — every chapter's parameters (default, quick value, allowed
  range, meaning, relations) read from ``ctdepth_lib/parameters.yaml`` and checked against the
  chapter's parameters cell, the papermill command to rerun it and its launch links;
* ``build-versions`` — the versions the book was built with and the git commit;
* ``chapter-outputs`` — for each chapter, the commit of the outputs the book shows and whether
  ``make book`` ran it on this machine (quick parameters) with every claim holding.

Both are regenerated on every build.
"""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from .. import sweep_summary
from ..notebooks import chapter_parameters, notebook_spec, quick_parameters
from ..toc import toc_notebooks
from . import regenerate
from .nodes import table

__all__ = ["setup"]

PACKAGES = (
    "torch",
    "torchdiffeq",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-learn",
    "jupyter-book",
    "myst-nb",
    "sphinx",
    "ctdepth_lib",
)


def _title(nb: Path) -> str:
    for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for line in src.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb.stem


# Repository URLs that stand for "not configured": the project's old placeholder.
PLACEHOLDER_REPOSITORIES = ("https://github.com/ctdepth/ctdepth",)


def repository_url(config: Any) -> str:
    """The configured repository (``repository.url`` in ``_config.yml``), or "" while it is unset.

    The one place the book's repository is set; every button and link to it is rendered
    only when it is set (and is not :data:`PLACEHOLDER_REPOSITORIES`).
    """
    url = str((getattr(config, "html_theme_options", None) or {}).get("repository_url", "") or "").strip().rstrip("/")
    return "" if url in PLACEHOLDER_REPOSITORIES else url


def _buttons_only_with_a_repository(app: Sphinx, config: Any) -> None:
    """``config-inited``: repository and issue buttons iff a repository is set; launch buttons only then.

    Colab never gets a button: a chapter needs ``ctdepth_lib`` from this repository and
    Python 3.11 with the pinned stack, which Colab's runtime does not offer.
    """
    opts = dict(config.html_theme_options or {})
    launch = {k: v for k, v in dict(opts.get("launch_buttons") or {}).items() if k != "colab_url"}
    if repository_url(config):
        opts["use_repository_button"] = opts["use_issues_button"] = True
    else:
        opts.pop("repository_url", None)
        for key in ("use_repository_button", "use_issues_button", "use_edit_page_button", "use_source_button"):
            opts[key] = False
        launch = {}
    opts["launch_buttons"] = launch
    config.html_theme_options = opts


def _run_times(root: Path) -> dict[str, dict[str, tuple[float, int]]]:
    """Median run times per chapter from the committed seed sweep ({} without one)."""
    path = root / sweep_summary.SWEEP_TABLE
    return sweep_summary.run_times(sweep_summary.load_table(path)) if path.is_file() else {}


class RerunGuideDirective(SphinxDirective):
    """``rerun-guide`` — the parameters of every chapter and how to rerun it."""

    def run(self) -> list[nodes.Node]:
        regenerate.track(self.env)
        root = Path(self.env.srcdir)
        url = repository_url(self.config)
        repo = url.removeprefix("https://github.com/").strip("/") if url.startswith("https://github.com/") else ""
        out: list[nodes.Node] = []
        run_times = _run_times(root)  # the sweep table, read once for every chapter
        for nb in toc_notebooks(root):
            rel = nb.relative_to(root).as_posix()
            self.env.note_dependency(str(nb))
            section = nodes.section(ids=[f"rerun-{nb.stem}"])
            section += nodes.title(text=_title(nb))
            params = chapter_parameters(nb)
            rows: list[list[nodes.Node | str]] = [
                [nodes.literal(text=p.name), repr(p.default), repr(p.quick), p.allowed, p.help] for p in params
            ]
            section += table(
                ["Parameter", "Default", "Quick", "Allowed", "Meaning"],
                rows,
                [12, 10, 10, 22, 40],
                classes=["ctdepth-params"],
            )
            requires = notebook_spec(nb).requires
            if requires:
                rel = nodes.paragraph(text="Relations between the parameters: ")
                for i, r in enumerate(requires):
                    rel += nodes.Text(", " if i else "")
                    rel += nodes.literal(text=str(r))
                rel += nodes.Text(".")
                section += rel
            times = run_times.get(nb.relative_to(root).with_suffix("").as_posix(), {})
            if times:
                para = nodes.paragraph(classes=["ctdepth-run-time"])
                words = [f"{kind} parameters about {t:.0f} s ({n} runs)" for kind, (t, n) in sorted(times.items())]
                para += nodes.Text("Run time, median over the committed seed sweep (2 cores, two runs at a time): ")
                para += nodes.Text("; ".join(words) + ".")
                section += para
            quick = quick_parameters(nb)
            args = " ".join(f"-p {k} {v}" for k, v in {**quick, "SEED": 1}.items())
            cmd = f".venv/bin/papermill {rel} /tmp/{nb.stem}.ipynb {args}"
            para = nodes.paragraph(
                text="Rerun it with the quick parameters and another seed (write the output outside chapters/):"
            )
            section += para
            section += nodes.literal_block(cmd, cmd, language="bash")
            try_it = nodes.paragraph()
            try_it += nodes.Text("Things to try, with what to look for and the answers: ")
            xref = addnodes.pending_xref(
                "", refdomain="std", reftype="ref", reftarget=f"try-{nb.stem}", refexplicit=True, refwarn=True
            )
            xref += nodes.inline(text="Try it yourself")
            try_it += xref
            try_it += nodes.Text(" in the chapter.")
            section += try_it
            if repo:
                links = nodes.paragraph()
                binder = f"https://mybinder.org/v2/gh/{repo}/main?labpath={rel}"
                links += nodes.Text("Launch on ")
                links += nodes.reference("", "Binder", refuri=binder)
                links += nodes.Text(" (it builds environment.yml).")
                section += links
            out.append(section)
        return out


def _git_commit(root: Path) -> str:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if res.returncode != 0:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10
    )
    return res.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


class BuildVersionsDirective(SphinxDirective):
    """``build-versions`` — Python, package versions and git commit of this build."""

    def run(self) -> list[nodes.Node]:
        regenerate.track(self.env)
        from ... import __version__

        rows: list[list[nodes.Node | str]] = [
            ["this book (ctdepth_lib)", __version__],
            ["Python", platform.python_version()],
            ["platform", platform.platform()],
        ]
        for pkg in PACKAGES:
            try:
                rows.append([pkg, metadata.version(pkg)])
            except metadata.PackageNotFoundError:
                rows.append([pkg, "not installed"])
        rows.append(["git commit", _git_commit(Path(self.env.srcdir))])
        return [table(["component", "version"], rows, [20, 40], classes=["ctdepth-versions"])]


def _last_commit(root: Path, path: Path) -> str:
    """``abc1234 (2026-12-05)``: the last commit that changed ``path``, or "" outside a git checkout."""
    try:
        res = subprocess.run(
            ["git", "log", "-1", "--format=%h (%cs)", "--", str(path.relative_to(root))],
            cwd=root, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return res.stdout.strip() if res.returncode == 0 else ""


class ChapterOutputsDirective(SphinxDirective):
    """``chapter-outputs`` — which outputs the book shows (committed at which commit), and where they were checked."""

    def run(self) -> list[nodes.Node]:
        regenerate.track(self.env)
        root = Path(self.env.srcdir)
        stamps = root / "_build" / "fresh" / "book"
        rows: list[list[nodes.Node | str]] = []
        for nb in toc_notebooks(root):
            self.env.note_dependency(str(nb))
            commit = _last_commit(root, nb) or "not in a git checkout"
            stamp = stamps / f"{nb.stem}.verified.json"
            if stamp.is_file():
                rec = json.loads(stamp.read_text(encoding="utf-8"))
                here = f"ran {rec.get('time', '')} (quick parameters, ATen {rec.get('aten', '?')}): every claim held"
            else:
                here = "not run by make book here"
            rows.append([_title(nb), commit, here])
        return [table(["chapter", "outputs committed at", "make book on this machine"], rows, [34, 22, 34],
                      classes=["ctdepth-outputs"])]  # fmt: skip


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the event handlers."""
    app.connect("config-inited", _buttons_only_with_a_repository, priority=900)
    app.add_directive("rerun-guide", RerunGuideDirective)
    app.add_directive("build-versions", BuildVersionsDirective)
    app.add_directive("chapter-outputs", ChapterOutputsDirective)
    regenerate.connect(app)
    return {"version": "0.1", "env_version": 2, "parallel_read_safe": True, "parallel_write_safe": True}
