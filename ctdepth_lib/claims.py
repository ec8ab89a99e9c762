"""The claims ledger: every claim of the book, its threshold, and the verdict of each run.

The registry ``claims.yaml`` (shipped inside this package) lists every claim
the book makes: its id (``1a``, ``2b``, ``L1``, …), a one-sentence statement,
its source (``paper``, ``reconstruction`` or ``correction``), the chapter that
checks it and the threshold the measured value must meet.

A chapter declares its run once with :func:`begin` and then checks each claim
with :func:`check`, which

1. compares the measured value with the registry's threshold,
2. glues the value for the prose (key ``claim-<id>``, myst-nb ``glue``),
3. displays a record (mime type ``application/vnd.ctdepth.claim+json``) with
   measured value, threshold, verdict, seed and parameters — the executed
   notebook *is* the ledger entry — and
4. raises :class:`ClaimFailed` when the claim does not hold, which stops the
   notebook and so fails the build and the tests.

:func:`collect` reads the records back from executed notebooks and
:func:`ledger_rows` joins them with the registry; the Claims page of the book
and ``python -m ctdepth_lib claims`` are both built from these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CLAIM_MIME",
    "Claim",
    "ClaimFailed",
    "LedgerRow",
    "begin",
    "check",
    "collect",
    "ledger_rows",
    "registry",
]

CLAIM_MIME = "application/vnd.ctdepth.claim+json"
SOURCES = ("paper", "reconstruction", "correction")
OPS = ("<=", ">=", "==", "abs_diff<=")


class ClaimFailed(AssertionError):
    """A measured value missed its registered threshold."""


@dataclass(frozen=True)
class Claim:
    """One registered claim.

    ``op`` is ``"<="``, ``">="`` or ``"=="`` (measured compared with ``value``)
    or ``"abs_diff<="`` (``|measured − target| <= value``).
    """

    id: str
    statement: str
    source: str
    chapter: str
    quantity: str
    op: str
    value: float
    target: float | None = None

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` meets the threshold (NaN never does)."""
        if not math.isfinite(measured):
            return False
        if self.op == "<=":
            return measured <= self.value
        if self.op == ">=":
            return measured >= self.value
        if self.op == "==":
            return measured == self.value
        assert self.target is not None
        return abs(measured - self.target) <= self.value

    @property
    def threshold(self) -> str:
        """The threshold as text, e.g. ``|slope − 1| ≤ 0.1``."""
        if self.op == "abs_diff<=":
            return f"|x − {_fmt(self.target)}| ≤ {_fmt(self.value)}"
        symbol = {"<=": "≤", ">=": "≥", "==": "="}[self.op]
        return f"x {symbol} {_fmt(self.value)}"


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _parse_claim(raw: Mapping[str, Any]) -> Claim:
    missing = {"id", "statement", "source", "chapter", "quantity", "threshold"} - set(raw)
    if missing:
        raise ValueError(f"registry entry {raw.get('id', raw)!r} lacks fields {sorted(missing)}")
    thr = raw["threshold"]
    if not isinstance(thr, Mapping) or thr.get("op") not in OPS or "value" not in thr:
        raise ValueError(
            f"registry entry {raw['id']!r}: threshold must be {{op: one of {OPS}, value: ...}}; got {thr!r}"
        )
    if thr["op"] == "abs_diff<=" and "target" not in thr:
        raise ValueError(f"registry entry {raw['id']!r}: op 'abs_diff<=' needs a target")
    if raw["source"] not in SOURCES:
        raise ValueError(f"registry entry {raw['id']!r}: source must be one of {SOURCES}; got {raw['source']!r}")
    return Claim(
        id=str(raw["id"]),
        statement=str(raw["statement"]).strip(),
        source=str(raw["source"]),
        chapter=str(raw["chapter"]),
        quantity=str(raw["quantity"]).strip(),
        op=str(thr["op"]),
        value=float(thr["value"]),
        target=float(thr["target"]) if "target" in thr else None,
    )


def registry(path: str | Path | None = None) -> dict[str, Claim]:
    """All registered claims, by id, in registry order.

    Args:
        path: a registry file; default the ``claims.yaml`` shipped with the package.
    """
    if path is None:
        text = resources.files("ctdepth_lib").joinpath("claims.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    claims: dict[str, Claim] = {}
    for raw in data["claims"]:
        claim = _parse_claim(raw)
        if claim.id in claims:
            raise ValueError(f"registry lists claim {claim.id!r} twice")
        claims[claim.id] = claim
    return claims


@dataclass
class _Run:
    chapter: str | None = None
    seed: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


_RUN = _Run()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def begin(chapter: str, *, seed: int, parameters: Mapping[str, Any]) -> None:
    """Declare the run that the following :func:`check` calls belong to.

    Args:
        chapter: docname of the chapter, e.g. ``"chapters/01_resnet_euler"``.
        seed: the random seed of the run (recorded with every claim).
        parameters: the chapter's parameters (recorded with every claim).
    """
    known = {c.chapter for c in registry().values()}
    if chapter not in known:
        raise ValueError(f"chapter must be a chapter of the registry {sorted(known)}; got {chapter!r}")
    _RUN.chapter = chapter
    _RUN.seed = int(seed)
    _RUN.parameters = dict(_jsonable(dict(parameters)))


def check(claim_id: str, measured: float, *, glue: bool = True) -> None:
    """Check one registered claim against its threshold; raise when it fails.

    Args:
        claim_id: a registry id, e.g. ``"1b"``.
        measured: the measured value (a Python number or 0-d tensor/array).
        glue: also glue the value under ``claim-<id>`` for the prose.

    The record (id, chapter, measured, threshold, verdict, seed, parameters) is
    displayed as the cell's output; it returns nothing, so a check ending a cell
    shows the record once.

    Raises:
        ClaimFailed: the measured value misses the threshold (or is not finite).
    """
    claims = registry()
    if claim_id not in claims:
        raise ValueError(f"claim_id must be a registered claim {list(claims)}; got {claim_id!r}")
    if _RUN.chapter is None:
        raise RuntimeError("call ctdepth_lib.claims.begin(chapter, seed=..., parameters=...) before check()")
    claim = claims[claim_id]
    if claim.chapter != _RUN.chapter:
        raise ValueError(f"claim {claim_id!r} belongs to {claim.chapter!r}, not to this run's chapter {_RUN.chapter!r}")
    try:
        value = float(measured)
    except (TypeError, ValueError):
        raise TypeError(f"measured must be a real number; got {measured!r}") from None
    verdict = "pass" if claim.holds(value) else "fail"
    record = {
        "id": claim.id,
        "chapter": claim.chapter,
        "measured": float(f"{value:.10g}") if math.isfinite(value) else str(value),
        "threshold": claim.threshold,
        "verdict": verdict,
        "seed": _RUN.seed,
        "parameters": _RUN.parameters,
    }
    text = f"claim {claim.id}: {verdict.upper()} — {claim.quantity} = {_fmt(value)} (threshold {claim.threshold})"
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the book's stack
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None:
        display({CLAIM_MIME: record, "text/plain": text}, raw=True)
        if glue:
            from myst_nb import glue as nb_glue

            nb_glue(f"claim-{claim.id}", value, display=False)
    else:
        print(text)
    if verdict == "fail":
        raise ClaimFailed(text)


def collect(notebooks: Iterable[str | Path]) -> dict[str, list[dict[str, Any]]]:
    """Claim records stored in executed notebooks, by claim id.

    Each record gains a ``notebook`` field (the path it was read from).
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for nb_path in notebooks:
        path = Path(nb_path)
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []) or []:
                data = out.get("data", {})
                if CLAIM_MIME in data:
                    rec = dict(data[CLAIM_MIME])
                    rec["notebook"] = str(path)
                    found.setdefault(str(rec["id"]), []).append(rec)
    return found


@dataclass(frozen=True)
class LedgerRow:
    """A registered claim joined with what the runs recorded for it."""

    claim: Claim
    verdict: str  # "pass", "fail", "not checked"
    measured: float | str | None
    seed: int | None
    notebook: str | None

    @property
    def measured_text(self) -> str:
        """The measured value as the ledger shows it (``—`` when not checked)."""
        if self.measured is None:
            return "—"
        return f"{self.measured:.4g}" if isinstance(self.measured, float) else str(self.measured)


def ledger_rows(
    records: Mapping[str, list[dict[str, Any]]], claims: Mapping[str, Claim] | None = None
) -> list[LedgerRow]:
    """One row per registered claim, in registry order.

    A claim with no record is ``"not checked"``; a claim with several records
    (several runs) passes only if every one passed; a record whose notebook
    is not the claim's registered chapter, or whose measured value misses the
    registry's *current* threshold (say, one tightened since the run), counts
    as a failure.
    """
    claims = registry() if claims is None else claims
    rows = []
    for cid, claim in claims.items():
        recs = records.get(cid, [])
        if not recs:
            rows.append(LedgerRow(claim, "not checked", None, None, None))
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
            LedgerRow(claim, "pass" if ok else "fail", first.get("measured"), first.get("seed"), first.get("notebook"))
        )
    unknown = sorted(set(records) - set(claims))
    for cid in unknown:
        raise ValueError(
            f"notebook {records[cid][0].get('notebook')} records claim {cid!r}, which the registry does not list"
        )
    return rows
