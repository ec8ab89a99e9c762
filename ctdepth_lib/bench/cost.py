"""The cost of a gradient: peak memory and time of backprop through the unroll vs the adjoint.

Backpropagation through a residual network of depth ``N`` stores every hidden
state and activation of the forward pass, so its memory grows like ``O(N)``;
the adjoint method (Chen et al. 2018) recomputes the states backwards while it
integrates the adjoint equation instead of storing them, and pays with extra time.
Both run here on the *same* discretisation — ``N`` Euler steps of a
:class:`~ctdepth_lib.fields.TimeMLP` field — so only the way the gradient is computed differs.

What the adjoint's memory still grows with (torchdiffeq 0.2.5, fixed-step methods):

* asked for ``x(T)`` only (method ``"adjoint"``, outputs at ``[0, T]``), it stores no state per
  step, but the solver's loop ``for t0, t1 in zip(time_grid[:-1], time_grid[1:])`` iterates two
  tensors, and iterating a tensor unbinds it into all its elements at once: during each of its two
  solves (forward, then backward with the momentum) ``2N`` scalar tensors of the time grid are
  alive (:func:`fixed_grid_scalars` counts them) — about 1 KiB per step, whatever the batch;
* asked for the state at every step (method ``"adjoint-every"``, the step grid as output grid), it
  keeps the whole solution and, in the backward pass, its gradient: two states per step.

Memory is measured, not estimated: every configuration runs in its own fresh
process (forked, ``os.fork``, from a server subprocess that has only imported the library), which
first runs one small warm-up gradient of every kind (so lazily loaded code and
allocator set-up are not charged to the configuration), then records its resident
set size, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``) and
computes one gradient; the cost is ``VmHWM − VmRSS`` (peak minus baseline).  Time is
the best of ``repeats`` further gradients in the same process.

``python -m ctdepth_lib cost`` (or ``python -m ctdepth_lib.bench.cost``) prints the table for
``N = 64 … 4096``.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import check_choice, check_int, check_positive
from ..fields import TimeMLP
from ..resnet import resnet_unroll
from ..solvers import odeint, uniform_grid_options

__all__ = [
    "COST_METHODS",
    "GradientCost",
    "cost_table",
    "fixed_grid_scalars",
    "format_cost_report",
    "format_cost_table",
    "gradient_cost",
    "start_measuring_process",
]

#: The ways of computing the gradient that :func:`gradient_cost` measures: backprop through the
#: unroll; the adjoint asked for ``x(T)`` only; the adjoint asked for the state at every step.
#: :func:`cost_table` compares the first two unless told otherwise.
COST_METHODS = ("backprop", "adjoint", "adjoint-every")
_COMPARED = COST_METHODS[:2]


@dataclass(frozen=True)
class GradientCost:
    """One measured configuration: method, depth ``N``, peak extra memory (MiB), seconds per gradient."""

    method: str
    n_steps: int
    batch: int
    d: int
    width: int
    peak_mib: float
    seconds: float
    memory_source: str  # "VmHWM" (peak reset by clear_refs) or "ru_maxrss"


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _one_gradient(method: str, f: TimeMLP, x0: torch.Tensor, n_steps: int, T: float) -> float:
    params = list(f.parameters())
    if method == "backprop":
        xs = resnet_unroll(f, x0, torch.linspace(0.0, T, n_steps + 1, dtype=x0.dtype))
        z = xs[-1]
    elif method == "adjoint":
        ts = torch.tensor([0.0, T], dtype=x0.dtype)
        z = odeint(f, x0, ts, method="euler", adjoint=True, options=uniform_grid_options(n_steps))[-1]
    else:  # "adjoint-every": the step grid is the output grid, so every state is returned
        ts = torch.linspace(0.0, T, n_steps + 1, dtype=x0.dtype)
        z = odeint(f, x0, ts, method="euler", adjoint=True)[-1]
    loss = 0.5 * z.square().sum()
    grads = torch.autograd.grad(loss, params)
    return float(sum(float(g.square().sum()) for g in grads))


def _measure(config: dict[str, Any]) -> dict[str, Any]:
    """Run in a freshly forked process: warm up, then measure one gradient's peak memory and time."""
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(config["seed"])
    f = TimeMLP(config["d"], config["width"], seed=config["seed"])
    x0 = torch.randn(config["batch"], config["d"], generator=gen, dtype=torch.float64)
    for m in COST_METHODS:  # warm-up: load code paths, set up the allocator
        _one_gradient(m, f, x0, 4, config["T"])
    gc.collect()
    base = _status_kib("VmRSS")
    if base is not None and _reset_peak():
        _one_gradient(config["method"], f, x0, config["n_steps"], config["T"])
        peak = _status_kib("VmHWM")
        assert peak is not None
        extra_kib, source = peak - base, "VmHWM"
    else:  # pragma: no cover - systems without /proc/self/clear_refs
        base_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _one_gradient(config["method"], f, x0, config["n_steps"], config["T"])
        extra_kib, source = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_max, "ru_maxrss"
    times = []
    for _ in range(config["repeats"]):
        t0 = time.perf_counter()
        _one_gradient(config["method"], f, x0, config["n_steps"], config["T"])
        times.append(time.perf_counter() - t0)
    return {"peak_kib": max(extra_kib, 0), "seconds": min(times), "source": source}


def _serve() -> None:  # pragma: no cover - runs in the server subprocess
    """The measuring server: one JSON configuration per stdin line, one JSON result per stdout line.

    It imports the library once; every configuration runs in a child forked from it
    (``os.fork``), so each starts from the same fresh state and its memory is its own.
    It ends when its stdin closes (the parent's :meth:`_Server.close`, or the parent's exit).
    SIGINT is ignored: a Jupyter kernel that is interrupted or shut down signals its whole
    process group, and the server must then exit quietly on end-of-input, not with a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    # Load torch's lazily initialised code once here, then freeze the heap so that a child's
    # gc.collect() does not walk (and copy-on-write) the server's objects.
    _measure({"method": "adjoint", "n_steps": 2, "batch": 2, "d": 2, "width": 2, "T": 1.0, "repeats": 1, "seed": 0})
    gc.collect()
    gc.freeze()
    for line in sys.stdin:
        config = json.loads(line)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                result = _measure(config)
            except BaseException as exc:
                result = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(w, json.dumps(result).encode())
            os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        text = b"".join(chunks).decode() or json.dumps({"error": f"the measuring child died (wait status {status})"})
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the parent has gone: nothing left to answer
            return


class _Server:
    """The parent's handle on the measuring server (started on first use, one per process)."""

    proc: subprocess.Popen[str] | None = None

    @classmethod
    def start(cls) -> None:
        if cls.proc is None or cls.proc.poll() is not None:
            env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            cls.proc = subprocess.Popen(
                [sys.executable, "-c", "from ctdepth_lib.bench.cost import _serve; _serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            atexit.register(cls.close)

    @classmethod
    def ask(cls, config: dict[str, Any], timeout: float) -> dict[str, Any]:
        cls.start()
        assert cls.proc.stdin is not None and cls.proc.stdout is not None
        cls.proc.stdin.write(json.dumps(config) + "\n")
        cls.proc.stdin.flush()
        ready, _, _ = select.select([cls.proc.stdout], [], [], timeout)
        if not ready:
            cls.close()
            raise RuntimeError(f"measuring {config} timed out after {timeout} s")
        line = cls.proc.stdout.readline()
        if not line:
            cls.close()
            raise RuntimeError(f"the measuring server exited while measuring {config}")
        return json.loads(line)

    @classmethod
    def close(cls) -> None:
        if cls.proc is not None:
            if cls.proc.poll() is None:
                assert cls.proc.stdin is not None
                cls.proc.stdin.close()
                try:
                    cls.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    cls.proc.kill()
                    cls.proc.wait()
            cls.proc = None


def start_measuring_process() -> None:
    """Start the measuring server now (optional): it imports the library in the background.

    :func:`gradient_cost` starts it on first use anyway; starting it early hides its
    start-up time behind other work.  Nothing is measured until :func:`gradient_cost` asks.
    """
    _Server.start()


def gradient_cost(
    method: str,
    n_steps: int,
    *,
    batch: int = 128,
    d: int = 8,
    width: int = 32,
    T: float = 1.0,
    repeats: int = 2,
    seed: int = 0,
    timeout: float = 600.0,
) -> GradientCost:
    """Measure one gradient of ``L = ½|x_N|²`` w.r.t. the field's weights, in a fresh subprocess.

    ``method="backprop"``: autograd through :func:`resnet_unroll` (``N`` Euler steps);
    ``method="adjoint"``: ``torchdiffeq.odeint_adjoint`` with Euler on the same grid, output at
    ``[0, T]`` only; ``method="adjoint-every"``: the same with the step grid as output grid (the
    loss still reads ``x_N`` alone).
    Field :class:`TimeMLP` ``(d, width)``, initial states ``(batch, d)``, float64, one thread.

    Args:
        method: one of :data:`COST_METHODS`.
        n_steps, batch, d, width, repeats: integers ≥ 1; ``seed`` (of the field and of ``x0``) ≥ 0.
        T: the end time (> 0) of the grid ``linspace(0, T, n_steps + 1)``.
        timeout: seconds (> 0) to wait for the measuring process's answer.

    Returns:
        :class:`GradientCost` with the peak resident memory above the process's baseline
        (MiB) and the best-of-``repeats`` wall time of one gradient (seconds).

    Reference: Chen, Rubanova, Bettencourt & Duvenaud, *Neural ordinary differential
    equations*, NeurIPS 2018, §2 (the adjoint's memory cost, constant in depth).
    """
    check_choice("method", method, COST_METHODS)
    for name, value in (("n_steps", n_steps), ("batch", batch), ("d", d), ("width", width), ("repeats", repeats)):
        check_int(name, value, 1)
    check_int("seed", seed, 0)
    check_positive("T", T)
    check_positive("timeout", timeout)
    config = {
        "method": method,
        "n_steps": n_steps,
        "batch": batch,
        "d": d,
        "width": width,
        "T": float(T),
        "repeats": repeats,
        "seed": int(seed),
    }
    result = _Server.ask(config, timeout)
    if "error" in result:
        raise RuntimeError(f"gradient_cost({method!r}, n_steps={n_steps}) failed in its subprocess: {result['error']}")
    return GradientCost(
        method=method,
        n_steps=n_steps,
        batch=batch,
        d=d,
        width=width,
        peak_mib=result["peak_kib"] / 1024,
        seconds=result["seconds"],
        memory_source=result["source"],
    )


def cost_table(n_steps_list: Sequence[int], methods: Sequence[str] = _COMPARED, **kwargs: Any) -> list[GradientCost]:
    """:func:`gradient_cost` for every depth in ``n_steps_list`` and every method (default backprop
    and the adjoint; one subprocess each)."""
    ns = list(n_steps_list)
    if not ns:
        raise ValueError("n_steps_list must hold at least one depth; got an empty list")
    return [gradient_cost(m, n, **kwargs) for n in ns for m in methods]


def format_cost_table(records: Sequence[GradientCost]) -> str:
    """The records as a text table, with the backprop/adjoint memory and time ratios per depth.

    Records of ``"adjoint-every"``, if any, add two columns (its memory and time)."""
    by = {(r.method, r.n_steps): r for r in records}
    ns = sorted({r.n_steps for r in records})
    every = any(r.method == "adjoint-every" for r in records)
    head = (
        f"{'N':>6} {'backprop MiB':>13} {'adjoint MiB':>12} {'mem ratio':>10} "
        f"{'backprop ms':>12} {'adjoint ms':>11} {'time ratio':>11}"
    )
    lines = [head + (f" {'every-step MiB':>15} {'every-step ms':>14}" if every else "")]
    for n in ns:
        b, a = by.get(("backprop", n)), by.get(("adjoint", n))
        bm = f"{b.peak_mib:13.1f}" if b else f"{'—':>13}"
        am = f"{a.peak_mib:12.1f}" if a else f"{'—':>12}"
        mr = f"{b.peak_mib / max(a.peak_mib, 1e-3):10.1f}" if a and b else f"{'—':>10}"
        bt = f"{b.seconds * 1e3:12.1f}" if b else f"{'—':>12}"
        at = f"{a.seconds * 1e3:11.1f}" if a else f"{'—':>11}"
        tr = f"{a.seconds / b.seconds:11.2f}" if a and b else f"{'—':>11}"
        line = f"{n:>6} {bm} {am} {mr} {bt} {at} {tr}"
        if every:
            e = by.get(("adjoint-every", n))
            line += f" {e.peak_mib:15.1f} {e.seconds * 1e3:14.1f}" if e else f" {'—':>15} {'—':>14}"
        lines.append(line)
    return "\n".join(lines)


def format_cost_report(records: Sequence[GradientCost], *, batch: int, d: int, width: int) -> str:
    """The cost table as ``python -m ctdepth_lib cost`` prints it, with the adjoint's memory ratio at the largest N."""
    largest = max(r.n_steps for r in records)
    by = {(r.method, r.n_steps): r for r in records}
    b, a = by[("backprop", largest)], by[("adjoint", largest)]
    return "\n".join(
        [
            f"gradient of ½|x_N|² for a TimeMLP field (d={d}, width={width}), batch {batch}, float64, 1 thread; "
            "memory = peak RSS above baseline, each configuration in a fresh process",
            format_cost_table(records),
            f"at N = {largest}: adjoint memory {b.peak_mib / max(a.peak_mib, 1e-3):.1f}x below backprop "
            f"(target >= 10x); adjoint time {a.seconds / b.seconds:.2f}x backprop's",
            f"memory measured from: {records[0].memory_source}",
        ]
    )


def _scalars_alive() -> int:
    """The number of 0-d ``torch.Tensor`` objects (not parameters) the garbage collector tracks."""
    return sum(1 for o in gc.get_objects() if type(o) is torch.Tensor and o.dim() == 0)


class _CountingField(torch.nn.Module):
    """A field that counts the scalar tensors alive when the solver reaches its middle step."""

    def __init__(self, f: TimeMLP, n_steps: int, base: int) -> None:
        super().__init__()
        self.f, self.middle, self.base = f, n_steps // 2, base
        self.step = 0
        self.counts: dict[str, int] = {}

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.f(t, x)

    def _at_step(self, solve: str) -> None:
        self.step += 1
        if self.step == self.middle + 1:
            self.counts[solve] = _scalars_alive() - self.base

    def callback_step(self, t0: Any, y0: Any, dt: Any) -> None:  # torchdiffeq calls it before every step
        self._at_step("forward")

    def callback_step_adjoint(self, t0: Any, y0: Any, dt: Any) -> None:  # … of the backward solve
        self._at_step("backward")


def fixed_grid_scalars(
    n_steps: int, *, batch: int = 128, d: int = 8, width: int = 32, T: float = 1.0, seed: int = 0
) -> dict[str, int]:
    """Scalar tensors alive in the middle of each solve of the fixed-step adjoint (outputs at ``[0, T]``).

    Runs one gradient of ``L = ½|x_N|²`` by ``torchdiffeq.odeint_adjoint`` with Euler on
    ``N = n_steps`` equal steps (a :class:`TimeMLP` field, float64, in this process) and counts,
    with :mod:`gc`, the 0-d tensors alive when the forward solve and the backward solve reach their
    middle step, minus those alive before the gradient.  torchdiffeq's fixed-grid loop iterates
    ``zip(time_grid[:-1], time_grid[1:])``, which unbinds both slices into ``N`` scalar tensors
    each: the counts are ``2N`` plus a few, whatever ``batch`` and ``d`` are.

    Args:
        n_steps: ``N`` ≥ 2; batch, d, width: integers ≥ 1; T: end time (> 0); seed: ≥ 0.

    Returns:
        ``{"forward": count, "backward": count}``.
    """
    check_int("n_steps", n_steps, 2)
    for name, value in (("batch", batch), ("d", d), ("width", width)):
        check_int(name, value, 1)
    check_int("seed", seed, 0)
    check_positive("T", T)
    from torchdiffeq import odeint_adjoint

    gen = torch.Generator().manual_seed(int(seed))
    f = TimeMLP(d, width, seed=seed)
    x0 = torch.randn(batch, d, generator=gen, dtype=torch.float64)
    ts = torch.tensor([0.0, float(T)], dtype=torch.float64)
    gc.collect()
    field = _CountingField(f, n_steps, _scalars_alive())
    options = uniform_grid_options(n_steps)
    z = odeint_adjoint(field, x0, ts, method="euler", options=options, adjoint_params=tuple(f.parameters()))[-1]
    field.step = 0
    torch.autograd.grad(0.5 * z.square().sum(), list(f.parameters()))
    return {"forward": field.counts["forward"], "backward": field.counts["backward"]}
