"""Training continuous-depth classifiers: one model, several ways to integrate it, one training loop.

:class:`ODEClassifier` is a linear encoder, a time-dependent MLP field
``f(t, z)`` (:class:`~ctdepth_lib.fields.TimeMLP`) integrated over ``[0, T]``,
and a linear decoder.  The same parameters can be integrated

* ``"resnet"``: as a residual network of depth ``N`` (:func:`resnet_unroll`, weights tied
  across layers through ``t``), gradients by backprop through the unroll
  (discretise-then-optimise);
* ``"dopri5"``: with the adaptive Dormand–Prince solver and direct backprop through it;
* ``"adjoint"``: with dopri5 and the continuous adjoint (Chen et al. 2018);
* ``"euler_adjoint"``: with Euler on the ResNet's grid, gradients from the adjoint ODE
  solved backwards by Euler (optimise-then-discretise) — same forward pass as ``"resnet"``,
  a different (inexact) gradient.

:class:`FreeResNet` is the contrast: a standard residual network whose layers have
free, independent weights, ``z_{n+1} = z_n + g_n(z_n)`` (He et al. 2016).

:func:`train` is the one training loop used by every chapter (Adam or L-BFGS,
full batch or mini-batches, cross-entropy loss); it stops with
:class:`TrainingDiverged` naming the step when the loss becomes NaN or infinite.
:func:`train_restarts` trains from several initialisations and keeps the run with the
lowest *training* loss (a non-convex loss has runs that stall; the test set never
takes part in the choice).  :func:`fd_gradient` is a central-difference reference
for any gradient autograd returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._validate import check_int, check_positive
from .data import check_dataset
from .fields import TimeMLP
from .resnet import resnet_unroll
from .solvers import odeint

__all__ = [
    "TRAINING_MODES",
    "FreeResNet",
    "ODEClassifier",
    "RestartResult",
    "TrainResult",
    "TrainingDiverged",
    "evaluate",
    "fd_gradient",
    "loss_gradient",
    "restart_seeds",
    "train",
    "train_restarts",
]

#: Ways of integrating an :class:`ODEClassifier` (see the module docstring).
TRAINING_MODES = ("resnet", "dopri5", "adjoint", "euler_adjoint")


def _seeded_linear(n_in: int, n_out: int, gen: torch.Generator) -> nn.Linear:
    lin = nn.Linear(n_in, n_out, dtype=torch.float64)
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        lin.weight.copy_((torch.rand(n_out, n_in, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
        lin.bias.copy_((torch.rand(n_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
    return lin


class ODEClassifier(nn.Module):
    """Encoder → ``dz/dt = f(t, z)`` on ``[0, T]`` → decoder.

    ``logits = D z(T) + c``, ``z(0) = E x + e``, ``f(t, z) = W₂ tanh(W₁z + t·u + b₁) + b₂``.
    Shapes: ``x: (batch, n_features)`` → logits ``(batch, n_classes)``; the hidden state is
    ``(batch, d)``.  All weights are float64 and drawn from ``seed`` (the global RNG is untouched).

    Args:
        n_features, n_classes: input and output sizes.
        d: hidden state dimension; width: hidden width of the field.
        T: final time (> 0).
        seed: seed of all weights.
        scale: size of the field at initialisation (see :class:`TimeMLP`).

    Reference: Chen, Rubanova, Bettencourt & Duvenaud, *Neural Ordinary Differential Equations* (2018).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        d: int = 2,
        width: int = 16,
        T: float = 1.0,
        seed: int = 0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        check_int("n_features", n_features, 1)
        check_int("n_classes", n_classes, 2)
        check_int("d", d, 1)
        check_int("width", width, 1)
        self.T = check_positive("T", T)
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = _seeded_linear(n_features, d, gen)
        self.field = TimeMLP(d, width, seed=int(seed) + 1, scale=scale)
        self.decoder = _seeded_linear(d, n_classes, gen)

    def grid(self, n_steps: int) -> torch.Tensor:
        """The ResNet's uniform grid ``t_n = n T / N``, ``n = 0 … N``."""
        check_int("n_steps", n_steps, 1)
        return torch.linspace(0.0, self.T, n_steps + 1, dtype=torch.float64)

    def trajectory(
        self,
        x: torch.Tensor,
        *,
        mode: str = "resnet",
        n_steps: int = 16,
        ts: torch.Tensor | None = None,
        rtol: float = 1e-6,
        atol: float = 1e-6,
    ) -> torch.Tensor:
        """Hidden states ``z(t_k)`` at the times ``ts`` (default the ResNet grid), shape ``(len(ts), batch, d)``.

        For ``"resnet"`` and ``"euler_adjoint"`` the grid is the step grid of ``n_steps`` Euler steps
        (``ts`` must then be omitted); for ``"dopri5"``/``"adjoint"`` the adaptive solver's output is
        reported at ``ts`` (default the ``n_steps`` grid).
        """
        if mode not in TRAINING_MODES:
            raise ValueError(f"mode must be one of {list(TRAINING_MODES)}; got {mode!r}")
        z0 = self.encoder(x)
        if mode in ("resnet", "euler_adjoint"):
            if ts is not None:
                raise ValueError("ts must be None for mode 'resnet'/'euler_adjoint' (the grid is given by n_steps)")
            grid = self.grid(n_steps)
            if mode == "resnet":
                return resnet_unroll(self.field, z0, grid)
            return odeint(self.field, z0, grid, method="euler", adjoint=True)
        grid = self.grid(n_steps) if ts is None else ts
        return odeint(self.field, z0, grid, method="dopri5", rtol=rtol, atol=atol, adjoint=mode == "adjoint")

    def forward(
        self, x: torch.Tensor, *, mode: str = "resnet", n_steps: int = 16, rtol: float = 1e-6, atol: float = 1e-6
    ) -> torch.Tensor:
        """Logits ``(batch, n_classes)``; ``mode`` is one of :data:`TRAINING_MODES`, ``n_steps`` the ResNet depth N."""
        if mode in ("dopri5", "adjoint"):
            ts = torch.tensor([0.0, self.T], dtype=torch.float64)
            zs = self.trajectory(x, mode=mode, ts=ts, rtol=rtol, atol=atol)
        elif mode == "euler_adjoint":
            # Output only at t = 0, T (so the adjoint's memory does not grow with N), but step on
            # exactly the ResNet's grid: ``step_size = T/N`` can make torchdiffeq take N + 1 steps.
            check_int("n_steps", n_steps, 1)
            z0 = self.encoder(x)
            ts = torch.tensor([0.0, self.T], dtype=torch.float64)
            zs = odeint(self.field, z0, ts, method="euler", adjoint=True, options=_uniform_grid(n_steps))
        else:
            zs = self.trajectory(x, mode=mode, n_steps=n_steps)
        return self.decoder(zs[-1])


def _uniform_grid(n_steps: int) -> dict[str, Any]:
    """torchdiffeq options making a fixed-step solver take ``n_steps`` equal steps between the output times."""

    def grid_constructor(func: Any, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.linspace(float(t[0]), float(t[-1]), n_steps + 1, dtype=t.dtype, device=t.device)

    return {"grid_constructor": grid_constructor}


class _Layer(nn.Module):
    def __init__(self, d: int, width: int, gen: torch.Generator, scale: float) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(width, d, generator=gen, dtype=torch.float64) * (scale / d**0.5))
        self.b1 = nn.Parameter(torch.randn(width, generator=gen, dtype=torch.float64) * scale)
        self.w2 = nn.Parameter(torch.randn(d, width, generator=gen, dtype=torch.float64) * (scale / width**0.5))
        self.b2 = nn.Parameter(torch.randn(d, generator=gen, dtype=torch.float64) * (scale / width**0.5))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ self.w1.T + self.b1) @ self.w2.T + self.b2


class FreeResNet(nn.Module):
    """A residual network with free per-layer weights: ``z_{n+1} = z_n + g_n(z_n)``, ``n = 0 … N−1``.

    ``g_n(z) = W₂ⁿ tanh(W₁ⁿ z + b₁ⁿ) + b₂ⁿ`` with independent weights drawn i.i.d. per layer
    (the standard ResNet of He et al. 2016).  Read as an ODE on ``[0, T]`` with ``h = T/N``,
    it is Euler's method for the piecewise-constant-in-time field
    ``f(t, z) = g_n(z)/h`` for ``t ∈ [t_n, t_{n+1})`` — the only field its weights define.
    :meth:`forward` with ``refine = r`` integrates that field with ``rN`` Euler steps of ``h/r``
    (each layer used ``r`` times), and ``mode="dopri5"`` with dopri5, stopping at every jump.

    Shapes: ``x: (batch, n_features)`` → logits ``(batch, n_classes)``.

    Reference: Sander, Ablin & Peyré, *Do residual neural networks discretize neural ordinary
    differential equations?* (NeurIPS 2022).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        n_layers: int,
        d: int = 2,
        width: int = 16,
        T: float = 1.0,
        seed: int = 0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        check_int("n_features", n_features, 1)
        check_int("n_classes", n_classes, 2)
        check_int("n_layers", n_layers, 1)
        check_int("d", d, 1)
        check_int("width", width, 1)
        self.T = check_positive("T", T)
        check_positive("scale", scale)
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = _seeded_linear(n_features, d, gen)
        self.layers = nn.ModuleList(_Layer(d, width, gen, scale) for _ in range(n_layers))
        self.decoder = _seeded_linear(d, n_classes, gen)

    def field(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The piecewise-constant field ``f(t, z) = g_n(z) / h`` with ``n = ⌊t/h⌋`` (clipped to ``N − 1``)."""
        n_layers = len(self.layers)
        h = self.T / n_layers
        n = min(max(math.floor(float(t) / h + 1e-9), 0), n_layers - 1)
        return self.layers[n](z) / h

    def forward(
        self, x: torch.Tensor, *, refine: int = 1, mode: str = "resnet", rtol: float = 1e-6, atol: float = 1e-6
    ) -> torch.Tensor:
        """Logits; ``refine = r`` runs ``r`` Euler substeps of ``h/r`` per layer (``r = 1``: the trained net)."""
        check_int("refine", refine, 1)
        if mode not in ("resnet", "dopri5"):
            raise ValueError(f"mode must be 'resnet' or 'dopri5'; got {mode!r}")
        z = self.encoder(x)
        if mode == "dopri5":
            n_layers = len(self.layers)
            ts = torch.tensor([0.0, self.T], dtype=torch.float64)
            jumps = torch.linspace(0.0, self.T, n_layers + 1, dtype=torch.float64)[1:-1]
            zs = odeint(self.field, z, ts, method="dopri5", rtol=rtol, atol=atol, options={"jump_t": jumps})
            return self.decoder(zs[-1])
        for layer in self.layers:
            for _ in range(refine):
                z = z + layer(z) / refine
        return self.decoder(z)


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step."""


@dataclass
class TrainResult:
    """What :func:`train` recorded: the training loss after each step (``losses[k]`` at step ``k``)."""

    losses: list[float] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)


def _tensors(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    xa, ya = check_dataset(x, y)
    return torch.as_tensor(xa, dtype=torch.float64), torch.as_tensor(ya, dtype=torch.int64)


def evaluate(model: nn.Module, x: Any, y: Any, **forward_kwargs: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model(x, **forward_kwargs)`` on ``(x, y)`` (no gradients).

    Args:
        model: maps ``x: (n, n_features)`` to logits ``(n, n_classes)``.
        x, y: features ``(n, n_features)`` and integer labels ``(n,)``.

    Returns:
        ``(loss, accuracy)`` as Python floats.
    """
    xt, yt = _tensors(x, y)
    with torch.no_grad():
        logits = model(xt, **forward_kwargs)
        loss = F.cross_entropy(logits, yt)
        acc = (logits.argmax(dim=1) == yt).double().mean()
    return float(loss), float(acc)


def loss_gradient(model: nn.Module, x: Any, y: Any, **forward_kwargs: Any) -> torch.Tensor:
    """The gradient of the mean cross-entropy w.r.t. all parameters, flattened to one vector ``(n_params,)``.

    The gradient is whatever ``model(x, **forward_kwargs)`` backpropagates: exact for the
    discrete network with ``mode="resnet"``, the adjoint's approximation with ``"euler_adjoint"``.
    """
    xt, yt = _tensors(x, y)
    params = [p for p in model.parameters() if p.requires_grad]
    loss = F.cross_entropy(model(xt, **forward_kwargs), yt)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads, strict=True)]
    )


def train(
    model: nn.Module,
    x: Any,
    y: Any,
    *,
    steps: int,
    lr: float,
    optimizer: str = "adam",
    batch_size: int | None = None,
    seed: int = 0,
    weight_decay: float = 0.0,
    callback: Callable[[int, nn.Module], Any] | None = None,
    **forward_kwargs: Any,
) -> TrainResult:
    """Minimise the mean cross-entropy of ``model(x, **forward_kwargs)`` on ``(x, y)``.

    Each step: ``L(θ) = −(1/B) Σ_i log softmax(model(x_i))_{y_i}`` on the batch, then one
    Adam (``lr``, ``weight_decay``) or L-BFGS (``lr``, strong-Wolfe line search) update.
    Full batch when ``batch_size`` is None, otherwise mini-batches drawn without replacement
    from a ``torch.Generator`` seeded with ``seed`` (deterministic).

    Args:
        model: maps ``x: (n, n_features)`` to logits ``(n, n_classes)``; trained in place.
        x, y: non-empty finite features ``(n, n_features)`` and integer labels ``(n,)``.
        steps: number of updates (>= 1).
        lr: learning rate (> 0).
        optimizer: ``"adam"`` or ``"lbfgs"``.
        batch_size: mini-batch size (>= 1) or None.
        seed: seed of the mini-batch order.
        weight_decay: L2 penalty of Adam (>= 0).
        callback: called as ``callback(step, model)`` after each step; its results go to ``extra``.
        forward_kwargs: passed to ``model`` (e.g. ``mode="resnet", n_steps=16``).

    Returns:
        :class:`TrainResult` with the loss of each step.

    Raises:
        TrainingDiverged: the loss became NaN or infinite (the message names the step).
    """
    xt, yt = _tensors(x, y)
    check_positive("lr", lr)
    check_int("steps", steps, 1)
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs'; got {optimizer!r}")
    if batch_size is not None:
        check_int("batch_size", batch_size, 1)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not 0 <= weight_decay < math.inf:
        raise ValueError(f"weight_decay must be a finite number >= 0; got {weight_decay!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(step, model); got {type(callback).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, line_search_fn="strong_wolfe")
    gen = torch.Generator().manual_seed(int(seed))
    n = xt.shape[0]
    order = torch.randperm(n, generator=gen)
    pos = 0
    result = TrainResult()
    for step in range(steps):
        if batch_size is None or batch_size >= n:
            xb, yb = xt, yt
        else:
            if pos + batch_size > n:
                order, pos = torch.randperm(n, generator=gen), 0
            idx = order[pos : pos + batch_size]
            pos += batch_size
            xb, yb = xt[idx], yt[idx]

        def closure(xb: torch.Tensor = xb, yb: torch.Tensor = yb, step: int = step) -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb, **forward_kwargs), yb)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"training stopped at step {step}: the loss became {float(loss.detach())} (NaN or infinite); "
                    f"lower the learning rate lr (now {lr!r}) or check the data"
                )
            loss.backward()
            return loss

        loss = opt.step(closure)
        result.losses.append(float(loss.detach()))
        if callback is not None:
            result.extra.append(callback(step, model))
    return result


def restart_seeds(seed: int, k: int) -> list[int]:
    """``k`` distinct initialisation seeds derived from ``seed``: ``(seed + 1_000_003·j) mod 2³¹``, ``j = 0 … k−1``.

    The stride keeps the seeds ``s`` and ``s + 1`` that one :class:`ODEClassifier` uses (encoder and
    decoder, field) apart from the next candidate's; ``j = 0`` is ``seed`` itself.
    """
    check_int("seed", seed, 0)
    check_int("k", k, 1)
    return [(int(seed) + 1_000_003 * j) % 2**31 for j in range(k)]


@dataclass
class RestartResult:
    """What :func:`train_restarts` kept: the chosen model and run, and every candidate's training loss."""

    model: nn.Module
    result: TrainResult
    seeds: list[int]
    train_losses: list[float]
    best: int

    @property
    def n_tried(self) -> int:
        """How many initialisations were trained."""
        return len(self.train_losses)


def train_restarts(
    make_model: Callable[[int], nn.Module],
    x: Any,
    y: Any,
    *,
    seeds: list[int],
    accept_loss: float | None = None,
    eval_kwargs: dict[str, Any] | None = None,
    **train_kwargs: Any,
) -> RestartResult:
    """Train ``make_model(s)`` for the seeds in turn and keep the run with the lowest training loss.

    After each run the full-batch mean cross-entropy on the *training* data ``(x, y)``,
    ``L_train = evaluate(model, x, y, **eval_kwargs)[0]``, is computed; the model with the
    smallest ``L_train`` is returned.  With ``accept_loss`` the loop stops at the first run with
    ``L_train ≤ accept_loss`` (a restart only when a run stalled), so a run that trains well costs
    one training.  Nothing but the training data enters the choice: selecting on test accuracy
    would make the test accuracy a biased estimate.

    Args:
        make_model: maps an initialisation seed to a fresh model.
        x, y: training features ``(n, n_features)`` and labels ``(n,)``.
        seeds: initialisation seeds, tried in order (e.g. :func:`restart_seeds`), at least one.
        accept_loss: stop at the first run whose training loss is at most this (> 0), or None (train all).
        eval_kwargs: forward arguments for ``L_train``; default: the forward arguments of training
            (those of ``train_kwargs`` that are not :func:`train`'s own).
        train_kwargs: passed to :func:`train` (``steps``, ``lr``, ``mode``, …).

    Returns:
        :class:`RestartResult` (the chosen model, its :class:`TrainResult`, the seeds and training
        losses of all candidates trained, the index of the chosen one).

    Reference: the random-restart strategy for non-convex training, e.g. Goodfellow, Bengio &
    Courville, *Deep Learning* (2016), §8.4 (initialisation) and §11.4.
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be callable as make_model(seed); got {type(make_model).__name__}")
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of initialisation seeds; got {seeds!r}")
    if accept_loss is not None:
        check_positive("accept_loss", accept_loss)
    own = {"steps", "lr", "optimizer", "batch_size", "seed", "weight_decay", "callback"}
    if eval_kwargs is None:
        eval_kwargs = {k: v for k, v in train_kwargs.items() if k not in own}
    xt, yt = _tensors(x, y)
    best: tuple[nn.Module, TrainResult] | None = None
    losses: list[float] = []
    for s in seeds:
        model = make_model(int(s))
        run = train(model, xt, yt, **train_kwargs)
        loss = evaluate(model, xt, yt, **eval_kwargs)[0]
        losses.append(loss)
        if loss <= min(losses):
            best = (model, run)
        if accept_loss is not None and loss <= accept_loss:
            break
    assert best is not None
    return RestartResult(
        model=best[0],
        result=best[1],
        seeds=list(seeds[: len(losses)]),
        train_losses=losses,
        best=losses.index(min(losses)),
    )


def fd_gradient(
    loss: Callable[[], torch.Tensor], params: list[torch.Tensor], *, eps: float = 1e-5
) -> list[torch.Tensor]:
    """The gradient of a scalar ``loss()`` w.r.t. ``params`` by central finite differences (no autograd).

    ``∂L/∂θ_i ≈ [L(θ + ε e_i) − L(θ − ε e_i)] / (2ε)`` for every entry ``θ_i`` of every tensor
    (perturbed in place and restored); truncation error ``O(ε²)``, rounding ``O(u L/ε)``.
    An independent reference for the gradient autograd returns.

    Args:
        loss: evaluates the scalar loss at the current parameter values.
        params: the tensors (leaves, e.g. a layer's weight and bias) to differentiate in.
        eps: the difference step (> 0).

    Returns:
        One tensor per entry of ``params``, of its shape.

    Reference: Nocedal & Wright, *Numerical Optimization*, 2nd ed., §8.1 (central differences).
    """
    if not callable(loss):
        raise TypeError(f"loss must be callable as loss(); got {type(loss).__name__}")
    if not isinstance(params, (list, tuple)) or not all(isinstance(p, torch.Tensor) for p in params):
        raise TypeError(f"params must be a list of tensors; got {type(params).__name__}")
    check_positive("eps", eps)
    grads = []
    with torch.no_grad():
        for p in params:
            g = torch.zeros_like(p)
            flat, gflat = p.view(-1), g.view(-1)
            for i in range(flat.numel()):
                old = float(flat[i])
                flat[i] = old + eps
                up = float(loss())
                flat[i] = old - eps
                down = float(loss())
                flat[i] = old
                gflat[i] = (up - down) / (2 * eps)
            grads.append(g)
    return grads
