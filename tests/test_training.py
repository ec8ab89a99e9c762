"""Tests of ctdepth_lib.training: the continuous-depth classifier, the free ResNet and the training loop."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torch import nn
from torch.nn import functional as F

from ctdepth_lib.training import (
    FreeResNet,
    ODEClassifier,
    TrainingDiverged,
    evaluate,
    fd_gradient,
    loss_gradient,
    restart_seeds,
    train,
    train_restarts,
)


def _data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def _manual_euler(model: ODEClassifier, x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """An independent Euler loop written out with the raw weights."""
    f = model.field
    z = x @ model.encoder.weight.T + model.encoder.bias
    h = model.T / n_steps
    for n in range(n_steps):
        t = n * h
        z = z + h * (torch.tanh(z @ f.w1.T + t * f.u + f.b1) @ f.w2.T + f.b2)
    return z @ model.decoder.weight.T + model.decoder.bias


def test_resnet_mode_is_an_euler_loop() -> None:
    x, _ = _data()
    model = ODEClassifier(3, 2, d=4, width=8, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode="resnet", n_steps=8), _manual_euler(model, x, 8), rtol=1e-14, atol=1e-14
        )


def test_euler_adjoint_forward_equals_resnet_and_gradient_gap_is_order_one() -> None:
    x, y = _data()
    model = ODEClassifier(3, 2, d=2, width=8, seed=2, scale=1.5)
    with torch.no_grad():
        assert torch.equal(model(x, mode="euler_adjoint", n_steps=8), model(x, mode="resnet", n_steps=8))
    gaps = []
    for n in (16, 32, 64):
        g_bp = loss_gradient(model, x, y, mode="resnet", n_steps=n)
        g_adj = loss_gradient(model, x, y, mode="euler_adjoint", n_steps=n)
        gaps.append(float((g_bp - g_adj).norm() / g_bp.norm()))
    slope = np.polyfit(np.log([1 / 16, 1 / 32, 1 / 64]), np.log(gaps), 1)[0]
    assert abs(slope - 1) < 0.2, gaps


def test_backprop_gradient_matches_finite_differences() -> None:
    x, y = _data()
    model = ODEClassifier(3, 2, d=2, width=6, seed=3)
    g = loss_gradient(model, x, y, mode="resnet", n_steps=5)
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(0)
    direction = [torch.randn(p.shape, generator=gen) for p in params]
    eps = 1e-6

    def loss_at(s: float) -> float:
        m = copy.deepcopy(model)
        with torch.no_grad():
            for p, v in zip(m.parameters(), direction, strict=True):
                p.add_(s * v)
            return float(F.cross_entropy(m(x, mode="resnet", n_steps=5), y))

    fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    exact = float(g @ torch.cat([v.reshape(-1) for v in direction]))
    assert abs(fd - exact) <= 1e-7 * max(1.0, abs(exact))


def test_dopri5_mode_matches_scipy() -> None:
    x, _ = _data(5)
    model = ODEClassifier(3, 2, d=3, width=8, seed=4)
    f = model.field
    with torch.no_grad():
        z0 = model.encoder(x)

        def rhs(t: float, y: np.ndarray) -> np.ndarray:
            return f(torch.tensor(t), torch.from_numpy(y).reshape(z0.shape)).reshape(-1).numpy()

        ref = solve_ivp(rhs, (0.0, 1.0), z0.reshape(-1).numpy(), method="DOP853", rtol=1e-12, atol=1e-12)
        want = model.decoder(torch.from_numpy(ref.y[:, -1]).reshape(z0.shape))
        got = model(x, mode="dopri5", rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-8)


def test_adjoint_gradient_matches_direct_dopri5() -> None:
    x, y = _data(20)
    model = ODEClassifier(3, 2, d=2, width=6, seed=5)
    g_direct = loss_gradient(model, x, y, mode="dopri5", rtol=1e-10, atol=1e-10)
    g_adj = loss_gradient(model, x, y, mode="adjoint", rtol=1e-10, atol=1e-10)
    assert float((g_direct - g_adj).norm() / g_direct.norm()) < 1e-6


def test_trajectory_shapes_and_grid() -> None:
    x, _ = _data(7)
    model = ODEClassifier(3, 2, d=2, width=4)
    with torch.no_grad():
        zs = model.trajectory(x, mode="resnet", n_steps=4)
        assert zs.shape == (5, 7, 2)
        zs_ode = model.trajectory(x, mode="dopri5", ts=torch.linspace(0, 1, 3))
        assert zs_ode.shape == (3, 7, 2)
    torch.testing.assert_close(model.grid(4), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_free_resnet_layers_and_refinement() -> None:
    x, _ = _data(6)
    net = FreeResNet(3, 2, n_layers=3, d=2, width=5, seed=0, scale=0.3)
    with torch.no_grad():
        z = net.encoder(x)
        for layer in net.layers:  # independent loop: z_{n+1} = z_n + g_n(z_n)
            z = z + torch.tanh(z @ layer.w1.T + layer.b1) @ layer.w2.T + layer.b2
        torch.testing.assert_close(net(x), net.decoder(z), rtol=1e-14, atol=1e-14)
        # refinement converges (O(1/r)) to the dopri5 solution of the piecewise-constant field
        ode = net(x, mode="dopri5", rtol=1e-10, atol=1e-10)
        e8 = float((net(x, refine=8) - ode).abs().max())
        e16 = float((net(x, refine=16) - ode).abs().max())
        assert 1.6 < e8 / e16 < 2.4


def test_train_decreases_loss_and_is_deterministic() -> None:
    x, y = _data(60)
    runs = []
    for _ in range(2):
        model = ODEClassifier(3, 2, d=2, width=8, seed=0)
        res = train(model, x, y, steps=30, lr=0.05, mode="resnet", n_steps=4)
        runs.append(res.losses)
    assert runs[0] == runs[1]
    assert runs[0][-1] < 0.5 * runs[0][0]
    loss, acc = evaluate(model, x, y, mode="resnet", n_steps=4)
    with torch.no_grad():
        logits = model(x, mode="resnet", n_steps=4)
    assert acc == float(np.mean(logits.argmax(1).numpy() == y.numpy()))
    assert loss == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-14)


def test_train_minibatch_lbfgs_and_callback() -> None:
    x, y = _data(30)
    model = ODEClassifier(3, 2, d=2, width=4, seed=1)
    res = train(model, x, y, steps=5, lr=0.05, batch_size=8, seed=3, callback=lambda k, m: k, mode="resnet", n_steps=2)
    assert len(res.losses) == 5 and res.extra == [0, 1, 2, 3, 4]
    res = train(model, x, y, steps=3, lr=0.5, optimizer="lbfgs", mode="resnet", n_steps=2)
    assert all(np.isfinite(res.losses))
    free = FreeResNet(3, 2, n_layers=2, d=2, width=4)
    assert len(train(free, x, y, steps=2, lr=0.01).losses) == 2


class _Poisoned(nn.Module):
    """Returns NaN logits on its third call (step 2 of full-batch Adam)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2, dtype=torch.float64)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.lin(x)
        return out * float("nan") if self.calls == 3 else out


def test_train_stops_when_the_loss_becomes_nan() -> None:
    x, y = _data(10)
    with pytest.raises(TrainingDiverged, match="step 2: the loss became nan"):
        train(_Poisoned(), x, y, steps=10, lr=0.01)


def test_train_stops_on_a_real_divergence() -> None:
    x, y = _data(10)
    model = nn.Sequential(nn.Linear(3, 2, dtype=torch.float64))
    with torch.no_grad():
        model[0].weight.fill_(1e308)
    with pytest.raises(TrainingDiverged, match=r"step 0: .*lower the learning rate lr"):
        train(model, x * 1e10, y, steps=3, lr=0.1)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), {}, ValueError, r"^x must be a non-empty"),
        ((torch.zeros(4, 3), torch.zeros(5, dtype=torch.long)), {}, ValueError, r"^y must hold one label per row"),
        (
            (torch.full((4, 3), float("nan")), torch.zeros(4, dtype=torch.long)),
            {},
            ValueError,
            r"^x must contain only finite",
        ),
        (None, {"lr": 0.0}, ValueError, r"^lr must be"),
        (None, {"lr": -1.0}, ValueError, r"^lr must be"),
        (None, {"lr": float("nan")}, ValueError, r"^lr must be"),
        (None, {"lr": "big"}, TypeError, r"^lr must be"),
        (None, {"steps": 0}, ValueError, r"^steps must be"),
        (None, {"optimizer": "sgd"}, ValueError, r"^optimizer must be"),
        (None, {"batch_size": 0}, ValueError, r"^batch_size must be"),
        (None, {"weight_decay": -1.0}, ValueError, r"^weight_decay must be"),
        (None, {"callback": 3}, TypeError, r"^callback must be callable"),
    ],
)
def test_train_rejects(args: tuple | None, kwargs: dict, exc: type, match: str) -> None:
    model = ODEClassifier(3, 2, d=2, width=4)
    x, y = args if args is not None else _data(8)
    full = {"steps": 2, "lr": 0.01} | kwargs
    with pytest.raises(exc, match=match):
        train(model, x, y, **full)


def test_evaluate_and_gradient_reject_bad_data() -> None:
    model = ODEClassifier(3, 2, d=2, width=4)
    with pytest.raises(ValueError, match=r"^y must hold one label per row"):
        evaluate(model, torch.zeros(3, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^x must contain only finite"):
        loss_gradient(model, torch.full((2, 3), float("inf")), torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_features": 0}, r"^n_features must be"),
        ({"n_classes": 1}, r"^n_classes must be"),
        ({"d": 0}, r"^d must be"),
        ({"width": 1.5}, r"^width must be"),
        ({"T": 0.0}, r"^T must be"),
    ],
)
def test_classifier_rejects(kwargs: dict, match: str) -> None:
    args = {"n_features": 3, "n_classes": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        ODEClassifier(args.pop("n_features"), args.pop("n_classes"), **args)


def test_modes_reject() -> None:
    x, _ = _data(4)
    model = ODEClassifier(3, 2, d=2, width=4)
    with pytest.raises(ValueError, match=r"^mode must be one of"):
        model(x, mode="rk45")
    with pytest.raises(ValueError, match=r"^n_steps must be"):
        model(x, mode="resnet", n_steps=0)
    with pytest.raises(ValueError, match=r"^n_steps must be"):
        model(x, mode="euler_adjoint", n_steps=0)
    with pytest.raises(ValueError, match=r"^ts must be None"):
        model.trajectory(x, mode="resnet", ts=torch.linspace(0, 1, 3))
    free = FreeResNet(3, 2, n_layers=2)
    with pytest.raises(ValueError, match=r"^refine must be"):
        free(x, refine=0)
    with pytest.raises(ValueError, match=r"^mode must be"):
        free(x, mode="adjoint")
    with pytest.raises(ValueError, match=r"^n_layers must be"):
        FreeResNet(3, 2, n_layers=0)
    with pytest.raises(ValueError, match=r"^scale must be"):
        FreeResNet(3, 2, n_layers=2, scale=0.0)


def test_restart_seeds_are_distinct_and_start_with_the_seed() -> None:
    seeds = restart_seeds(7, 4)
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert all(0 <= s < 2**31 for s in restart_seeds(2**31 - 1, 3))
    with pytest.raises(ValueError, match=r"^k must be"):
        restart_seeds(0, 0)
    with pytest.raises(ValueError, match=r"^seed must be"):
        restart_seeds(-1, 2)


def test_train_restarts_keeps_the_lowest_training_loss() -> None:
    x, y = _data(40)
    seeds = [3, 11, 19]
    fit = train_restarts(
        lambda s: ODEClassifier(3, 2, d=2, width=4, seed=s),
        x,
        y,
        seeds=seeds,
        steps=3,
        lr=0.05,
        mode="resnet",
        n_steps=2,
    )
    # independent reference: train each candidate by hand and evaluate its training loss
    ref = []
    for s in seeds:
        m = ODEClassifier(3, 2, d=2, width=4, seed=s)
        train(m, x, y, steps=3, lr=0.05, mode="resnet", n_steps=2)
        with torch.no_grad():
            ref.append(float(F.cross_entropy(m(x, mode="resnet", n_steps=2), y)))
    assert fit.train_losses == pytest.approx(ref, rel=1e-12)
    assert fit.best == int(np.argmin(ref)) and fit.n_tried == 3 and fit.seeds == seeds
    assert evaluate(fit.model, x, y, mode="resnet", n_steps=2)[0] == pytest.approx(min(ref), rel=1e-12)
    # with accept_loss the loop stops at the first run that is good enough
    lazy = train_restarts(
        lambda s: ODEClassifier(3, 2, d=2, width=4, seed=s),
        x,
        y,
        seeds=seeds,
        accept_loss=10.0,
        steps=3,
        lr=0.05,
        mode="resnet",
        n_steps=2,
    )
    assert lazy.n_tried == 1 and lazy.best == 0
    with pytest.raises(ValueError, match=r"^seeds must be"):
        train_restarts(lambda s: ODEClassifier(3, 2, seed=s), x, y, seeds=[], steps=1, lr=0.1)
    with pytest.raises(TypeError, match=r"^make_model must be callable"):
        train_restarts(3, x, y, seeds=[0], steps=1, lr=0.1)
    with pytest.raises(ValueError, match=r"^accept_loss must be"):
        train_restarts(lambda s: ODEClassifier(3, 2, seed=s), x, y, seeds=[0], accept_loss=-1.0, steps=1, lr=0.1)


def test_fd_gradient_matches_a_closed_form() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    b = torch.randn(3, generator=gen, dtype=torch.float64)
    # L = Σ sin(a·w) + |b|²/2, so ∂L/∂w = a cos(a·w), ∂L/∂b = b
    g_w, g_b = fd_gradient(lambda: torch.sin(a * w).sum() + 0.5 * b.square().sum(), [w, b], eps=1e-5)
    torch.testing.assert_close(g_w, a * torch.cos(a * w), rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(g_b, b, rtol=1e-8, atol=1e-9)
    w0 = w.clone()
    fd_gradient(lambda: (w**2).sum(), [w])
    assert torch.equal(w, w0)  # parameters restored exactly
    with pytest.raises(TypeError, match=r"^loss must be callable"):
        fd_gradient(1.0, [w])
    with pytest.raises(TypeError, match=r"^params must be"):
        fd_gradient(lambda: w.sum(), w)
    with pytest.raises(ValueError, match=r"^eps must be"):
        fd_gradient(lambda: w.sum(), [w], eps=0.0)
