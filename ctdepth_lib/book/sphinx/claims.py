"""Sphinx extension: the ``claims-table`` directive that renders the claims ledger.

The table joins the registry (``claims.yaml``) with the claim records stored in
the notebooks that this build executed (myst-nb writes them to
``_build/jupyter_execute``), the fresh runs of ``make test``, and the committed
seed sweep (``data/sweep/results.parquet``: pass rate and spread of every claim
over many seeds; the build reads the table, it never reruns the sweep).  It is
filled in when the page is resolved — after every notebook has been executed —
and the page holding it is rebuilt on every build so it never shows stale verdicts.
``claims-sweep-figures`` draws one strip plot per chapter from the same table, and the
``sweep-rate`` role states one claim's pass rate in a chapter's prose.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from ...claims import KINDS, SOURCES, registry
from .. import sweep_summary
from ..ledger import collect, collect_fresh, ledger_rows
from ..toc import registered_notebooks
from . import regenerate
from .nodes import cell, math_text, table

__all__ = ["setup"]


class claims_table_placeholder(nodes.General, nodes.Element):
    """Replaced by the ledger table in ``doctree-resolved``."""


class ClaimsTableDirective(SphinxDirective):
    """``.. claims-table::`` — the ledger of every registered claim."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        regenerate.track(self.env)
        # Every claim gets a label, so any page can link to its row: {ref}`claim-1b`.
        std = self.env.domaindata["std"]
        for cid in registry():
            label = f"claim-{cid.lower()}"
            std["labels"][label] = (self.env.docname, label, f"claim {cid}")
            std["anonlabels"][label] = (self.env.docname, label)
        return [claims_table_placeholder()]


class claims_list_placeholder(nodes.General, nodes.Element):
    """Replaced by a list of claims of one source in ``doctree-resolved``."""


class ClaimsListDirective(SphinxDirective):
    """``claims-list`` with option ``:source: correction`` — the claims of one source, as a list."""

    has_content = False
    option_spec = {"source": lambda arg: arg.strip()}  # noqa: RUF012 - docutils API

    def run(self) -> list[nodes.Node]:
        source = self.options.get("source", "correction")
        regenerate.track(self.env)
        return [claims_list_placeholder(source=source)]


def _executed_notebooks(app: Sphinx) -> list[Path]:
    """The registered chapters as this build executed them (myst-nb's ``jupyter_execute`` folder)."""
    return registered_notebooks(
        Path(getattr(app.env.mystnb_config, "output_folder", Path(app.outdir).parent / "jupyter_execute"))
    )


def _sweep_table(app: Sphinx) -> Any | None:
    """The committed sweep table, or None when the repository has none."""
    path = Path(app.srcdir) / app.config.ctdepth_sweep_table
    return sweep_summary.load_table(path) if path.is_file() else None


def _sweep_rates(app: Sphinx) -> dict[str, dict[str, sweep_summary.RateSummary]]:
    """Pass rates of the committed sweep, read once per build (and again if the table changes)."""
    path = Path(app.srcdir) / app.config.ctdepth_sweep_table
    stamp = path.stat().st_mtime_ns if path.is_file() else None
    cached = getattr(app, "_ctdepth_sweep_rates", None)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    table = _sweep_table(app)
    rates = {} if table is None else sweep_summary.pass_rates(table, {cid: c.chapter for cid, c in registry().items()})
    app._ctdepth_sweep_rates = (stamp, rates)  # type: ignore[attr-defined]
    return rates


def sweep_rate_role(
    name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: Any = None, content: Any = ()
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """``{sweep-rate}`T-depth``` — the claim's pass rate over the committed sweep, in words.

    Renders e.g. "46 of 50 quick runs and 10 of 10 full runs (stated: in at least 80 % of
    runs)", so a chapter states how often a claim stated over seeds held without typing a number. The page depends on the table:
    it is read again when the table changes.
    """
    env = inliner.document.settings.env
    cid = text.strip()
    if cid not in registry():
        msg = inliner.reporter.error(f"sweep-rate: {cid!r} is not a registered claim", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    env.note_dependency(str(Path(env.srcdir) / env.config.ctdepth_sweep_table))
    rates = _sweep_rates(env.app)
    words = sweep_summary.rate_sentence(rates.get(cid, {})) if rates else "no committed sweep"
    stated = sweep_summary.stated_rates().get(cid)
    if stated is not None:
        words += f" (stated: in at least {100 * stated.min_rate:.0f} % of runs)"
    return [nodes.inline(rawtext, words, classes=["ctdepth-sweep-rate"])], []


def _lines(text: str) -> nodes.entry:
    """A table cell with one paragraph per line of ``text``."""
    entry = nodes.entry()
    for line in text.splitlines():
        entry += nodes.paragraph(text=line)
    return entry


class ClaimsCountsDirective(SphinxDirective):
    """``claims-counts`` — how many registered claims there are of each source and kind."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        regenerate.track(self.env)
        reg = registry().values()
        counts = {(c.source, c.kind): 0 for c in reg}
        for c in reg:
            counts[(c.source, c.kind)] += 1
        rows: list[list[nodes.Node | str]] = []
        for source in SOURCES:
            row: list[nodes.Node | str] = [nodes.strong(text=source)]
            row += [str(counts.get((source, kind), 0)) for kind in KINDS]
            row.append(str(sum(counts.get((source, kind), 0) for kind in KINDS)))
            rows.append(row)
        totals: list[nodes.Node | str] = [nodes.strong(text="all")]
        totals += [str(sum(counts.get((s, kind), 0) for s in SOURCES)) for kind in KINDS]
        totals.append(str(len(reg)))
        rows.append(totals)
        return [table(["source \\ kind", *KINDS, "all"], rows, [20, 12, 12, 12, 10], classes=["ctdepth-claims-counts"])]


class claims_sweep_placeholder(nodes.General, nodes.Element):
    """Replaced by the sweep's strip plots in ``doctree-resolved``."""


class ClaimsSweepDirective(SphinxDirective):
    """``claims-sweep-figures`` — one strip plot per chapter of the committed sweep."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        regenerate.track(self.env)
        return [claims_sweep_placeholder()]


def _chapter_title(app: Sphinx, chapter: str) -> str:
    """The chapter's page title, or its docname when this build lacks it."""
    return app.env.titles[chapter].astext() if chapter in app.env.titles else chapter


def _sweep_figures(app: Sphinx, docname: str) -> list[nodes.Node]:
    table = _sweep_table(app)
    if table is None:
        return [nodes.paragraph(text="This build has no committed seed sweep (data/sweep/results.parquet).")]
    if app.builder.format != "html":
        return []
    claims_by_chapter: dict[str, list[Any]] = {}
    for c in registry().values():
        claims_by_chapter.setdefault(c.chapter, []).append(c)
    out: list[nodes.Node] = []
    images = Path(app.outdir) / "_images"
    prefix = posixpath.relpath("_images", posixpath.dirname(docname) or ".")
    for chapter, mine in sorted(claims_by_chapter.items()):
        name = f"sweep-{Path(chapter).name}.png"
        sweep_summary.spread_figure(table, mine, chapter, images / name)
        runs = table[table["chapter"] == chapter].drop_duplicates(["quick", "seed", "parameters"])
        n_quick, n_full = int(runs["quick"].sum()), int((~runs["quick"].astype(bool)).sum())
        title = _chapter_title(app, chapter)
        alt = f"Strip plot of the claims of {title} over {n_quick} quick and {n_full} full sweep runs"
        html = (
            f'<figure class="ctdepth-sweep-figure" id="sweep-{Path(chapter).name}">'
            f'<img src="{prefix}/{name}" alt="{alt}" width="700">'
            f"<figcaption><strong>{title}</strong>: every claim of the chapter over {n_quick} runs with its "
            f"quick parameters and {n_full} with its full parameters, one tick per run, at the measured value "
            "relative to the claim's threshold (the claim holds left of the dashed line at 1; slopes are "
            "shown as their distance from the expected order relative to the allowed distance; exact "
            "identities checked with = are left out).</figcaption></figure>"
        )
        out.append(nodes.raw("", html, format="html"))
    return out


def _chapter_link(app: Sphinx, docname: str, chapter: str) -> nodes.Node:
    """A link to the chapter's page, or its docname as text when this build lacks it."""
    if chapter not in app.env.all_docs:
        return nodes.literal(text=chapter)
    return nodes.reference("", _chapter_title(app, chapter), refuri=app.builder.get_relative_uri(docname, chapter))


def _box_link(app: Sphinx, docname: str, cid: str, *, text: str | None = None) -> nodes.Node:
    """The claim id (or ``text``), linked to its box in its chapter (the ``(box-<id>)=`` target).

    Without a box target the link goes to the chapter page (and without the chapter, no link).
    """
    inner = nodes.strong(text=cid) if text is None else nodes.Text(text)
    label = app.env.domaindata["std"]["anonlabels"].get(f"box-{cid.lower()}")  # untitled target: anonymous
    if label:
        target_doc, labelid = label
        uri = app.builder.get_relative_uri(docname, target_doc) + f"#{labelid}"
        return nodes.reference("", "", inner, refuri=uri, classes=["ctdepth-claim-box-link"])
    chapter = registry()[cid].chapter
    if chapter in app.env.all_docs:
        return nodes.reference("", "", inner, refuri=app.builder.get_relative_uri(docname, chapter))
    return inner


def _fresh_records(app: Sphinx) -> dict[str, list[dict[str, Any]]]:
    """Claim records of fresh runs: notebooks this build executed itself, and ``ctdepth_fresh_runs`` folders."""
    fresh: dict[str, list[dict[str, Any]]] = {}
    src = Path(app.srcdir)
    executed = [
        nb for nb in _executed_notebooks(app) if (src / nb.relative_to(nb.parents[1])).is_file()
    ]  # jupyter_execute/chapters/X.ipynb ↔ chapters/X.ipynb
    # With execution on, the build ran the chapters itself: those are fresh runs of this machine.
    mode = getattr(app.env.mystnb_config, "execution_mode", "off")
    own = executed if mode != "off" else []
    for cid, recs in collect(own).items():
        fresh.setdefault(cid, []).extend(recs)
    folders = [src / f for f in app.config.ctdepth_fresh_runs if (src / f).is_dir()]
    for cid, recs in collect_fresh(folders).items():
        fresh.setdefault(cid, []).extend(recs)
    return fresh


def _committed_records(app: Sphinx) -> dict[str, list[dict[str, Any]]]:
    return collect(registered_notebooks(Path(app.srcdir)))


def _reproduced_text(row: Any) -> str:
    if row.reproduced == "not run":
        return "not run"
    n = len(row.fresh)
    runs = f"{n} fresh run" + ("s" if n != 1 else "")
    return f"{row.reproduced} ({runs}, {row.claim.tolerance})"


def _statement(claim: Any) -> nodes.entry:
    """The statement cell: for a correction the naive reading, then the corrected statement."""
    entry = nodes.entry()
    if claim.naive:
        naive = nodes.paragraph(classes=["ctdepth-naive"])
        naive += nodes.strong(text="Naive reading: ")
        naive += math_text(claim.naive)
        entry += naive
    para = nodes.paragraph()
    if claim.naive:
        para += nodes.strong(text="Correct: ")
    para += math_text(claim.statement + " ")
    label = f"{claim.source}: {claim.where}" if claim.where else claim.source
    para += nodes.emphasis(text=f"({label}; {claim.kind})")
    entry += para
    return entry


def verdict_text(row: Any) -> str:
    """The *holds* verdict in words: a correction that holds is a confirmed correction."""
    if row.claim.source == "correction" and row.verdict in ("pass", "fail"):
        return "correction confirmed" if row.verdict == "pass" else "correction not confirmed"
    return str(row.verdict)


HEADERS = [
    "Claim",
    "Statement (source)",
    "Quantity x",
    "Holds",
    "Measured",
    "Threshold",
    "Reproduced",
    "Over seeds (sweep: held / runs; range)",
]


def _tables(app: Sphinx, docname: str) -> list[nodes.Node]:
    """The ledger: a summary line, then one table per chapter under the chapter's title."""
    rows = ledger_rows(collect(_executed_notebooks(app)))
    reproduced = {r.claim.id: r for r in ledger_rows(_committed_records(app), fresh=_fresh_records(app))}
    rates = _sweep_rates(app)
    stated = sweep_summary.stated_rates()
    n_pass = sum(r.verdict == "pass" for r in rows)
    n_rep = sum(r.reproduced == "yes" for r in reproduced.values())
    summary = nodes.paragraph(classes=["ctdepth-claims-summary"])
    summary += nodes.strong(
        text=f"{n_pass} of {len(rows)} registered claims hold in this build; "
        f"{n_rep} of {len(rows)} are reproduced by fresh runs."
    )
    out: list[nodes.Node] = [summary]
    chapters: dict[str, list[Any]] = {}
    for r in rows:
        chapters.setdefault(r.claim.chapter, []).append(r)
    for number, (chapter, mine) in enumerate(sorted(chapters.items()), start=1):  # NN_ names: book order
        cells: list[list[nodes.Node | str]] = []
        for r in mine:
            rep = reproduced[r.claim.id]
            cells.append(
                [
                    _box_link(app, docname, r.claim.id),
                    _statement(r.claim),
                    cell(nodes.inline("", "", *math_text(r.claim.quantity))),
                    cell(verdict_text(r), classes=[f"verdict-{r.verdict.replace(' ', '-')}"]),
                    r.measured_text,
                    r.claim.threshold,
                    cell(_reproduced_text(rep), classes=[f"reproduced-{rep.reproduced.replace(' ', '-')}"]),
                    _lines(sweep_summary.format_rates(rates.get(r.claim.id, {}), stated.get(r.claim.id))),
                ]
            )
        held = sum(r.verdict == "pass" for r in mine)
        heading = nodes.paragraph(classes=["ctdepth-claims-chapter"], ids=[f"claims-{Path(chapter).name}"])
        title = nodes.strong()
        title += nodes.Text(f"Chapter {number}: ")
        title += _chapter_link(app, docname, chapter)
        heading += title
        heading += nodes.Text(f" — {held} of {len(mine)} claims hold")
        out.append(heading)
        out.append(
            table(
                HEADERS,
                cells,
                [7, 30, 15, 9, 7, 8, 9, 12],
                classes=["ctdepth-claims"],
                ids=["ctdepth-claims-table"] if number == 1 else [],
                row_ids=[f"claim-{r.claim.id.lower()}" for r in mine],
            )
        )
    return out


def _claims_page(app: Sphinx) -> str | None:
    for doc in sorted(regenerate.tracked(app.env)):
        label = app.env.domaindata["std"]["anonlabels"].get("claim-" + next(iter(registry())).lower())
        if label and label[0] == doc:
            return doc
    return None


def _list(app: Sphinx, docname: str, source: str) -> nodes.bullet_list:
    """The claims of one source; a correction as naive reading → correct statement → evidence."""
    rows = [r for r in ledger_rows(collect(_executed_notebooks(app))) if r.claim.source == source]
    ledger = _claims_page(app)
    out = nodes.bullet_list(classes=[f"ctdepth-claims-{source}"])
    for r in rows:
        para = nodes.paragraph()
        if ledger is not None:
            uri = app.builder.get_relative_uri(docname, ledger) + f"#claim-{r.claim.id.lower()}"
            para += nodes.reference("", "", nodes.strong(text=f"Claim {r.claim.id}"), refuri=uri)
        else:
            para += nodes.strong(text=f"Claim {r.claim.id}")
        item = nodes.list_item()
        if r.claim.naive:
            para += nodes.Text(f" ({verdict_text(r)}).")
            item += para
            for label, text in (("Naive reading: ", r.claim.naive), ("Correct statement: ", r.claim.statement)):
                line = nodes.paragraph()
                line += nodes.strong(text=label)
                line += math_text(text)
                item += line
            evidence = nodes.paragraph()
            evidence += nodes.strong(text="Evidence: ")
            evidence += math_text(r.claim.quantity)
            evidence += nodes.Text(f" = {r.measured_text} (threshold {r.claim.threshold}), in ")
            evidence += _box_link(app, docname, r.claim.id, text=f"its box in “{_chapter_title(app, r.claim.chapter)}”")
            evidence += nodes.Text(".")
            item += evidence
        else:
            para += nodes.Text(f" ({verdict_text(r)}). ")
            para += math_text(r.claim.statement)
            para += nodes.Text(" Checked in ")
            para += _chapter_link(app, docname, r.claim.chapter)
            para += nodes.Text(".")
            item += para
        out += item
    return out


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(claims_table_placeholder)):
        node.replace_self(_tables(app, docname))
    for node in list(doctree.findall(claims_list_placeholder)):
        node.replace_self(_list(app, docname, node["source"]))
    for node in list(doctree.findall(claims_sweep_placeholder)):
        node.replace_self(_sweep_figures(app, docname))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive and the event handlers."""
    app.add_config_value("ctdepth_sweep_table", str(sweep_summary.SWEEP_TABLE), "env")
    fresh = ["_build/fresh/native", "_build/fresh/default", "_build/fresh/avx2"]
    app.add_config_value("ctdepth_fresh_runs", fresh, "env")
    app.add_node(claims_table_placeholder)
    app.add_node(claims_list_placeholder)
    app.add_node(claims_sweep_placeholder)
    app.add_directive("claims-table", ClaimsTableDirective)
    app.add_directive("claims-list", ClaimsListDirective)
    app.add_directive("claims-counts", ClaimsCountsDirective)
    app.add_directive("claims-sweep-figures", ClaimsSweepDirective)
    app.add_role("sweep-rate", sweep_rate_role)
    app.connect("doctree-resolved", _resolve)
    regenerate.connect(app)
    return {"version": "0.1", "env_version": 2, "parallel_read_safe": True, "parallel_write_safe": True}
