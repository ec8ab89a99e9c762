"""Time a chapter's run against a budget stated on another machine, by a workload timed on both.

A budget in seconds ("the quick run ≤ 20 s on 2 cores") only means something on the machine it
was measured on, and this machine's speed drifts by ±60 % from hour to hour. Chapter 6's budgets
(a quick run ≤ 20 s, a full run ≤ 90 s; issue 25) were set together with a reference workload
measured on 2 idle cores of that machine, a 20-layer stack of 3×3 convolutions over 28×28
images: one epoch of 8,000 digits took about 7 s at 8 channels and about 12 s at 16 channels.
This script alternates that workload with the chapter's runs (reference, run, reference, run, …,
reference), takes for each run the mean of the reference times just before and just after it,
so both see the same phase of the machine, and scales the run's time to the budget's machine::

    t_there = t_run · t_ref_there / t_ref_here

once with each channel count; the larger of the two counts. The reference is written here as
that sentence describes it: float32, Adam with mini-batches of 64 (the chapter's), each layer
``y = x + Δt·conv(x)``, ``x ← y − Δt·y³`` (the chapter's near-identity form, Δt = 0.05), an input
convolution and a linear read-out. The two reference times there have the ratio 12/7 ≈ 1.7; the
script prints the ratio it measures here.

The chapter runs exactly as a sweep runs it (:func:`ctdepth_lib.book.sweep_task.execute_run`:
papermill, no figures, claims continue): the quick parameters with one thread (a sweep worker is
single-threaded), or with ``--full`` the chapter's own parameters with two threads (as ``make test``
runs it under nbval). Nothing is written into the repository.

    python tools/quick_budget.py                      # chapter 6, quick, 5 runs, budget 20 s
    python tools/quick_budget.py --full               # chapter 6, full parameters, 2 threads, budget 90 s
    python tools/quick_budget.py --chapter 05_training --runs 3

Exit status 0 when the median over the runs of the scaled time is within the budget, 1 when it is not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The reference where the budgets were set (issue 25): seconds per epoch of 8,000 digits on 2
#: idle cores, by channel count.
REFERENCE_THERE = {8: 7.0, 16: 12.0}


def reference_workload(threads: int = 2, digits: int = 8000, batch: int = 64) -> dict[int, float]:
    """Seconds per epoch of the reference stack, for each channel count of :data:`REFERENCE_THERE`."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Stack(nn.Module):
        def __init__(self, channels: int, layers: int = 20, dt: float = 0.05) -> None:
            super().__init__()
            self.dt = dt
            self.inp = nn.Conv2d(1, channels, 3, padding=1)
            self.layers = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(layers))
            self.out = nn.Linear(channels * 28 * 28, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.inp(x)
            for conv in self.layers:
                y = x + self.dt * conv(x)
                x = y - self.dt * y**3
            return self.out(x.flatten(1))

    images, labels = torch.randn(digits, 1, 28, 28), torch.randint(0, 10, (digits,))
    out = {}
    for channels in REFERENCE_THERE:
        net = Stack(channels)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        start = time.perf_counter()
        for i in range(0, digits, batch):
            loss = nn.functional.cross_entropy(net(images[i : i + batch]), labels[i : i + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        out[channels] = time.perf_counter() - start
    return out


def scaled(run_seconds: float, reference_here: dict[int, float]) -> dict[int, float]:
    """The run's time on the budget's machine, once per channel count: ``t_run · t_there / t_here``.

    Raises:
        ValueError: a time that is not positive, or a channel count without a reference time.
    """
    if not run_seconds > 0:
        raise ValueError(f"run_seconds must be > 0; got {run_seconds!r}")
    out = {}
    for channels, here in reference_here.items():
        if channels not in REFERENCE_THERE:
            raise ValueError(
                f"reference_here: no reference time for {channels} channels; known: {sorted(REFERENCE_THERE)}"
            )
        if not here > 0:
            raise ValueError(f"reference_here[{channels}] must be > 0; got {here!r}")
        out[channels] = run_seconds * REFERENCE_THERE[channels] / here
    return out


def verdict(scaled_times: Sequence[float], budget: float) -> tuple[float, bool]:
    """The median of the scaled times and whether it is within ``budget`` seconds.

    Raises:
        ValueError: no times, or a budget that is not positive.
    """
    if not scaled_times:
        raise ValueError("scaled_times must hold at least one time; got none")
    if not budget > 0:
        raise ValueError(f"budget must be > 0 seconds; got {budget!r}")
    median = statistics.median(scaled_times)
    return median, median <= budget


def _run_chapter(chapter: str, seed: int, full: bool) -> tuple[float, str]:
    """Run the chapter once as a sweep does; return its seconds and status."""
    from ctdepth_lib.book.digests import library_digest
    from ctdepth_lib.book.sweep_plan import plan
    from ctdepth_lib.book.sweep_task import CLIENT_VARS, THREAD_VARS, execute_run

    (run,) = plan([chapter], [seed], not full, {}, ROOT)
    # what a sweep hands its kernels (the client's values), with the thread count of the budget
    client_env = {k: os.environ.get(k) for k in CLIENT_VARS} | dict.fromkeys(THREAD_VARS, "2" if full else "1")
    outcome = execute_run(
        run.chapter.path.read_bytes(),
        run.chapter.stem,
        run.params | {"SEED": seed},
        3600.0,
        library_digest(),
        client_env,
    )
    return outcome["seconds"], outcome["status"]


def _reference() -> dict[int, float]:
    """Time :func:`reference_workload` in a fresh process (nothing of a chapter's run is loaded)."""
    cmd = [sys.executable, __file__, "--reference"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {int(k): v for k, v in json.loads(out).items()}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chapter", default="06_discrete", help="a chapter's stem or notebook path (default 06_discrete)")
    ap.add_argument(
        "--runs", type=int, default=5, help="runs, seeds 1..N, each between two reference timings (default 5)"
    )
    ap.add_argument(
        "--full", action="store_true", help="the chapter's own parameters on 2 threads, not the quick ones on 1"
    )
    ap.add_argument(
        "--budget", type=float, default=None, help="seconds on the budget's machine (default 20, or 90 with --full)"
    )
    ap.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)  # the subprocess's entry
    args = ap.parse_args(argv)
    if args.reference:
        print(json.dumps(reference_workload()))
        return 0
    if args.runs < 1:
        ap.error(f"--runs must be >= 1; got {args.runs}")
    budget = args.budget if args.budget is not None else (90.0 if args.full else 20.0)
    if not budget > 0:
        ap.error(f"--budget must be > 0 seconds; got {budget}")
    rows = []
    print(
        f"{'seed':>4} {'ref 8 ch':>9} {'ref 16 ch':>9} {'16/8':>5} {'run':>7} {'status':>7} {'there (8)':>9} {'there (16)':>10}"
    )
    before = _reference()
    for seed in range(1, args.runs + 1):
        seconds, status = _run_chapter(args.chapter, seed, args.full)
        after = _reference()
        here = {c: (before[c] + after[c]) / 2 for c in before}  # the reference's times on either side
        there = scaled(seconds, here)
        rows.append(max(there.values()))  # the less favourable of the two scalings
        print(
            f"{seed:>4} {here[8]:>9.2f} {here[16]:>9.2f} {here[16] / here[8]:>5.2f} {seconds:>7.2f} {status:>7}"
            f" {there[8]:>9.2f} {there[16]:>10.2f}",
            flush=True,
        )
        before = after
    median, ok = verdict(rows, budget)
    kind = "full" if args.full else "quick"
    print(f"{args.chapter} {kind}: median scaled time {median:.1f} s; budget {budget:g} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
