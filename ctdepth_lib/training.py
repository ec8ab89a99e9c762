"""Training the book's classifiers: one training loop, restarts, and gradient references.

:func:`train` is the one training loop used by every chapter (Adam or L-BFGS,
full batch or mini-batches, cross-entropy loss); it stops with
:class:`TrainingDiverged` naming the step when the loss becomes NaN or infinite.
:func:`train_restarts` trains from several initialisations and keeps the run with the
lowest *training* loss (a non-convex loss has runs that stall; the test set never
takes part in the choice).  :func:`evaluate` and :func:`loss_gradient` give a model's
loss, accuracy and parameter gradient; :func:`fd_gradient` is a central-difference
reference for any gradient autograd returns.  :func:`train_near_identity_classifier`
trains the feedforward chapter's :class:`~ctdepth_lib.models.NearIdentityClassifier`.

The models themselves (:class:`~ctdepth_lib.models.ODEClassifier`,
:class:`~ctdepth_lib.models.FreeResNet`, …) are in :mod:`ctdepth_lib.models`; this module
imports them, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._validate import check_callable, check_choice, check_int, check_positive, check_real, check_type
from .data import check_dataset
from .models import NearIdentityClassifier

__all__ = [
    "RestartResult",
    "TrainResult",
    "TrainingDiverged",
    "evaluate",
    "fd_gradient",
    "loss_gradient",
    "restart_seeds",
    "train",
    "train_near_identity_classifier",
    "train_restarts",
]


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step."""


@dataclass
class TrainResult:
    """What :func:`train` recorded: the training loss after each step (``losses[k]`` at step ``k``)."""

    losses: list[float] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)


def _tensors(x: Any, y: Any, names: tuple[str, str] = ("x", "y")) -> tuple[torch.Tensor, torch.Tensor]:
    """The checked dataset as float64 features and int64 labels."""
    xa, ya = check_dataset(x, y, x_name=names[0], y_name=names[1])
    return torch.as_tensor(xa, dtype=torch.float64), torch.as_tensor(ya, dtype=torch.int64)


@dataclass(frozen=True)
class _Settings:
    """The checked arguments of :func:`train` that are its own (the rest go to the model)."""

    steps: int
    lr: float
    optimizer: str = "adam"
    batch_size: int | None = None
    seed: int = 0
    weight_decay: float = 0.0
    callback: Callable[[int, nn.Module], Any] | None = None

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 1)
        check_positive("lr", self.lr)
        check_choice("optimizer", self.optimizer, ("adam", "lbfgs"))
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1)
        check_real("weight_decay", self.weight_decay, low=0.0)
        if self.callback is not None:
            check_callable("callback", self.callback, "callback(step, model)")


#: The keyword arguments of :func:`train` that are its own, not the model's.
_OWN = tuple(_Settings.__dataclass_fields__)


def evaluate(model: nn.Module, x: Any, y: Any, **forward_kwargs: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model(x, **forward_kwargs)`` on ``(x, y)`` (no gradients).

    Args:
        model: maps ``x: (n, n_features)`` to logits ``(n, n_classes)``.
        x, y: features ``(n, n_features)`` and integer labels ``(n,)``.

    Returns:
        ``(loss, accuracy)`` as Python floats.
    """
    return _evaluate(model, *_tensors(x, y), forward_kwargs)


def _evaluate(
    model: nn.Module, xt: torch.Tensor, yt: torch.Tensor, forward_kwargs: dict[str, Any]
) -> tuple[float, float]:
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
    settings = _Settings(steps, lr, optimizer, batch_size, seed, weight_decay, callback)
    return _train(model, *_tensors(x, y), settings, forward_kwargs)


def _train(
    model: nn.Module, xt: torch.Tensor, yt: torch.Tensor, settings: _Settings, forward_kwargs: dict[str, Any]
) -> TrainResult:
    """The unchecked core of :func:`train` (also of :func:`train_restarts` and the near-identity training)."""
    lr, batch_size = settings.lr, settings.batch_size
    params = [p for p in model.parameters() if p.requires_grad]
    if settings.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=settings.weight_decay)
    else:
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, line_search_fn="strong_wolfe")
    gen = torch.Generator().manual_seed(int(settings.seed))
    n = xt.shape[0]
    order = torch.randperm(n, generator=gen)
    pos = 0
    result = TrainResult()
    for step in range(settings.steps):
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
        if settings.callback is not None:
            result.extra.append(settings.callback(step, model))
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
    check_callable("make_model", make_model, "make_model(seed)")
    check_type("seeds", seeds, (list, tuple), "a non-empty list of initialisation seeds")
    if not seeds:
        raise ValueError("seeds must be a non-empty list of initialisation seeds; got []")
    if accept_loss is not None:
        check_positive("accept_loss", accept_loss)
    settings = _Settings(**{k: v for k, v in train_kwargs.items() if k in _OWN})
    forward_kwargs = {k: v for k, v in train_kwargs.items() if k not in _OWN}
    if eval_kwargs is None:
        eval_kwargs = forward_kwargs
    xt, yt = _tensors(x, y)
    best: tuple[nn.Module, TrainResult] | None = None
    losses: list[float] = []
    for s in seeds:
        model = make_model(int(s))
        run = _train(model, xt, yt, settings, forward_kwargs)
        loss = _evaluate(model, xt, yt, eval_kwargs)[0]
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
    check_callable("loss", loss, "loss()")
    check_type("params", params, (list, tuple), "a list of tensors")
    for k, p in enumerate(params):
        check_type(f"params[{k}]", p, torch.Tensor, "a torch.Tensor")
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


def train_near_identity_classifier(
    u: torch.Tensor,
    y: torch.Tensor,
    *,
    n_layers: int,
    steps: int = 200,
    lr: float = 0.05,
    d: int = 3,
    n_basis: int = 3,
    alpha: float = 1.0,
    seed: int = 0,
) -> tuple[NearIdentityClassifier, list[float]]:
    """Train a :class:`~ctdepth_lib.models.NearIdentityClassifier` with ``n_layers`` layers (full-batch Adam).

    The loss is the mean cross-entropy of :func:`train`, ``L = −(1/n) Σ_i log softmax(model(u_i))_{y_i}``.

    Args:
        u: inputs ``(n, d_in)``; y: integer labels ``(n,)``.
        n_layers: depth ``N`` (the step is ``h = T/N``).
        steps: Adam steps; lr: learning rate; d, n_basis, alpha: model sizes (see the class).
        seed: seed of the initial weights (the same seed gives the same start at every depth).

    Returns:
        ``(model, losses)``: the trained model and the training loss after each step.
    """
    ut, yt = _tensors(u, y, ("u", "y"))
    check_int("n_layers", n_layers, 1)
    settings = _Settings(steps, lr)
    model = NearIdentityClassifier(ut.shape[1], d, int(yt.max()) + 1, n_basis=n_basis, alpha=alpha, seed=seed)
    return model, _train(model, ut, yt, settings, {"n_layers": n_layers}).losses  # the book's one training loop
