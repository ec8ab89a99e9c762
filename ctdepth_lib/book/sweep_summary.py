"""Pass rates and spreads of the claims over a committed seed sweep (``data/sweep/results.parquet``).

The sweep (``python -m ctdepth_lib sweep``, :mod:`ctdepth_lib.book.sweep`) runs every chapter with
many seeds and writes one row per claim per run. This module reads that table and summarises it
per claim and per kind of run (quick or full parameters): how many runs the claim held in, and
the spread of its measured value. The Claims page renders these summaries from the committed
table; it never reruns the sweep.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims import load_registry

__all__ = [
    "SWEEP_TABLE",
    "RateSummary",
    "StatedRate",
    "format_rates",
    "load_table",
    "parameters_text",
    "pass_rates",
    "rate_sentence",
    "run_times",
    "spread_figure",
    "stated_rates",
    "sweep_problems",
    "threshold_ratio",
]

SWEEP_TABLE = Path("data") / "sweep" / "results.parquet"
REQUIRED_COLUMNS = ("claim", "chapter", "seed", "parameters", "measured", "verdict", "seconds", "version", "quick")


@dataclass(frozen=True)
class RateSummary:
    """One claim over the runs of one kind (quick or full parameters) of a sweep.

    ``runs`` counts the runs of the chapter (a run that stopped before reaching the claim
    counts, and does not pass); ``passed`` those whose record of the claim passed; ``reached``
    those that checked the claim at all (pass or fail); ``lo``/``median``/``hi`` summarise the
    finite measured values.
    """

    runs: int
    passed: int
    lo: float
    median: float
    hi: float
    reached: int = -1

    def __post_init__(self) -> None:
        if self.reached < 0:  # not given: every run reached the claim
            object.__setattr__(self, "reached", self.runs)

    @property
    def rate(self) -> float:
        """The fraction of runs in which the claim held (0 … 1)."""
        return self.passed / self.runs if self.runs else math.nan


def load_table(path: str | Path) -> Any:
    """The sweep table at ``path`` as a pandas DataFrame, its columns checked."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no sweep table at {path} (make one with `python -m ctdepth_lib sweep`)")
    table = pd.read_parquet(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"path: the sweep table {path} lacks the columns {missing}; it has {list(table.columns)}")
    return table


def _run_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["chapter"], bool(row["quick"]), int(row["seed"]), str(row["parameters"]))


def pass_rates(table: Any, claim_chapters: Mapping[str, str]) -> dict[str, dict[str, RateSummary]]:
    """Per claim id and kind (``"quick"``/``"full"``): runs, passes and the spread of the measured value.

    Args:
        table: the sweep table (:func:`load_table`).
        claim_chapters: claim id → the chapter (docname) that checks it, e.g. from
            :func:`ctdepth_lib.claims.registry`. Every run of that chapter counts for the
            claim, so a run that failed before reaching it counts as not passed.
    """
    if not isinstance(claim_chapters, Mapping):
        raise TypeError(f"claim_chapters must be a mapping of claim id to chapter; got {type(claim_chapters).__name__}")
    records = table.to_dict("records")
    runs: dict[tuple[str, bool], set[tuple[Any, ...]]] = {}
    for row in records:
        runs.setdefault((row["chapter"], bool(row["quick"])), set()).add(_run_key(row))
    by_claim: dict[tuple[str, bool], list[Mapping[str, Any]]] = {}
    for row in records:
        by_claim.setdefault((row["claim"], bool(row["quick"])), []).append(row)
    out: dict[str, dict[str, RateSummary]] = {}
    for cid, chapter in claim_chapters.items():
        kinds: dict[str, RateSummary] = {}
        for quick, kind in ((True, "quick"), (False, "full")):
            n_runs = len(runs.get((chapter, quick), set()))
            if not n_runs:
                continue
            mine = by_claim.get((cid, quick), [])
            passed = len({_run_key(r) for r in mine if r["verdict"] == "pass"})
            reached = len({_run_key(r) for r in mine if r["verdict"] in ("pass", "fail")})
            values = sorted(
                float(r["measured"])
                for r in mine
                if isinstance(r["measured"], (int, float)) and math.isfinite(float(r["measured"]))
            )
            if values:
                mid = len(values) // 2
                median = values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])
                kinds[kind] = RateSummary(n_runs, passed, values[0], median, values[-1], reached)
            else:
                kinds[kind] = RateSummary(n_runs, passed, math.nan, math.nan, math.nan, reached)
        out[cid] = kinds
    return out


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    return f"{x:.1e}"


def run_times(table: Any) -> dict[str, dict[str, tuple[float, int]]]:
    """Median wall time of one run per chapter, ``{chapter: {"quick"|"full": (seconds, runs)}}``.

    Read from the sweep's ``seconds`` column (one value per run, repeated on its claim rows);
    runs that errored or timed out are left out.
    """
    runs = table[~table["run_status"].isin(["error", "timeout"])].drop_duplicates("run_id")
    out: dict[str, dict[str, tuple[float, int]]] = {}
    for (chapter, quick), group in runs.groupby(["chapter", "quick"]):
        out.setdefault(str(chapter), {})["quick" if bool(quick) else "full"] = (
            float(group["seconds"].median()),
            len(group),
        )
    return out


def format_rates(kinds: Mapping[str, RateSummary], stated: StatedRate | None = None) -> str:
    """One line per kind: ``quick: 50/50 (100 %); 0.98 – 1.01`` — or ``no sweep runs``.

    With ``stated`` (the claim is stated over seeds, :func:`stated_rates`) a last line says the
    rate the book states: ``stated: holds in ≥ 90 % of runs``.
    """
    if not kinds:
        return "no sweep runs"
    lines = []
    for kind in ("quick", "full"):
        s = kinds.get(kind)
        if s is None:
            continue
        text = f"{kind}: {s.passed}/{s.runs} ({100 * s.rate:.0f} %)"
        if s.reached < s.runs:
            stopped = s.runs - s.reached
            text += f", {stopped} run{'s' if stopped != 1 else ''} stopped before it"
        if math.isfinite(s.lo):
            text += f"; {_num(s.lo)}" if s.lo == s.hi else f"; {_num(s.lo)} – {_num(s.hi)}"
        lines.append(text)
    if stated is not None:
        lines.append(f"stated: holds in ≥ {100 * stated.min_rate:.0f} % of runs")
    return "\n".join(lines)


def rate_sentence(kinds: Mapping[str, RateSummary]) -> str:
    """The pass rate in words, for prose: ``46 of 50 quick runs and 10 of 10 full runs``."""
    parts = []
    for kind in ("quick", "full"):
        s = kinds.get(kind)
        if s is not None:
            parts.append(f"{s.passed} of {s.runs} {kind} run{'s' if s.runs != 1 else ''}")
    return " and ".join(parts) if parts else "no sweep runs"


@dataclass(frozen=True)
class StatedRate:
    """A claim stated over seeds: it holds in at least ``min_rate`` of the runs, for the reason ``why``."""

    min_rate: float
    why: str


def stated_rates(path: str | Path | None = None) -> dict[str, StatedRate]:
    """The claims the registry states over seeds (its top-level ``over_seeds`` section), by id.

    Every other claim must hold in every run. The section sits beside the claims' entries, not
    in them, so stating a rate does not change any run (nor make the committed sweep stale).

    Args:
        path: a registry file; default the ``claims.yaml`` shipped with the package
            (read by :func:`ctdepth_lib.claims.load_registry`).
    """
    section = load_registry(path).get("over_seeds") or {}
    if not isinstance(section, Mapping):
        raise ValueError(f"over_seeds must map claim ids to {{min_rate, why}}; got {type(section).__name__}")
    out: dict[str, StatedRate] = {}
    for cid, entry in section.items():
        if not isinstance(entry, Mapping) or set(entry) != {"min_rate", "why"}:
            raise ValueError(f"over_seeds[{cid!r}] must have exactly the keys min_rate and why; got {entry!r}")
        rate = entry["min_rate"]
        if not isinstance(rate, (int, float)) or not 0 < float(rate) < 1:
            raise ValueError(f"over_seeds[{cid!r}].min_rate must be a fraction in (0, 1); got {rate!r}")
        if not str(entry["why"]).strip():
            raise ValueError(f"over_seeds[{cid!r}].why must say why the claim is stated over seeds")
        out[str(cid)] = StatedRate(float(rate), str(entry["why"]).strip())
    return out


def sweep_problems(table: Any, claim_chapters: Mapping[str, str], stated: Mapping[str, StatedRate]) -> list[str]:
    """What the committed sweep shows that the book does not state, one sentence per problem.

    A claim not in ``stated`` must pass in every run that reached it; a claim in ``stated`` in
    at least its ``min_rate`` of the runs of each kind. A run may stop before a claim only
    because an earlier claim *stated over seeds* failed; a run that ended in a cell error or a
    timeout, or stopped at a claim that is meant to hold always, is a problem too.
    """
    problems: list[str] = []
    rates = pass_rates(table, claim_chapters)
    for cid, kinds in rates.items():
        for kind, s in kinds.items():
            if cid in stated:
                if s.rate < stated[cid].min_rate:
                    problems.append(
                        f"claim {cid} ({kind}): holds in {s.passed}/{s.runs} runs, "
                        f"below its stated rate {stated[cid].min_rate:.0%}"
                    )
            elif s.passed < s.reached:
                problems.append(f"claim {cid} ({kind}): fails in {s.reached - s.passed} of {s.reached} runs")
    records = table.to_dict("records")
    status_col = "run_status" in table.columns
    failed_at: dict[tuple[Any, ...], set[str]] = {}
    for row in records:
        if row["verdict"] == "fail":
            failed_at.setdefault(_run_key(row), set()).add(str(row["claim"]))
        if status_col and row["run_status"] in ("error", "timeout"):
            failed_at.setdefault(_run_key(row), set()).add(f"<{row['run_status']}>")
    for key, why in sorted(failed_at.items(), key=str):
        unstated = sorted(c for c in why if c not in stated)
        if unstated:
            chapter, quick, seed, _ = key
            kind = "quick" if quick else "full"
            problems.append(f"{chapter} seed {seed} ({kind}) stopped at {', '.join(unstated)}")
    return problems


def threshold_ratio(claim: Any, measured: float) -> float:
    """``measured`` relative to ``claim``'s threshold, oriented so that the claim holds iff the ratio ≤ 1.

    ``x ≤ v``: x/v; ``x ≥ v``: v/x; ``|x − t| ≤ v``: |x − t|/v (for v < 0 the ratios are
    taken the other way round). ``inf`` where the measured value is on the wrong side of
    zero, ``nan`` for exact (``==``) claims.
    """
    x, v = float(measured), claim.value
    if claim.op == "abs_diff<=":
        return abs(x - claim.target) / v
    if claim.op == "==" or not v:
        return math.nan
    holds_above = claim.op == ">="
    if v > 0:
        if x <= 0:
            return math.inf if holds_above else 0.0
        return v / x if holds_above else x / v
    # v < 0: compare magnitudes the other way round
    if x >= 0:
        return 0.0 if holds_above else math.inf
    return v / x if not holds_above else x / v


def spread_figure(table: Any, claims: Iterable[Any], chapter: str, path: str | Path) -> Path:
    """A strip plot of every claim of ``chapter`` over the sweep, each run against its threshold.

    Each claim gets one row; each tick is one run (quick parameters in one colour, full in
    another) at :func:`threshold_ratio` of its measured value, so the dashed line at 1 is every
    claim's threshold and a claim holds in a run when its tick is left of it. Exact (``==``)
    claims are left out; values below the floor are drawn at the floor.

    Args:
        table: the sweep table.
        claims: the registered claims (:class:`ctdepth_lib.claims.Claim`) of the chapter.
        chapter: the chapter docname, e.g. ``"chapters/01_resnet_euler"``.
        path: where the PNG is written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import COLORS, use_style

    use_style()
    mine = [c for c in claims if c.chapter == chapter and c.op != "=="]
    rows = table[table["chapter"] == chapter]
    fig, ax = plt.subplots(figsize=(7.0, 0.3 * max(len(mine), 3) + 1.4), dpi=150)
    floor, ceiling = 1e-6, 1e3
    for i, c in enumerate(mine):
        sub = rows[rows["claim"] == c.id]
        for quick, colour, label, dy in (
            (True, COLORS["resnet"], "quick parameters", 0.15),
            (False, COLORS["ode"], "full parameters", -0.15),
        ):
            vals = [
                float(v) for v in sub[sub["quick"] == quick]["measured"] if v is not None and math.isfinite(float(v))
            ]
            ratios = [min(max(threshold_ratio(c, v), floor), ceiling) for v in vals]
            ax.plot(ratios, [i - dy] * len(ratios), "|", ms=7, color=colour, alpha=0.6, label=label if i == 0 else None)
    ax.axvline(1.0, color="0.3", lw=1.0, ls="--", label="threshold")
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, ceiling * 2)
    ax.set_yticks(range(len(mine)), [c.id for c in mine])
    ax.set_ylim(len(mine) - 0.5, -0.5)
    ax.set_xlabel("measured value relative to the threshold (holds left of 1)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def parameters_text(value: str) -> str:
    """The sweep's JSON ``parameters`` column as ``NAME=value`` pairs."""
    try:
        params = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return str(value)
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
