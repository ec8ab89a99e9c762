"""Tests of ctdepth_lib._validate: what each check accepts and returns, and its error (type and message)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ctdepth_lib import _validate as v

DT = torch.float64
X = torch.zeros(4, 2, dtype=DT)
TS = torch.linspace(0.0, 1.0, 4, dtype=DT)


def test_checks_return_what_they_accept() -> None:
    assert v.check_real("a", 2) == 2.0 and isinstance(v.check_real("a", 2), float)
    assert v.check_real("a", 0.0, low=0.0) == 0.0
    assert v.check_int("k", 3, 0, 3) == 3 and v.check_int("k", 0, 0, 3) == 0
    assert v.check_positive("h", 1) == 1.0
    assert v.check_choice("method", "rk4", ("euler", "rk4")) == "rk4"
    assert v.check_float_dtype("dtype", torch.float32) is torch.float32
    assert v.check_type("flag", True, bool, "a bool") is True
    assert v.check_tensor("p", X, like=X) is X and v.check_state("x", X) is X
    assert v.check_time_grid("ts", TS, like=X, increasing=True) is TS
    assert v.check_trajectory(X, X, TS) is X
    assert v.check_time("t", 0.5, X).dtype == DT and v.check_time("t", torch.tensor(0.5), X).dtype == DT
    assert v.check_loss_value(torch.ones(1, 1, dtype=DT)).shape == ()


# One rule: a wrong type (Python type, dtype, a dtype argument) is a TypeError, a wrong value a
# ValueError; the message names the argument, the expectation and what was given.
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: v.check_type("flag", 1, bool, "a bool"), TypeError, r"^flag must be a bool; got 1$"),
        (lambda: v.check_callable("f", 3), TypeError, r"^f must be callable as f\(t, x\); got 3$"),
        (lambda: v.check_callable("loss", 3, "loss(x)"), TypeError, r"^loss must be callable as loss\(x\)"),
        (
            lambda: v.check_real("a", 0.0, low=0.0, low_open=True),
            ValueError,
            r"^a must be a finite number > 0; got 0.0$",
        ),
        (
            lambda: v.check_real("a", 1, low=0.0, high=1.0, low_open=True, high_open=True),
            ValueError,
            r"^a must be a finite number in \(0, 1\); got 1$",
        ),
        (lambda: v.check_real("a", 0, high=-1.0), ValueError, r"^a must be a finite number <= -1; got 0$"),
        (lambda: v.check_real("a", math.nan), ValueError, r"^a must be a finite number \(not NaN or inf\); got nan$"),
        (lambda: v.check_real("a", True), TypeError, r"^a must be a real number; got True$"),
        (lambda: v.check_real("a", "1", low=0.0), TypeError, r"^a must be a real number >= 0; got '1'$"),
        (lambda: v.check_real("a", torch.tensor(1.0)), TypeError, r"^a must be a real number; got tensor\("),
        (lambda: v.check_positive("rtol", "1e-3"), TypeError, r"^rtol must be a positive real number; got '1e-3'$"),
        (lambda: v.check_positive("rtol", -1), ValueError, r"^rtol must be a finite number > 0; got -1$"),
        (lambda: v.check_int("n", 2.0, 1), TypeError, r"^n must be an integer >= 1; got 2.0$"),
        (lambda: v.check_int("n", True, 0), TypeError, r"^n must be an integer >= 0; got True$"),
        (lambda: v.check_int("n", 0, 1), ValueError, r"^n must be an integer >= 1; got 0$"),
        (lambda: v.check_int("k", 4, 0, 3), ValueError, r"^k must be an integer in \[0, 3\]; got 4$"),
        (lambda: v.check_int("k", -1, 0, 3), ValueError, r"^k must be an integer in \[0, 3\]; got -1$"),
        (lambda: v.check_choice("method", "rk5", ("euler", "rk4")), ValueError, r"^method must be one of \["),
        (lambda: v.check_choice("method", 4, ("euler", "rk4")), TypeError, r"^method must be one of \["),
        (lambda: v.check_float_dtype("dtype", torch.int64), TypeError, r"^dtype must be a floating torch.dtype"),
        (lambda: v.check_tensor("x", [1.0]), TypeError, r"^x must be a torch.Tensor; got \[1.0\]$"),
        (lambda: v.check_tensor("x", torch.ones(2, dtype=torch.int64)), TypeError, r"^x must have a floating"),
        (lambda: v.check_tensor("x", torch.tensor([1.0, math.inf])), ValueError, r"^x must contain only finite"),
        (lambda: v.check_tensor("p", X[:, :1], like=X), ValueError, r"^p must have the shape of x \(4, 2\)"),
        (lambda: v.check_tensor("p", X.float(), like=X), TypeError, r"^p must have the dtype of x"),
        (lambda: v.check_state("x", torch.zeros(2, 2, 2, dtype=DT)), ValueError, r"^x must have shape \(d,\) or"),
        (lambda: v.check_state("x", torch.zeros(3, 0, dtype=DT)), ValueError, r"^x must have shape \(d,\) or"),
        (lambda: v.check_square("M", torch.zeros(2, 3, dtype=DT)), ValueError, r"^M must be a square matrix"),
        (lambda: v.check_square("M", torch.zeros(3, dtype=DT)), ValueError, r"^M must be a square matrix"),
        (lambda: v.check_square("M", torch.eye(3, dtype=DT), even=True), ValueError, r"^M must be a phase-space"),
        (lambda: v.check_time_grid("ts", [0.0, 1.0]), TypeError, r"^ts must be a torch.Tensor"),
        (lambda: v.check_time_grid("ts", torch.tensor([0, 1])), TypeError, r"^ts must have a floating-point dtype"),
        (lambda: v.check_time_grid("ts", TS[None]), ValueError, r"^ts must be 1-D"),
        (lambda: v.check_time_grid("ts", TS[:1]), ValueError, r"^ts must hold at least 2 time points; got 1$"),
        (lambda: v.check_time_grid("ts", TS * math.inf), ValueError, r"^ts must contain only finite times"),
        (lambda: v.check_time_grid("ts", TS[[0, 2, 1]]), ValueError, r"^ts must be strictly increasing or strictly"),
        (
            lambda: v.check_time_grid("ts", TS.flip(0), increasing=True),
            ValueError,
            r"^ts must be strictly increasing \(",
        ),
        (lambda: v.check_time_grid("ts", TS.float(), like=X), TypeError, r"^ts must have the dtype of x0"),
        (lambda: v.check_time("t", "0", X), TypeError, r"^t must be a real number; got '0'$"),
        (lambda: v.check_time("t", TS, X), ValueError, r"^t must be a 0-d tensor \(one time\); got shape \(4,\)$"),
        (lambda: v.check_trajectory(X[0]), ValueError, r"^xs must have shape \(M, d\) or \(M, batch, d\)"),
        (lambda: v.check_trajectory(X, X[:3]), ValueError, r"^ps must have the shape of xs"),
        (lambda: v.check_trajectory(X, X, TS[:3]), ValueError, r"^ts must hold one time per row of xs \(4\)"),
        (lambda: v.check_trajectory(X, X, TS[[0, 2, 1, 3]]), ValueError, r"^ts must be strictly"),
        (lambda: v.check_trajectory(X, X, TS.float(), grid=False), TypeError, r"^ts must have the dtype of xs"),
        (lambda: v.check_field_output("f", 1.0, X), TypeError, r"^f\(t, x\) must return a torch.Tensor; got float$"),
        (lambda: v.check_field_output("f", X[:, :1], X), ValueError, r"^f\(t, x\) must return the shape of x \(4, 2\)"),
        (lambda: v.check_field_output("f", X.float(), X), TypeError, r"^f\(t, x\) must return the dtype of x"),
        (lambda: v.check_loss_value(1.0), TypeError, r"^loss\(x_N\) must return a torch.Tensor"),
        (
            lambda: v.check_loss_value(torch.ones((), dtype=torch.int64)),
            TypeError,
            r"^loss\(x_N\) must return a floating",
        ),
        (lambda: v.check_loss_value(torch.ones(2, dtype=DT)), ValueError, r"^loss\(x_N\) must return a scalar"),
    ],
)
def test_checks_reject(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_trajectory_times_need_not_be_a_grid() -> None:
    """``grid=False`` (the finite-difference references): finite times of ``xs``'s dtype, one per row, any order."""
    v.check_trajectory(X, X, TS[[0, 2, 1, 3]], grid=False)
    v.check_trajectory(X[:1], X[:1], TS[:1], grid=False)


def test_check_first_output_checks_only_the_first_call() -> None:
    x = torch.zeros(3, 2, dtype=DT)
    calls = []

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls.append(y.shape)
        return y if len(calls) == 1 else y[..., :1]  # only the first output is checked

    checked = v.check_first_output("f", f, x)
    assert checked(torch.tensor(0.0), x) is x
    assert checked(torch.tensor(0.0), x).shape == (3, 1)
    assert len(calls) == 2  # no extra (probe) evaluation
    bad = v.check_first_output("f", lambda t, y: y[..., :1], x)
    with pytest.raises(ValueError, match=r"^f\(t, x\) must return the shape of x \(3, 2\); got shape \(3, 1\)$"):
        bad(torch.tensor(0.0), x)


def test_check_first_output_module_keeps_the_parameters() -> None:
    lin = torch.nn.Linear(2, 2, dtype=DT)

    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = lin

        def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    wrapped = v.check_first_output("f", Field(), torch.zeros(2, dtype=DT), module=True)
    assert isinstance(wrapped, torch.nn.Module)
    assert {id(p) for p in wrapped.parameters()} == {id(p) for p in lin.parameters()}


def _faces_with_a_grid() -> dict[str, object]:
    import ctdepth_lib as cl
    from ctdepth_lib.jacobians import step_jacobians

    f = cl.TimeMLP(2, 4, seed=0)
    x0, ts, xs = torch.zeros(3, 2, dtype=DT), torch.linspace(0.0, 1.0, 4, dtype=DT), torch.zeros(4, 3, 2, dtype=DT)
    z0 = torch.zeros(2, 4, dtype=DT)
    loss = lambda x: (x**2).sum()  # noqa: E731
    A, g = (lambda t: -torch.eye(2, dtype=DT)), cl.TANH
    return {
        "odeint": lambda: cl.odeint(f, x0, ts),
        "resnet_unroll": lambda: cl.resnet_unroll(f, x0, ts),
        "rk_unroll": lambda: cl.rk_unroll(f, x0, ts, "rk4"),
        "backprop_momenta": lambda: cl.backprop_momenta(f, x0, ts, loss),
        "adjoint_momenta": lambda: cl.adjoint_momenta(f, x0, ts, loss),
        "hamiltonian_flow": lambda: cl.hamiltonian_flow(f, x0, x0, ts),
        "tangent_unroll": lambda: cl.tangent_unroll(f, x0, x0, ts),
        "layer_gradients": lambda: cl.layer_gradients(f, x0, ts, loss),
        "solver_gradients": lambda: cl.solver_gradients(f, x0, ts, loss, adjoint=True),
        "parameter_density": lambda: cl.parameter_density(f, ts, xs, xs),
        "state_jacobian": lambda: cl.state_jacobian(f, x0, ts),
        "log_norm_profile": lambda: cl.log_norm_profile(f, ts, xs),
        "log_norm_integral": lambda: cl.log_norm_integral(f, ts, xs),
        "step_norm_product": lambda: cl.step_norm_product(f, ts, xs),
        "step_jacobians": lambda: step_jacobians(f, ts, xs),
        "network_phase_map": lambda: cl.network_phase_map(f, z0, ts),
        "network_phase_jacobian": lambda: cl.network_phase_jacobian(f, z0, ts),
        "variational_jacobian": lambda: cl.variational_jacobian(f, z0, ts),
        "fd_state_jacobian": lambda: cl.fd_state_jacobian(f, x0[0], ts),
        "feedforward_unroll": lambda: cl.feedforward_unroll(A, None, g, x0, ts),
        "splitting_unroll": lambda: cl.splitting_unroll(A, None, g, x0, ts, scheme="strang"),
        "strong_feedforward_unroll": lambda: cl.strong_feedforward_unroll(A, None, torch.tanh, x0, ts),
        "feedforward_layers": lambda: cl.feedforward_layers(A, None, g, ts),
        "ODEClassifier.trajectory": lambda: cl.ODEClassifier(2, 2).trajectory(x0, mode="dopri5", ts=ts),
    }


@pytest.mark.parametrize("face", sorted(_faces_with_a_grid()))
def test_each_face_checks_its_time_grid_once(face: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check once, at the public face: the cores it calls (unrolls, solvers, Hamiltonian flows) trust it."""
    from field_cases import count_time_grid_checks

    call = _faces_with_a_grid()[face]
    calls = count_time_grid_checks(monkeypatch)
    call()
    assert calls == ["ts"]


def test_as_numpy_detaches_tensors_and_passes_arrays_and_lists() -> None:
    t = torch.tensor([[1.0, 2.0]], requires_grad=True)
    out = v.as_numpy(t * 2.0)
    assert isinstance(out, np.ndarray) and out.tolist() == [[2.0, 4.0]]
    arr = np.arange(3)
    assert v.as_numpy(arr) is arr
    assert v.as_numpy([True, False]).dtype == np.bool_
