"""The claims ledger, read back: the claim records of executed notebooks, judged and reported.

A chapter's :func:`ctdepth_lib.claims.check` displays one record per claim (mime type
``application/vnd.ctdepth.claim+json``); the executed notebook *is* the ledger entry. This module
reads the records back (:func:`collect`; fresh runs' ``*.claims.json`` with
:func:`collect_fresh`), joins them with the registry (:func:`ledger_rows`: does each claim hold,
and do fresh runs reproduce it within its tolerance?) and writes the report that
``python -m ctdepth_lib claims`` prints (:func:`ledger_report`). The Claims page of the book
(:mod:`ctdepth_lib.book.sphinx.claims`) is built from the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims import CLAIM_MIME, Claim, registry

__all__ = [
    "LedgerRow",
    "collect",
    "collect_fresh",
    "ledger_report",
    "ledger_rows",
    "notebook_records",
    "output_records",
]


def output_records(outputs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The claim records among a cell's outputs (nbformat output dicts), in order."""
    return [
        dict(out["data"][CLAIM_MIME])
        for out in outputs
        if isinstance(out.get("data"), Mapping) and CLAIM_MIME in out["data"]
    ]


def notebook_records(nb: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claim records in a notebook's outputs (its JSON as a mapping), in cell order."""
    return [rec for cell in nb.get("cells", []) for rec in output_records(cell.get("outputs", []) or [])]


def collect(notebooks: Iterable[str | Path]) -> dict[str, list[dict[str, Any]]]:
    """Claim records stored in executed notebooks, by claim id.

    Each record gains a ``notebook`` field (the path it was read from).
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for nb_path in notebooks:
        path = Path(nb_path)
        for rec in notebook_records(json.loads(path.read_text(encoding="utf-8"))):
            rec["notebook"] = str(path)
            found.setdefault(str(rec["id"]), []).append(rec)
    return found


def collect_fresh(folders: Iterable[str | Path]) -> dict[str, list[dict[str, Any]]]:
    """Claim records that fresh runs wrote as JSON (``*.claims.json``, see :mod:`ctdepth_lib.book.nbval_plugin`)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            raise ValueError(f"fresh-run folder must be a directory of *.claims.json files; got {str(path)!r}")
        for file in sorted(path.glob("*.claims.json")):
            for rec in json.loads(file.read_text(encoding="utf-8")):
                rec = dict(rec)
                rec["notebook"] = str(file)
                found.setdefault(str(rec["id"]), []).append(rec)
    return found


@dataclass(frozen=True)
class LedgerRow:
    """A registered claim joined with what the runs recorded for it.

    ``verdict`` (*holds*) judges the committed (or built) records against the threshold;
    ``reproduced`` judges fresh runs against those records with the claim's reproduction
    tolerance: ``"yes"``, ``"no"`` or ``"not run"`` (no fresh record was given).
    """

    claim: Claim
    verdict: str  # "pass", "fail", "not checked"
    measured: float | str | None
    seed: int | None
    notebook: str | None
    reproduced: str = "not run"
    fresh: tuple[float | str, ...] = ()

    @property
    def measured_text(self) -> str:
        """The measured value as the ledger shows it (``—`` when not checked)."""
        if self.measured is None:
            return "—"
        return self.claim.show(float(self.measured)) if isinstance(self.measured, (int, float)) else str(self.measured)

    @property
    def fresh_text(self) -> str:
        """The fresh runs' values as the ledger shows them (``—`` when there are none)."""
        if not self.fresh:
            return "—"
        return ", ".join(self.claim.show(float(v)) if isinstance(v, (int, float)) else str(v) for v in self.fresh)


def _reproduced(claim: Claim, committed: list[dict[str, Any]], fresh: list[dict[str, Any]]) -> str:
    if not fresh:
        return "not run"
    if not committed:
        return "no"
    ref = {(r.get("seed"), json.dumps(r.get("parameters"), sort_keys=True)): r for r in committed}
    for rec in fresh:
        key = (rec.get("seed"), json.dumps(rec.get("parameters"), sort_keys=True))
        base = ref.get(key)
        a, b = (base or {}).get("measured"), rec.get("measured")
        if base is None or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return "no"
        if not claim.reproduces(float(a), float(b)):
            return "no"
    return "yes"


def ledger_rows(
    records: Mapping[str, list[dict[str, Any]]],
    claims: Mapping[str, Claim] | None = None,
    fresh: Mapping[str, list[dict[str, Any]]] | None = None,
) -> list[LedgerRow]:
    """One row per registered claim, in registry order.

    A claim with no record is ``"not checked"``; a claim with several records
    (several runs) passes only if every one passed; a record whose notebook
    is not the claim's registered chapter, or whose measured value misses the
    registry's *current* threshold (say, one tightened since the run), counts
    as a failure.

    Args:
        records: the committed (or built) claim records, by id (:func:`collect`).
        claims: the registry (default: the shipped one).
        fresh: claim records of fresh runs (other machines, other rounding paths); each must
            reproduce the record with the same seed and parameters within the claim's tolerance.

    Raises:
        ValueError: a record of a claim the registry does not list (named with its notebook).
    """
    claims = registry() if claims is None else claims
    fresh = {} if fresh is None else fresh
    unknown = sorted(set(records) - set(claims))
    if unknown:
        cid = unknown[0]
        raise ValueError(
            f"notebook {records[cid][0].get('notebook')} records claim {cid!r}, which the registry does not list"
        )
    rows = []
    for cid, claim in claims.items():
        recs = records.get(cid, [])
        mine = [r for r in fresh.get(cid, []) if r.get("chapter") == claim.chapter]
        if not recs:
            rows.append(LedgerRow(claim, "not checked", None, None, None, _reproduced(claim, [], mine)))
            continue
        ok = all(
            r.get("verdict") == "pass"
            and r.get("chapter") == claim.chapter
            and isinstance(r.get("measured"), (int, float))
            and claim.holds(float(r["measured"]))  # the registry's current threshold, not only the run's
            for r in recs
        )
        first = recs[0]
        rows.append(
            LedgerRow(
                claim,
                "pass" if ok else "fail",
                first.get("measured"),
                first.get("seed"),
                first.get("notebook"),
                _reproduced(claim, recs, mine),
                tuple(r.get("measured") for r in mine),
            )
        )
    return rows


def ledger_report(
    rows: Sequence[LedgerRow], *, notebooks_read: int, fresh: Sequence[str] | None = None
) -> tuple[str, int]:
    """The ledger as ``python -m ctdepth_lib claims`` prints it, and the command's exit status.

    One line per claim (holds, measured, threshold, reproduced, tolerance, source, chapter), a
    line under each claim that fresh runs did not reproduce, then the counts. The status is 0
    when every claim holds and — when ``fresh`` names the fresh runs' folders — every claim was
    reproduced by them; else 1.

    Args:
        rows: :func:`ledger_rows`.
        notebooks_read: how many notebooks the records were read from (reported).
        fresh: the folders the fresh records were read from, or None when there are none.
    """
    header = (
        f"{'id':<24} {'holds':<12} {'measured':>12}  {'threshold':<22} {'reproduced':<11}"
        f" {'tolerance':<14} {'source':<15} chapter"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.claim.id:<24} {r.verdict:<12} {r.measured_text:>12}  {r.claim.threshold:<22} {r.reproduced:<11}"
            f" {r.claim.tolerance:<14} {r.claim.source:<15} {r.claim.chapter}"
        )
        if r.reproduced == "no":
            lines.append(
                f"{'':<24} fresh runs measured {r.fresh_text}: not within {r.claim.tolerance} of {r.measured_text}"
            )
    n_pass = sum(r.verdict == "pass" for r in rows)
    n_fail = sum(r.verdict == "fail" for r in rows)
    n_none = sum(r.verdict == "not checked" for r in rows)
    lines.append(f"\n{n_pass} passed, {n_fail} failed, {n_none} not checked ({notebooks_read} notebooks read)")
    status = 0 if n_fail == 0 and n_none == 0 else 1
    if fresh is not None:
        n_rep = sum(r.reproduced == "yes" for r in rows)
        n_not = sum(r.reproduced == "no" for r in rows)
        n_unrun = sum(r.reproduced == "not run" for r in rows)
        lines.append(f"reproduced by the fresh runs in {', '.join(fresh)}: {n_rep} yes, {n_not} no, {n_unrun} not run")
        if n_not or n_unrun:
            status = 1
    return "\n".join(lines), status
