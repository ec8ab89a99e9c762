"""The claims a chapter checks: the registry, and the run-time half of the ledger.

The registry ``claims.yaml`` (shipped inside this package) lists every claim
the book makes: its id (``1a``, ``2b``, ``L1``, …), a one-sentence statement,
its source (``paper``, ``reconstruction``, ``correction``, ``extension`` or ``pitfall``; a
``paper`` claim says ``where`` the abstract or the author's talk states it), its kind
(``identity``, ``law`` or ``statistical``), the chapter that checks it and the threshold the
measured value must meet.

A chapter declares its run once with :func:`begin` and then checks each claim
with :func:`check`, which

1. compares the measured value with the registry's threshold,
2. glues the value for the prose (key ``claim-<id>``, myst-nb ``glue``),
3. displays a record (mime type ``application/vnd.ctdepth.claim+json``) with
   measured value, threshold, verdict, seed and parameters — the executed
   notebook *is* the ledger entry — and
4. raises :class:`ClaimFailed` when the claim does not hold, which stops the
   notebook and so fails the build and the tests.

Reading the records back from executed notebooks and judging them (the Claims page of the book,
``python -m ctdepth_lib claims``) is the book's machinery: :mod:`ctdepth_lib.book.ledger`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .outputs import below

__all__ = [
    "CLAIM_MIME",
    "CONTINUE_VAR",
    "KINDS",
    "SOURCES",
    "Claim",
    "ClaimFailed",
    "badge",
    "begin",
    "check",
    "load_registry",
    "registry",
]

CLAIM_MIME = "application/vnd.ctdepth.claim+json"
#: With this environment variable set to ``1``, :func:`check` records a failing claim and goes on
#: (seed sweeps: every run measures every claim) instead of raising :class:`ClaimFailed`.
CONTINUE_VAR = "CTDEPTH_CLAIMS_CONTINUE"
SOURCES = ("paper", "reconstruction", "correction", "extension", "pitfall")
#: identity: holds by algebra (or a theorem) for every input — its check guards the code, to rounding
#: (or to the solver's tolerance); law: a measured numerical law (an order, a size, a scaling) with a
#: threshold and an independent reference, which a false statement would miss; statistical: stated
#: over seeds (training), with the rate the committed sweep measured.
KINDS = ("identity", "law", "statistical")
OPS = ("<=", ">=", "==", "abs_diff<=")
REPRODUCE_KINDS = ("rel", "abs", "below")


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
    reproduce: tuple[str, float] = ("rel", 1e-4)
    digits: int = 4
    naive: str = ""  # a correction's naive reading, which the statement corrects ("" otherwise)
    kind: str = "law"
    where: str = ""  # a paper claim: where the abstract or the talk states it ("talk, slide 14")

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

    def reproduces(self, committed: float, fresh: float) -> bool:
        """Whether a fresh run's ``fresh`` reproduces the committed ``committed`` within ``reproduce``.

        ``("rel", r)``: |fresh − committed| ≤ r·|committed| (r = 0: exactly equal);
        ``("abs", a)``: |fresh − committed| ≤ a; ``("below", b)``: both |values| ≤ b.
        """
        if not (math.isfinite(committed) and math.isfinite(fresh)):
            return False
        kind, tol = self.reproduce
        if kind == "below":
            return abs(committed) <= tol and abs(fresh) <= tol
        if kind == "abs":
            return abs(fresh - committed) <= tol
        return abs(fresh - committed) <= tol * abs(committed)

    @property
    def tolerance(self) -> str:
        """The reproduction tolerance as text, e.g. ``rel 1e-04``."""
        kind, tol = self.reproduce
        if kind == "rel":
            return "exact" if tol == 0 else f"rel {tol:.0e}"
        return f"± {tol:g}" if kind == "abs" else f"both ≤ {tol:.0e}"

    def show(self, value: float) -> str:
        """``value`` as the record shows it: ``digits`` significant digits, or against the bound."""
        if not math.isfinite(value):
            return str(value)
        kind, tol = self.reproduce
        if kind == "below":
            # an exact 0 here is 2e-16 on another machine: both are shown as the bound
            return below(value, tol)
        if value == 0 or (value == int(value) and abs(value) < 1e6):
            return f"{value:g}"
        return f"{value:.{self.digits}g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.{self.digits - 1}e}"

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
    rep = raw.get("reproduce", {"rel": 1e-4})
    if not isinstance(rep, Mapping) or len(rep) != 1 or next(iter(rep)) not in REPRODUCE_KINDS:
        raise ValueError(
            f"registry entry {raw['id']!r}: reproduce must be one of {{rel: r}}, {{abs: a}}, {{below: b}}; got {rep!r}"
        )
    rep_kind, tol = next(iter(rep.items()))
    if not isinstance(tol, (int, float)) or tol < 0 or (rep_kind != "rel" and tol == 0):
        raise ValueError(f"registry entry {raw['id']!r}: reproduce tolerance must be a number >= 0; got {tol!r}")
    digits = raw.get("digits", 4)
    if not isinstance(digits, int) or not 1 <= digits <= 5:
        raise ValueError(f"registry entry {raw['id']!r}: digits must be an int in [1, 5]; got {digits!r}")
    if raw["source"] not in SOURCES:
        raise ValueError(f"registry entry {raw['id']!r}: source must be one of {SOURCES}; got {raw['source']!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"registry entry {raw['id']!r}: kind must be one of {KINDS}; got {kind!r}")
    where = str(raw.get("where", "")).strip()
    if (raw["source"] == "paper") != bool(where):
        raise ValueError(
            f"registry entry {raw['id']!r}: a paper claim says where the abstract or the talk states it "
            f"(where: ...), and only a paper claim does; got source {raw['source']!r} and where {where!r}"
        )
    naive = str(raw.get("naive", "")).strip()
    if (raw["source"] == "correction" and not naive) or (naive and raw["source"] not in ("correction", "pitfall")):
        raise ValueError(
            f"registry entry {raw['id']!r}: a correction states the naive reading it corrects (naive: ...), "
            f"and only a correction or a pitfall does; got source {raw['source']!r} and naive {naive!r}"
        )
    return Claim(
        id=str(raw["id"]),
        statement=str(raw["statement"]).strip(),
        source=str(raw["source"]),
        chapter=str(raw["chapter"]),
        quantity=str(raw["quantity"]).strip(),
        op=str(thr["op"]),
        value=float(thr["value"]),
        target=float(thr["target"]) if "target" in thr else None,
        reproduce=(str(rep_kind), float(tol)),
        digits=digits,
        naive=naive,
        kind=str(kind),
        where=where,
    )


def load_registry(path: str | Path | None = None) -> dict[str, Any]:
    """The registry file as YAML data: its ``claims`` list and its ``over_seeds`` section.

    The one reader of ``claims.yaml``: :func:`registry` parses its claims, and
    :func:`ctdepth_lib.book.sweep_summary.stated_rates` its ``over_seeds``.

    Args:
        path: a registry file; default the ``claims.yaml`` shipped with the package.
    """
    if path is None:
        text = resources.files("ctdepth_lib").joinpath("claims.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping) or not isinstance(data.get("claims"), list):
        raise ValueError(f"path: a registry holds a list `claims:`; {path or 'claims.yaml'} does not")
    return dict(data)


def registry(path: str | Path | None = None) -> dict[str, Claim]:
    """All registered claims, by id, in registry order.

    The shipped registry is parsed once per process (every :func:`check` needs it, and parsing
    the YAML takes tens of milliseconds); a ``path`` is read afresh on every call.

    Args:
        path: a registry file; default the ``claims.yaml`` shipped with the package.
    """
    return dict(_shipped_registry()) if path is None else _parse_registry(path)


@functools.cache
def _shipped_registry() -> dict[str, Claim]:
    return _parse_registry(None)


def _parse_registry(path: str | Path | None) -> dict[str, Claim]:
    claims: dict[str, Claim] = {}
    for raw in load_registry(path)["claims"]:
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


def badge(claim: Claim, verdict: str, shown: str) -> str:
    """The record as the book shows it: a one-line badge in the page's margin, linked to the claim's box.

    ``1b holds · 1.003 · |x − 1| ≤ 0.1`` (the full record is its tooltip); on narrow screens and in
    print it sits inline, small, where the check ran. Words, not a glyph: a check mark renders as an
    empty box where the reader's fonts lack it.
    """
    from html import escape

    mark = "holds" if verdict == "pass" else "FAILS"
    tip = escape(
        f"claim {claim.id} ({claim.source}, {claim.kind}): {claim.quantity} = {shown}; threshold {claim.threshold}"
    )
    return (
        f'<div class="margin ctdepth-badge ctdepth-badge-{verdict}" title="{tip}">'
        f'<a class="ctdepth-badge-id" href="#box-{escape(claim.id.lower())}">{escape(claim.id)}</a> '
        f'<span class="ctdepth-badge-mark">{mark}</span> '
        f'<span class="ctdepth-badge-value">{escape(shown)}</span> '
        f'<span class="ctdepth-badge-threshold">{escape(claim.threshold)}</span></div>'
    )


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
        ClaimFailed: the measured value misses the threshold (or is not finite) — unless the
            environment variable ``CTDEPTH_CLAIMS_CONTINUE`` is ``1``: then the failing record
            is shown and the run goes on. A seed sweep sets it so that every run measures every
            claim (the run is still recorded as failed); the book's build and tests never do.
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
    shown = claim.show(value)
    sep = " " if shown.startswith("≤") else " = "
    text = f"claim {claim.id}: {verdict.upper()} — {claim.quantity}{sep}{shown} (threshold {claim.threshold})"
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the book's stack
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None:
        display({CLAIM_MIME: record, "text/html": badge(claim, verdict, shown), "text/plain": text}, raw=True)
        if glue:
            from .outputs import glue as glue_value

            if claim.reproduce[0] == "below":
                # a rounding- or tolerance-level value: its digits differ from machine to machine, so
                # the prose gets only the bound, as text ("≤ 1e-09") and as a number (claim-<id>-bound)
                glue_value(f"claim-{claim.id}", shown)
                glue_value(f"claim-{claim.id}-bound", claim.reproduce[1], digits=1)
            else:
                # one digit more than the record shows (when it shows the default 4 or more, which
                # rounding leaves alone), so the prose can quote 1.0037 as {glue:text}`claim-1b:.4f`
                glue_value(f"claim-{claim.id}", value, digits=claim.digits + 1 if claim.digits >= 4 else claim.digits)
    else:
        print(text)
    if verdict == "fail" and os.environ.get(CONTINUE_VAR) != "1":
        raise ClaimFailed(text)
