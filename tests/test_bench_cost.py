"""Tests of ctdepth_lib.bench.cost: memory and time of a gradient, each configuration in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from ctdepth_lib.__main__ import main as cli_main
from ctdepth_lib.bench.cost import (
    _one_gradient,
    cost_table,
    fixed_grid_scalars,
    format_cost_table,
    gradient_cost,
    start_measuring_process,
)
from ctdepth_lib.fields import TimeMLP


def test_backprop_memory_grows_with_depth_and_adjoint_stays_flat() -> None:
    records = cost_table([128, 512], batch=64, d=8, width=32, repeats=1)
    by = {(r.method, r.n_steps): r for r in records}
    bp_small, bp_large = by[("backprop", 128)].peak_mib, by[("backprop", 512)].peak_mib
    adj_large = by[("adjoint", 512)].peak_mib
    # Independent estimate of what backprop must keep per step: the state (B, d) and two
    # (B, width) activations in float64 — a lower bound of the stored graph.
    per_step_mib = 64 * (8 + 2 * 32) * 8 / 2**20
    assert bp_large >= 0.8 * 512 * per_step_mib
    assert 2.5 < bp_large / bp_small < 6.5, (bp_small, bp_large)  # ~linear in N
    assert bp_large > 10 * adj_large, (bp_large, adj_large)
    assert all(r.seconds > 0 for r in records)
    assert records[0].memory_source in ("VmHWM", "ru_maxrss")


def test_adjoint_with_every_output_stores_two_states_per_step() -> None:
    # Asked for the state at every step, odeint_adjoint saves the solution (N + 1 states) and the
    # backward pass builds its gradient (as many): two states of (batch, d) float64 per step.
    records = cost_table([128, 512], methods=("adjoint-every",), batch=64, d=8, width=32, repeats=1)
    small, large = (r.peak_mib for r in records)
    state_mib = 64 * 8 * 8 / 2**20
    per_step = (large - small) / (512 - 128)
    assert 1.5 * state_mib < per_step < 3.0 * state_mib, (per_step, state_mib)
    assert "every-step MiB" in format_cost_table(records)


def test_fixed_grid_scalars_counts_two_per_step_whatever_the_batch() -> None:
    # torchdiffeq's fixed-grid loop unbinds both slices of its time grid: 2N scalar tensors alive
    # in each solve (forward, backward), independent of the state's size.
    for n in (32, 128):
        counts = fixed_grid_scalars(n, batch=16, d=3, width=8)
        assert set(counts) == {"forward", "backward"}
        assert all(2 * n <= c <= 2 * n + 16 for c in counts.values()), (n, counts)
    assert fixed_grid_scalars(64, batch=1, d=1, width=2) == fixed_grid_scalars(64, batch=64, d=8, width=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_steps": 1}, ValueError, r"^n_steps must be"),
        ({"n_steps": 8.0}, TypeError, r"^n_steps must be an integer"),
        ({"batch": 0}, ValueError, r"^batch must be"),
        ({"d": 0}, ValueError, r"^d must be"),
        ({"width": 0}, ValueError, r"^width must be"),
        ({"T": 0.0}, ValueError, r"^T must be"),
        ({"seed": -1}, ValueError, r"^seed must be"),
    ],
)
def test_fixed_grid_scalars_rejects(kwargs: dict, error: type, match: str) -> None:
    args = {"n_steps": 8} | kwargs
    with pytest.raises(error, match=match):
        fixed_grid_scalars(args.pop("n_steps"), **args)


def test_both_gradients_agree_to_order_h() -> None:
    f = TimeMLP(3, 8, seed=0)
    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    # the squared gradient norms of backprop and the Euler adjoint differ by O(h)
    gaps = [abs(_one_gradient("backprop", f, x0, n, 1.0) - _one_gradient("adjoint", f, x0, n, 1.0)) for n in (32, 64)]
    assert 1.6 < gaps[0] / gaps[1] < 2.4


def test_format_and_main(capsys: pytest.CaptureFixture[str]) -> None:
    start_measuring_process()  # idempotent: the server is already running or starts now
    assert cli_main(["cost", "--n", "16", "32", "--batch", "8", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "mem ratio" in out and "at N = 32" in out
    rec = gradient_cost("backprop", 8, batch=4, repeats=1)
    assert "—" in format_cost_table([rec])  # the adjoint column is missing


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "checkpoint"}, ValueError, r"^method must be"),
        ({"n_steps": 0}, ValueError, r"^n_steps must be"),
        ({"n_steps": 4.0}, TypeError, r"^n_steps must be an integer"),
        ({"batch": 0}, ValueError, r"^batch must be"),
        ({"d": 0}, ValueError, r"^d must be"),
        ({"width": 0}, ValueError, r"^width must be"),
        ({"repeats": 0}, ValueError, r"^repeats must be"),
        ({"T": -1.0}, ValueError, r"^T must be"),
        ({"T": float("inf")}, ValueError, r"^T must be"),
        ({"T": "1"}, TypeError, r"^T must be"),
        ({"seed": -1}, ValueError, r"^seed must be"),
        ({"timeout": 0.0}, ValueError, r"^timeout must be"),
    ],
)
def test_gradient_cost_rejects(kwargs: dict, error: type, match: str) -> None:
    args = {"method": "backprop", "n_steps": 4} | kwargs
    with pytest.raises(error, match=match):
        gradient_cost(args.pop("method"), args.pop("n_steps"), **args)


def test_the_public_names_and_the_command() -> None:
    import ctdepth_lib as cl

    assert cl.cost_table is cost_table and cl.start_measuring_process is start_measuring_process
    # `python -m ctdepth_lib cost` is a subcommand of the one command line (no second parser)
    out = subprocess.run(
        [sys.executable, "-W", "error", "-m", "ctdepth_lib", "cost", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stderr == "" and "--n" in out.stdout


def test_cost_table_rejects_empty() -> None:
    with pytest.raises(ValueError, match=r"^n_steps_list must"):
        cost_table([])


def test_server_ignores_sigint_and_exits_quietly_on_end_of_input() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ctdepth_lib.bench.cost import _serve; _serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdin.write(
        '{"method": "backprop", "n_steps": 2, "batch": 2, "d": 2, "width": 2, "T": 1.0, "repeats": 1, "seed": 0}\n'
    )
    proc.stdin.flush()
    assert "peak_kib" in proc.stdout.readline()  # the server is up and has installed its handlers
    os.kill(proc.pid, signal.SIGINT)  # what an interrupted or stopping Jupyter kernel sends its group
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == ""
