"""The networks the book trains or differentiates, each with the differential equation it discretises.

- :class:`NearIdentityClassifier` — a deep near-identity feedforward classifier and its ODE
  ``dx/dt = A(t)x + c(t) + g(x)`` (the trained example of the feedforward chapter);
- :class:`ODEClassifier` — a linear encoder, a :class:`~ctdepth_lib.fields.TimeMLP` field
  integrated over ``[0, T]`` in one of the :data:`TRAINING_MODES`, and a linear decoder;
- :class:`FreeResNet` — the contrast: a residual network with free per-layer weights;
- :class:`FeedforwardNet` — a plain feedforward network ``x_{n+1} = φ(W_n x_n)``, whose
  bias-free homogeneous form conserves ``p · x`` under backpropagation (claim N1).

All weights are float64 and drawn from a ``torch.Generator`` of the model's own seed, so they
depend on the seed alone.  (Building an ``nn.Linear`` still advances the *global* RNG through its
default initialisation before the seeded weights overwrite it; :class:`FeedforwardNet` uses none.)
The models are trained by :func:`ctdepth_lib.train`.

References: Chen, Rubanova, Bettencourt & Duvenaud, *Neural Ordinary Differential Equations*
(2018); He, Zhang, Ren & Sun, *Deep Residual Learning* (2016); Sander, Ablin & Peyré, *Do
residual neural networks discretize neural ordinary differential equations?* (NeurIPS 2022).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

import torch
from torch import nn

from ._validate import check_choice, check_int, check_positive, check_state, check_time_grid
from .feedforward import run_layers
from .fields import TimeMLP, _seeded_normal, activation_fn
from .near_identity import NearIdentityField, leaky_relu_nonlinearity
from .resnet import RK_METHODS, run_blocks
from .solvers import check_solver_args, solve, uniform_grid_options

if TYPE_CHECKING:  # PEP 692 keyword options, for type checkers (no import at run time)
    from typing_extensions import Unpack

__all__ = [
    "TRAINING_MODES",
    "ClassifierOptions",
    "FeedforwardNet",
    "FreeResNet",
    "NearIdentityClassifier",
    "ODEClassifier",
]

#: Ways of integrating an :class:`ODEClassifier`:
#:
#: * ``"resnet"``: as a residual network of depth ``N`` (:func:`ctdepth_lib.resnet_unroll`, weights
#:   tied across layers through ``t``), gradients by backprop through the unroll
#:   (discretise-then-optimise);
#: * ``"dopri5"``: with the adaptive Dormand–Prince solver and direct backprop through it;
#: * ``"adjoint"``: with dopri5 and the continuous adjoint (Chen et al. 2018);
#: * ``"euler_adjoint"``: with Euler on the ResNet's grid, gradients from the adjoint ODE solved
#:   backwards by Euler (optimise-then-discretise) — same forward pass as ``"resnet"``, a
#:   different (inexact) gradient.
TRAINING_MODES = ("resnet", "dopri5", "adjoint", "euler_adjoint")


# --------------------------------------------------------------------------- the near-identity classifier
class NearIdentityClassifier(nn.Module):
    """A deep near-identity feedforward classifier and its ODE.

    Input ``u ∈ R^{d_in}`` is padded with zeros to ``x_0 ∈ R^d``; the hidden layers
    are :func:`~ctdepth_lib.feedforward_unroll` with ``A(t) = Σ_k A_k P_k(2t/T − 1)``,
    ``c(t) = Σ_k c_k P_k(2t/T − 1)`` (Legendre polynomials ``P_0 … P_{K−1}``, so
    the weights ``W_n = I + hA(t_n)`` vary smoothly with depth) and the weak
    leaky ReLU ``g(z) = α relu(−z)`` (negative slope ``1 − hα``); a linear
    read-out gives the logits.  The same ``A(t)``, ``c(t)`` define the ODE
    ``dx/dt = A(t)x + c(t) + g(x)`` (:meth:`ode_features`).

    Shapes: ``u: (batch, d_in)`` → logits ``(batch, n_classes)``.

    Args:
        d_in: input dimension; d: hidden dimension (≥ d_in); n_classes: number of classes.
        n_basis: number ``K`` of Legendre polynomials in ``t``.
        alpha: leaky-ReLU strength ``α``; T: the depth (time) horizon.
        seed: seed of the initial weights.
    """

    def __init__(
        self, d_in: int, d: int, n_classes: int, *, n_basis: int = 3, alpha: float = 1.0, T: float = 1.0, seed: int = 0
    ) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("d", d), ("n_classes", n_classes), ("n_basis", n_basis)):
            check_int(name, value, 1)
        if d < d_in:
            raise ValueError(f"d must be >= d_in = {d_in}; got {d}")
        check_positive("T", T)
        gen = torch.Generator().manual_seed(int(seed))
        self.d_in, self.d, self.T = d_in, d, float(T)
        self.g = leaky_relu_nonlinearity(alpha)
        # Not seeded_normal: (0.3·z)/√d and z/√d round differently from z·(scale/√d), and these
        # weights are the committed chapter's; they stay drawn and scaled exactly so.
        self.coef_A = nn.Parameter(0.3 * torch.randn(n_basis, d, d, generator=gen, dtype=torch.float64) / d**0.5)
        self.coef_c = nn.Parameter(0.1 * torch.randn(n_basis, d, generator=gen, dtype=torch.float64))
        self.readout = nn.Linear(d, n_classes, dtype=torch.float64)
        with torch.no_grad():
            self.readout.weight.copy_(torch.randn(n_classes, d, generator=gen, dtype=torch.float64) / d**0.5)
            self.readout.bias.zero_()

    def _basis(self, t: torch.Tensor) -> torch.Tensor:
        s = 2 * t / self.T - 1
        polys = [torch.ones_like(s), s]
        for k in range(1, self.coef_A.shape[0] - 1):  # Bonnet's recursion
            polys.append(((2 * k + 1) * s * polys[k] - k * polys[k - 1]) / (k + 1))
        return torch.stack(polys[: self.coef_A.shape[0]])

    def A(self, t: torch.Tensor) -> torch.Tensor:
        """``A(t)``, shape ``(d, d)``."""
        return torch.einsum("k,kij->ij", self._basis(t), self.coef_A)

    def c(self, t: torch.Tensor) -> torch.Tensor:
        """``c(t)``, shape ``(d,)``."""
        return self._basis(t) @ self.coef_c

    def lift(self, u: torch.Tensor) -> torch.Tensor:
        """Pad ``u: (batch, d_in)`` with zeros to ``x_0: (batch, d)``."""
        return torch.nn.functional.pad(u, (0, self.d - self.d_in))

    def network_features(self, u: torch.Tensor, n_layers: int) -> torch.Tensor:
        """``x_N`` of the ``n_layers``-layer network (uniform grid on ``[0, T]``), shape ``(batch, d)``."""
        check_int("n_layers", n_layers, 1)
        ts = torch.linspace(0.0, self.T, n_layers + 1, dtype=check_state("u", u).dtype)
        return run_layers(self.A, self.c, self.g, self.lift(u), ts)[-1]

    def ode_features(self, u: torch.Tensor, *, rtol: float = 1e-9, atol: float = 1e-9) -> torch.Tensor:
        """``x(T)`` of the ODE ``dx/dt = A(t)x + c(t) + g(x)`` (dopri5), shape ``(batch, d)``."""
        check_solver_args("dopri5", rtol, atol, None)
        ts = torch.tensor([0.0, self.T], dtype=check_state("u", u).dtype)
        f = NearIdentityField(self.A, self.c, self.g)
        return solve(f, self.lift(u), ts, method="dopri5", rtol=rtol, atol=atol)[-1]

    def forward(self, u: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Logits of the ``n_layers``-layer network, shape ``(batch, n_classes)``."""
        return self.readout(self.network_features(u, n_layers))

    def ode_logits(self, u: torch.Tensor, *, rtol: float = 1e-9, atol: float = 1e-9) -> torch.Tensor:
        """Logits of the ODE model (the network replaced by its limit), shape ``(batch, n_classes)``."""
        return self.readout(self.ode_features(u, rtol=rtol, atol=atol))


# --------------------------------------------------------------------------- continuous-depth classifiers
def _seeded_linear(n_in: int, n_out: int, gen: torch.Generator) -> nn.Linear:
    """``nn.Linear``'s default law, ``U(−1/√n_in, 1/√n_in)``, drawn from ``gen`` (weight, then bias)."""
    lin = nn.Linear(n_in, n_out, dtype=torch.float64)
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        lin.weight.copy_((torch.rand(n_out, n_in, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
        lin.bias.copy_((torch.rand(n_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
    return lin


class ClassifierOptions(TypedDict, total=False):
    """The keyword options :class:`ODEClassifier` and :class:`FreeResNet` share (defaults in brackets):
    ``d`` the hidden state's dimension [2], ``width`` the field's hidden width [16], ``T`` the final
    time [1.0], ``seed`` the seed of every weight [0], ``scale`` the size of the flow's weights at
    initialisation [1.0]."""

    d: int
    width: int
    T: float
    seed: int
    scale: float


_CLASSIFIER_DEFAULTS: dict[str, Any] = {"d": 2, "width": 16, "T": 1.0, "seed": 0, "scale": 1.0}


class _Classifier(nn.Module):
    """Encoder → a flow on ``[0, T]`` → decoder: the frame :class:`ODEClassifier` and :class:`FreeResNet` share.

    The encoder and the decoder are drawn from one generator of ``seed``, before and after the
    flow's own weights (``build(gen, d, width, seed, scale)``), so each model's weights depend on its
    seed alone.
    """

    def __init__(self, n_features: int, n_classes: int, options: dict[str, Any], build: Callable[..., None]) -> None:
        unknown = sorted(set(options) - set(_CLASSIFIER_DEFAULTS))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {unknown}")
        opts = _CLASSIFIER_DEFAULTS | options
        d, width, seed = opts["d"], opts["width"], opts["seed"]
        check_int("n_features", n_features, 1)
        check_int("n_classes", n_classes, 2)
        check_int("d", d, 1)
        check_int("width", width, 1)
        super().__init__()
        self.T = check_positive("T", opts["T"])
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = _seeded_linear(n_features, d, gen)
        build(gen, d, width, seed, opts["scale"])
        self.decoder = _seeded_linear(d, n_classes, gen)

    def _end_times(self) -> torch.Tensor:
        """The output grid ``[0, T]`` of the solver modes."""
        return torch.tensor([0.0, self.T], dtype=torch.float64)


class ODEClassifier(_Classifier):
    """Encoder → ``dz/dt = f(t, z)`` on ``[0, T]`` → decoder.

    ``logits = D z(T) + c``, ``z(0) = E x + e``, ``f(t, z) = W₂ tanh(W₁z + t·u + b₁) + b₂``.
    Shapes: ``x: (batch, n_features)`` → logits ``(batch, n_classes)``; the hidden state is
    ``(batch, d)``.  All weights are float64 and drawn from ``seed`` (see the module docstring on the global RNG).

    Args:
        n_features, n_classes: input and output sizes.
        d: hidden state dimension; width: hidden width of the field.
        T: final time (> 0).
        seed: seed of all weights.
        scale: size of the field at initialisation (see :class:`~ctdepth_lib.fields.TimeMLP`).

    Reference: Chen, Rubanova, Bettencourt & Duvenaud, *Neural Ordinary Differential Equations* (2018).
    """

    def __init__(self, n_features: int, n_classes: int, **options: Unpack[ClassifierOptions]) -> None:
        def build(gen: torch.Generator, d: int, width: int, seed: int, scale: float) -> None:
            self.field = TimeMLP(d, width, seed=int(seed) + 1, scale=scale)

        super().__init__(n_features, n_classes, dict(options), build)

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
        check_choice("mode", mode, TRAINING_MODES)
        check_state("x", x)
        if mode in ("resnet", "euler_adjoint"):
            if ts is not None:
                raise ValueError("ts must be None for mode 'resnet'/'euler_adjoint' (the grid is given by n_steps)")
        elif ts is not None:
            check_time_grid("ts", ts, like=self.encoder.weight)
        check_solver_args("dopri5", rtol, atol, None)
        return self._flow(x, mode, self.grid(n_steps) if ts is None else ts, rtol=rtol, atol=atol, options=None)

    def forward(
        self, x: torch.Tensor, *, mode: str = "resnet", n_steps: int = 16, rtol: float = 1e-6, atol: float = 1e-6
    ) -> torch.Tensor:
        """Logits ``(batch, n_classes)``; ``mode`` is one of :data:`TRAINING_MODES`, ``n_steps`` the ResNet depth N."""
        check_choice("mode", mode, TRAINING_MODES)
        check_state("x", x)
        options = None
        if mode == "resnet":
            ts = self.grid(n_steps)
        elif mode == "euler_adjoint":
            # Output only at t = 0, T (so the adjoint stores no state per step), but step on
            # exactly the ResNet's grid: ``step_size = T/N`` can make torchdiffeq take N + 1 steps.
            ts, options = self._end_times(), uniform_grid_options(n_steps)
        else:
            check_solver_args("dopri5", rtol, atol, None)
            ts = self._end_times()
        return self.decoder(self._flow(x, mode, ts, rtol=rtol, atol=atol, options=options)[-1])

    def _flow(
        self, x: torch.Tensor, mode: str, ts: torch.Tensor, *, rtol: float, atol: float, options: dict[str, Any] | None
    ) -> torch.Tensor:
        """The unchecked core of both faces: ``z(t)`` on ``ts`` from ``z(0) = E x + e``, integrated in ``mode``."""
        z0 = self.encoder(x)
        if mode == "resnet":
            return run_blocks(self.field, z0, ts, RK_METHODS["euler"][0])
        if mode == "euler_adjoint":  # odeint's default tolerances, which the fixed-step method does not use
            return solve(self.field, z0, ts, method="euler", rtol=1e-9, atol=1e-9, adjoint=True, options=options)
        return solve(self.field, z0, ts, method="dopri5", rtol=rtol, atol=atol, adjoint=mode == "adjoint")


class _FreeLayer(nn.Module):
    """One free residual branch ``g(z) = W₂ tanh(W₁ z + b₁) + b₂``, weights drawn from ``gen``."""

    def __init__(self, d: int, width: int, gen: torch.Generator, scale: float) -> None:
        super().__init__()
        self.w1 = nn.Parameter(_seeded_normal(gen, (width, d), scale, d, torch.float64))
        self.b1 = nn.Parameter(_seeded_normal(gen, (width,), scale, 1, torch.float64))
        self.w2 = nn.Parameter(_seeded_normal(gen, (d, width), scale, width, torch.float64))
        self.b2 = nn.Parameter(_seeded_normal(gen, (d,), scale, width, torch.float64))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ self.w1.T + self.b1) @ self.w2.T + self.b2


class FreeResNet(_Classifier):
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

    def __init__(self, n_features: int, n_classes: int, *, n_layers: int, **options: Unpack[ClassifierOptions]) -> None:
        check_int("n_layers", n_layers, 1)

        def build(gen: torch.Generator, d: int, width: int, seed: int, scale: float) -> None:
            size = check_positive("scale", scale)
            self.layers = nn.ModuleList(_FreeLayer(d, width, gen, size) for _ in range(n_layers))

        super().__init__(n_features, n_classes, dict(options), build)

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
        check_choice("mode", mode, ("resnet", "dopri5"))
        check_state("x", x)
        z = self.encoder(x)
        if mode == "dopri5":
            check_solver_args(mode, rtol, atol, None)
            jumps = torch.linspace(0.0, self.T, len(self.layers) + 1, dtype=torch.float64)[1:-1]
            options = {"jump_t": jumps}
            zs = solve(self.field, z, self._end_times(), method=mode, rtol=rtol, atol=atol, options=options)
            return self.decoder(zs[-1])
        for layer in self.layers:
            for _ in range(refine):
                z = z + layer(z) / refine
        return self.decoder(z)


# --------------------------------------------------------------------------- a plain feedforward network
class FeedforwardNet(nn.Module):
    """A feedforward network ``x_{n+1} = φ(W_n x_n [+ b_n])``, ``n = 0, …, depth − 1``, square ``W_n``.

    With ``bias=False`` and ``φ`` = ReLU or leaky ReLU every layer is positively homogeneous,
    so backprop conserves ``p · x`` exactly: ``∇_{x_0}L · x_0 = ∇ℓ(x_N) · x_N`` (claim N1).
    ``W_n`` has i.i.d. normal entries of variance ``scale²/d``.

    Shapes: ``x`` is ``(d,)`` or ``(batch, d)``; so is ``x_N``.

    Args:
        d: width of every layer ≥ 1; depth: number of layers ≥ 1.
        activation: one of :data:`~ctdepth_lib.fields.ACTIVATIONS`; negative_slope: of leaky ReLU.
        bias: add biases ``b_n`` (the control).
        seed: seed of the weights (the global RNG is untouched); scale: size of the weights (> 0).
    """

    def __init__(
        self,
        d: int,
        depth: int,
        *,
        activation: str = "leaky_relu",
        negative_slope: float = 0.2,
        bias: bool = False,
        seed: int = 0,
        scale: float = 1.4,
    ) -> None:
        super().__init__()
        size = check_positive("scale", scale)
        check_int("d", d, 1)
        check_int("depth", depth, 1)
        self._phi, self.activation = activation_fn(activation, negative_slope), activation
        gen = torch.Generator().manual_seed(int(seed))
        weights = [nn.Parameter(_seeded_normal(gen, (d, d), size, d, torch.float64)) for _ in range(depth)]
        biases = [nn.Parameter(_seeded_normal(gen, (d,), size, 1, torch.float64)) for _ in range(depth)]
        self.weights, self.biases = nn.ParameterList(weights), nn.ParameterList(biases)
        self.bias = bool(bias)

    def steps(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """The layer maps ``x ↦ φ(W_n x [+ b_n])``, ready for :func:`ctdepth_lib.layer_momenta`."""

        def layer(n: int) -> Callable[[torch.Tensor], torch.Tensor]:
            def step(x: torch.Tensor) -> torch.Tensor:
                z = x @ self.weights[n].mT
                return self._phi(z + self.biases[n] if self.bias else z)

            return step

        return [layer(n) for n in range(len(self.weights))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x_N`` for ``x`` of shape ``(d,)`` or ``(batch, d)``."""
        for step in self.steps():
            x = step(x)
        return x
