"""The speed of the unroll: ``resnet_unroll`` against torchdiffeq's Euler (``python -m ctdepth_lib bench``).

Both compute ``x_{n+1} = x_n + (t_{n+1} − t_n) f(t_n, x_n)`` with the same operations in the same
order (claim 1a: the results are equal bit for bit), so the ratio of their times is the cost of
the library's checks, its one unroll loop and its first-call check of ``f``.  Each run times both
with ``torch.utils.benchmark.Timer`` in the same process, one after the other (the machine may be
shared: only a ratio measured side by side means anything), and the verdict is on the median of
the runs' ratios (:func:`unroll_verdict`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import torch
import torchdiffeq
from torch.utils.benchmark import Timer

from .._validate import check_int, check_positive
from ..resnet import resnet_unroll

__all__ = ["TARGET_RATIO", "bench_unroll", "format_unroll", "unroll_verdict"]

#: ``resnet_unroll`` may take at most this multiple of torchdiffeq's Euler time (median over runs).
TARGET_RATIO = 1.05


def unroll_verdict(ratios: Sequence[float], target: float = TARGET_RATIO) -> tuple[bool, str]:
    """Whether the median of the runs' time ratios (``resnet_unroll`` / torchdiffeq) is at most ``target``.

    Args:
        ratios: one ratio per run, each finite and > 0 (at least one).
        target: the largest acceptable median (> 0).

    Returns:
        ``(ok, text)``: the verdict and a line that states the median, the runs and the target.
    """
    values = [float(r) for r in ratios]
    if not values or not all(math.isfinite(r) and r > 0 for r in values):
        raise ValueError(f"ratios must be one or more finite numbers > 0; got {list(ratios)!r}")
    if not (math.isfinite(target) and target > 0):
        raise ValueError(f"target must be a finite number > 0; got {target!r}")
    median = statistics.median(values)
    ok = median <= target
    runs = ", ".join(f"{r:.3f}" for r in values)
    text = f"median ratio {median:.3f} over {len(values)} runs ({runs}): {'meets' if ok else 'MISSES'} the target <= {target:g}"
    return ok, text


def bench_unroll(
    d: int = 64, batch: int = 256, n_steps: int = 1000, repeats: int = 5, *, min_run_time: float = 1.0
) -> dict[str, Any]:
    """Time ``resnet_unroll`` and torchdiffeq's Euler on one grid, ``repeats`` runs side by side.

    Field ``f(t, x) = tanh(x Wᵀ + t)``, float64, ``x0`` of shape ``(batch, d)``, grid of
    ``n_steps + 1`` points on ``[0, 1]``, no autograd.  Each run measures both with
    ``torch.utils.benchmark.Timer.blocked_autorange`` (one thread, at least ``min_run_time``
    seconds each, the order alternating from run to run) and takes the ratio of their medians.

    Returns:
        ``ratios`` (one per run), ``ratio`` (their median), ``resnet_unroll_s`` and
        ``torchdiffeq_euler_s`` (the medians over runs of each one's median seconds), and the
        verdict of :func:`unroll_verdict`: ``ok`` and ``verdict`` (a line of text).
    """
    for name, value in (("d", d), ("batch", batch), ("n_steps", n_steps), ("repeats", repeats)):
        check_int(name, value, 1)
    check_positive("min_run_time", min_run_time)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(d, d, generator=gen, dtype=torch.float64) / d**0.5
    x0 = torch.randn(batch, d, generator=gen, dtype=torch.float64)
    ts = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64)

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w.T + t)

    def ours() -> torch.Tensor:
        with torch.no_grad():
            return resnet_unroll(f, x0, ts)

    def theirs() -> torch.Tensor:
        with torch.no_grad():
            return torchdiffeq.odeint(f, x0, ts, method="euler")

    ours(), theirs()  # warm-up: lazily loaded code, allocator
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    for run in range(repeats):
        for name in ("ours", "theirs") if run % 2 == 0 else ("theirs", "ours"):
            timer = Timer("fn()", globals={"fn": ours if name == "ours" else theirs}, num_threads=1)
            times[name].append(timer.blocked_autorange(min_run_time=min_run_time).median)
    ratios = [a / b for a, b in zip(times["ours"], times["theirs"], strict=True)]
    ok, verdict = unroll_verdict(ratios)
    return {
        "resnet_unroll_s": statistics.median(times["ours"]),
        "torchdiffeq_euler_s": statistics.median(times["theirs"]),
        "ratios": ratios,
        "ratio": statistics.median(ratios),
        "ok": ok,
        "verdict": verdict,
    }


def format_unroll(res: dict[str, object], *, d: int, batch: int, n_steps: int) -> str:
    """The bench as ``python -m ctdepth_lib bench`` prints it: both times, the ratios and the verdict."""
    return "\n".join(
        [
            f"resnet_unroll vs torchdiffeq euler (d={d}, batch={batch}, N={n_steps}, float64, 1 thread)",
            f"  resnet_unroll      {float(res['resnet_unroll_s']) * 1e3:8.1f} ms (median of the runs' medians)",  # type: ignore[arg-type]
            f"  torchdiffeq euler  {float(res['torchdiffeq_euler_s']) * 1e3:8.1f} ms",  # type: ignore[arg-type]
            f"  {res['verdict']}",
        ]
    )
