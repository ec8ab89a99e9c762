"""Tests of ctdepth_lib.training: the training loop, restarts, gradients and their finite-difference reference."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ctdepth_lib.models import FreeResNet, NearIdentityClassifier, ODEClassifier
from ctdepth_lib.training import (
    TrainingDiverged,
    evaluate,
    fd_gradient,
    loss_gradient,
    restart_seeds,
    train,
    train_near_identity_classifier,
    train_restarts,
)


def _data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


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


def test_restart_seeds_are_distinct_and_start_with_the_seed() -> None:
    seeds = restart_seeds(7, 4)
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert all(0 <= s < 2**31 for s in restart_seeds(2**31 - 1, 3))


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


# --------------------------------------------------------------------------- the near-identity classifier


def test_train_near_identity_classifier_reduces_loss_and_is_train() -> None:
    from ctdepth_lib.data import moons_dataset

    data = moons_dataset(120, seed=0)
    model, losses = train_near_identity_classifier(data.x_train, data.y_train, n_layers=4, steps=30, seed=0)
    assert losses[-1] < 0.8 * losses[0]
    # the same run by hand: the model of that seed, trained by train()
    ref = NearIdentityClassifier(2, 3, 2, seed=0)
    assert train(ref, data.x_train, data.y_train, steps=30, lr=0.05, n_layers=4).losses == losses
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters(), strict=True))


# --------------------------------------------------------------------------- bad input: one table per public face

_DATA_CASES = [
    ({"x": torch.zeros(3, 3), "y": torch.zeros(2, dtype=torch.long)}, ValueError, r"^y must hold one label per row"),
    ({"x": torch.full((2, 3), float("inf")), "y": torch.zeros(2, dtype=torch.long)}, ValueError, r"^x must contain"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _DATA_CASES)
def test_evaluate_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        evaluate(ODEClassifier(3, 2, d=2, width=4), **bad)


@pytest.mark.parametrize(("bad", "error", "match"), _DATA_CASES)
def test_loss_gradient_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        loss_gradient(ODEClassifier(3, 2, d=2, width=4), **bad)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"k": 0}, ValueError, r"^k must be an integer >= 1"),
        ({"seed": -1}, ValueError, r"^seed must be an integer >= 0"),
        ({"seed": 1.0}, TypeError, r"^seed must be an integer"),
    ],
)
def test_restart_seeds_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        restart_seeds(**({"seed": 0, "k": 2} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"seeds": []}, ValueError, r"^seeds must be a non-empty list"),
        ({"seeds": 3}, TypeError, r"^seeds must be a non-empty list"),
        ({"make_model": 3}, TypeError, r"^make_model must be callable"),
        ({"accept_loss": -1.0}, ValueError, r"^accept_loss must be a finite number > 0"),
        ({"lr": 0.0}, ValueError, r"^lr must be a finite number > 0"),
        ({"optimizer": "sgd"}, ValueError, r"^optimizer must be one of"),
        ({"y": torch.zeros(5, dtype=torch.long)}, ValueError, r"^y must hold one label per row"),
    ],
)
def test_train_restarts_rejects(bad: dict, error: type, match: str) -> None:
    x, y = _data(8)
    args = {"make_model": lambda s: ODEClassifier(3, 2, d=2, width=4, seed=s), "x": x, "y": y, "seeds": [0]}
    with pytest.raises(error, match=match):
        train_restarts(**(args | {"steps": 1, "lr": 0.1} | bad))


_W = torch.zeros(3, dtype=torch.float64)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"loss": 1.0}, TypeError, r"^loss must be callable"),
        ({"params": _W}, TypeError, r"^params must be a list of tensors"),
        ({"params": [_W, 1.0]}, TypeError, r"^params\[1\] must be a torch.Tensor"),
        ({"eps": 0.0}, ValueError, r"^eps must be a finite number > 0"),
    ],
)
def test_fd_gradient_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fd_gradient(**({"loss": lambda: _W.sum(), "params": [_W]} | bad))


_U = torch.zeros(4, 2, dtype=torch.float64)
_Y = torch.tensor([0, 1, 0, 1])


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"y": _Y.double()}, ValueError, r"^y must hold integer class labels"),
        ({"y": _Y[:3]}, ValueError, r"^y must hold one label per row of u"),
        ({"u": _U[0], "y": _Y[:1]}, ValueError, r"^u must have shape"),
        ({"n_layers": 0}, ValueError, r"^n_layers must be an integer >= 1"),
        ({"steps": 0}, ValueError, r"^steps must be an integer >= 1"),
        ({"lr": "big"}, TypeError, r"^lr must be a positive real number"),
    ],
)
def test_train_near_identity_classifier_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        train_near_identity_classifier(**({"u": _U, "y": _Y, "n_layers": 2, "steps": 1} | bad))
