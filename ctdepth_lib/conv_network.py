"""A deep near-identity convolutional network on handwritten digits, and the ODE it discretises.

The talk's network (Ruseckas, arXiv:1909.03767, "Example II") is a plain feedforward network
whose weights and activation are close to the identity::

    x_{l+1} = σ(W_l x_l + B_l),   W_l = I + Δt w_l,   B_l = Δt b_l,   σ(z) = z + Δt g(z),   Δt = T/L,

the Lie–Trotter splitting step of ``dx/dt = w(t) x + b(t) + g(x)`` (one Euler substep of the
affine part, then one of ``g``; :mod:`ctdepth_lib.feedforward` holds the dense version).  Here
the state ``x_l`` is a stack of ``C`` channels over the ``H×W`` image, ``w_l`` is a 3×3
convolution ``C → C`` with zero padding, ``b_l`` a per-channel bias, and ``g`` elementwise:
the talk's example ``g(z) = −γ z³`` (``"cubic"``) or the book's weak leaky ReLU
``g(z) = γ relu(−z)`` (``"leaky"``, negative slope ``1 − Δtγ``).

:class:`NearIdentityConvNet`:

* **lift** — the image goes into channel 0, the other channels start at zero (no learned lift:
  every change of the state is made by the near-identity layers);
* **layers** — ``L`` layers (20 in the talk), each with its own kernel ``w_l`` and bias ``b_l``;
  the ODE's ``w(t)``, ``b(t)`` hold layer ``l``'s values on ``[lΔt, (l+1)Δt)`` (piecewise
  constant), so the same field can be run at any depth (``substeps`` sub-layers per layer,
  :meth:`~NearIdentityConvNet.states`) or integrated with RK4 (:meth:`~NearIdentityConvNet.ode_final_state`);
* **read-out** — linear, one map per class: ``logit_k = Σ_ij R_k[i, j] x_L[k, i, j] + c_k``.
  The final layer's channel ``k`` answers for digit ``k`` (its logit depends on channel ``k``
  only, through a learned template ``R_k``); :meth:`~NearIdentityConvNet.evidence` returns the
  maps ``R_k ⊙ x_L[k]`` whose sums are the logits.  A plain pixel mean (``R_k`` constant)
  trains far too slowly at the book's budget: 17–32 % test accuracy after two epochs of 2,000
  digits against 88 % with templates (measured, 10 channels, cubic and leaky ``g``).

Shapes: images ``u: (batch, H, W)`` or flattened ``(batch, H·W)`` (as :func:`ctdepth_lib.train`
passes them); states ``(batch, C, H, W)``; logits ``(batch, n_classes)``.  The parameters are
float32 by default (the convolutions run 5–10× faster than in float64 on the CPU, measured);
a float64 copy, ``copy.deepcopy(model).double()``, computes the same function (the per-layer
changes and distances to the ODE of a trained network agreed to about 1e-7 relative, measured).
Inputs are cast to the model's dtype.

References: J. Ruseckas, *Differential equations as models of deep neural networks*,
arXiv:1909.03767 (2019); Duan, Li, Ji & Cai, *Vanilla feedforward neural networks as a
discretization of dynamical systems*, arXiv:2209.10909 (2022); Y. LeCun, C. Cortes, C. J. C.
Burges, *The MNIST database of handwritten digits* (the data, :func:`ctdepth_lib.data.mnist_digits`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from ._validate import check_choice, check_float_dtype, check_int, check_positive
from .data import mnist_digits

__all__ = ["NONLINEARITIES", "NearIdentityConvNet", "digit_split", "relative_layer_changes"]


class _CubicStep(torch.autograd.Function):
    """``σ(z) = z − a z³`` elementwise, as one autograd node: ``σ′(z) = 1 − 3a z²``.

    Autograd through ``addcmul(z, z·z, z)`` records two nodes and spends about eight elementwise
    passes over the state on the way back; this spends two (``1 − 3a z²``, then the product with
    the incoming gradient).  Checked against autograd of the plain formula and finite differences
    in ``tests/test_conv_network.py``.  Shapes: any; ``a`` a float.
    """

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, a: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.a = a
        return torch.addcmul(z, z * z, z, value=-a)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (z,) = ctx.saved_tensors
        return grad * torch.addcmul(torch.ones((), dtype=z.dtype), z, z, value=-3.0 * ctx.a), None


#: The elementwise nonlinearities ``g`` of :class:`NearIdentityConvNet`:
#: ``"cubic"``: ``g(z) = −γ z³`` (the talk's example); ``"leaky"``: ``g(z) = γ relu(−z)``.
NONLINEARITIES = ("cubic", "leaky")


def _check_images(name: str, u: Any, size: int) -> torch.Tensor:
    """Images ``(batch, size, size)`` or ``(batch, size²)``: a finite float tensor with ``batch ≥ 1``."""
    if not isinstance(u, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images; got {type(u).__name__}")
    if not u.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype (float32/float64); got dtype {u.dtype}")
    shapes = f"(batch, {size}, {size}) or (batch, {size * size})"
    if (
        not ((u.ndim == 3 and tuple(u.shape[1:]) == (size, size)) or (u.ndim == 2 and u.shape[1] == size * size))
        or u.shape[0] == 0
    ):
        raise ValueError(f"{name} must have shape {shapes} with batch >= 1; got shape {tuple(u.shape)}")
    if not bool(torch.isfinite(u).all()):
        raise ValueError(f"{name} must contain only finite pixel values; got NaN or inf")
    return u


class NearIdentityConvNet(nn.Module):
    """The talk's 20-layer near-identity convolutional network ``x_{l+1} = σ(W_l x_l + B_l)`` on digits.

    With ``Δt = T/L`` and ``conv_l`` the 3×3 convolution (zero padding, ``C → C`` channels) of
    kernel ``w_l``::

        z_l     = x_l + Δt (conv_l(x_l) + b_l)        # W_l x_l + B_l, W_l = I + Δt w_l
        x_{l+1} = z_l + Δt g(z_l)                     # σ(z) = z + Δt g(z)

    the splitting step of ``dx/dt = conv_{w(t)}(x) + b(t) + g(x)`` with ``w(t) = w_l``,
    ``b(t) = b_l`` on ``[lΔt, (l+1)Δt)``.  ``x_0`` holds the image in channel 0 and zeros
    elsewhere; ``logit_k = Σ_ij R_k[i, j] x_L[k, i, j] + c_k`` for ``k < n_classes``.

    Args:
        channels: ``C`` (>= ``n_classes``; channels ``n_classes…C−1`` are hidden).
        n_layers: ``L`` (the talk: 20).
        T: the depth horizon (> 0); the step is ``Δt = T/L``.
        nonlinearity: ``"cubic"`` (``g = −γz³``) or ``"leaky"`` (``g = γ relu(−z)``).
        gamma: ``γ`` (>= 0).  With ``"cubic"`` a step overshoots when ``|z| > √(2/(Δtγ))``.
        image_size: ``H = W`` (28 for MNIST).
        n_classes: number of classes (>= 1).
        init_scale: the kernels start as ``init_scale · N(0, 1/(9C))`` entries (>= 0); biases,
            templates and ``c`` start at zero.
        seed: seed of the initial kernels (a ``torch.Generator`` of its own).
        dtype: floating dtype of the parameters (float32 by default, for speed).

    Shapes: ``forward(u)`` with ``u: (batch, H, W)`` or ``(batch, H·W)`` returns ``(batch, n_classes)``.
    """

    def __init__(
        self,
        *,
        channels: int = 10,
        n_layers: int = 20,
        T: float = 1.0,
        nonlinearity: str = "cubic",
        gamma: float = 1.0,
        image_size: int = 28,
        n_classes: int = 10,
        init_scale: float = 1.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        check_int("n_classes", n_classes, 1)
        check_int("channels", channels, n_classes)
        check_int("n_layers", n_layers, 1)
        check_positive("T", T)
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
            raise TypeError(f"gamma must be a real number >= 0; got {gamma!r}")
        if not (math.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma must be a finite number >= 0; got {gamma!r}")
        check_int("image_size", image_size, 1)
        if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)):
            raise TypeError(f"init_scale must be a real number >= 0; got {init_scale!r}")
        if not (math.isfinite(init_scale) and init_scale >= 0):
            raise ValueError(f"init_scale must be a finite number >= 0; got {init_scale!r}")
        check_int("seed", seed, 0)
        check_float_dtype("dtype", dtype)
        self.channels, self.n_layers, self.T = channels, n_layers, float(T)
        self.nonlinearity, self.gamma = nonlinearity, float(gamma)
        self.image_size, self.n_classes = image_size, n_classes
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(n_layers, channels, channels, 3, 3, generator=gen, dtype=torch.float64)
        self.w = nn.Parameter((w * (init_scale / math.sqrt(9 * channels))).to(dtype))
        self.b = nn.Parameter(torch.zeros(n_layers, channels, dtype=dtype))
        self.R = nn.Parameter(torch.zeros(n_classes, image_size, image_size, dtype=dtype))
        self.c = nn.Parameter(torch.zeros(n_classes, dtype=dtype))

    # ------------------------------------------------------------------ unchecked cores
    @property
    def dt(self) -> float:
        """The layer step ``Δt = T/L``."""
        return self.T / self.n_layers

    def _g(self, z: torch.Tensor) -> torch.Tensor:
        if self.nonlinearity == "cubic":
            return -self.gamma * z * z * z
        return self.gamma * F.relu(-z)

    def _lift(self, u: torch.Tensor) -> torch.Tensor:
        dtype = self.w.dtype
        img = u.to(dtype).reshape(u.shape[0], 1, self.image_size, self.image_size)
        # channels-last memory: the 3×3 convolutions run about 30 % faster on the CPU (measured)
        return F.pad(img, (0, 0, 0, 0, 0, self.channels - 1)).contiguous(memory_format=torch.channels_last)

    def _identity_kernel(self) -> torch.Tensor:
        eye = torch.zeros(self.channels, self.channels, 3, 3, dtype=self.w.dtype)
        eye[range(self.channels), range(self.channels), 1, 1] = 1.0
        return eye

    def _affine(self, layer: int, x: torch.Tensor, h: float, eye: torch.Tensor) -> torch.Tensor:
        """``x + h (conv_l(x) + b_l)`` as one convolution (the identity is the kernel's centre tap)."""
        return F.conv2d(x, eye + h * self.w[layer], h * self.b[layer], padding=1)

    def _step(self, layer: int, x: torch.Tensor, h: float, eye: torch.Tensor) -> torch.Tensor:
        z = self._affine(layer, x, h, eye)
        if self.nonlinearity == "cubic":
            return _CubicStep.apply(z, h * self.gamma)  # z − hγ z³, one autograd node
        return z + (h * self.gamma) * F.relu(-z)

    def _field(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.w[layer], self.b[layer], padding=1) + self._g(x)

    def _run(self, x: torch.Tensor, substeps: int, keep: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        eye, h = self._identity_kernel(), self.dt / substeps
        kept = [x] if keep else []
        for layer in range(self.n_layers):
            for _ in range(substeps):
                x = self._step(layer, x, h, eye)
                if keep:
                    kept.append(x)
        return x, kept

    def _readout(self, x_final: torch.Tensor) -> torch.Tensor:
        return (x_final[:, : self.n_classes] * self.R).sum(dim=(2, 3)) + self.c

    def _rk4(self, x: torch.Tensor, substeps: int) -> torch.Tensor:
        h = self.dt / substeps
        for layer in range(self.n_layers):
            for _ in range(substeps):
                k1 = self._field(layer, x)
                k2 = self._field(layer, x + (h / 2) * k1)
                k3 = self._field(layer, x + (h / 2) * k2)
                k4 = self._field(layer, x + h * k3)
                x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    # ------------------------------------------------------------------ checked faces
    def _checked(self, u: Any, substeps: Any = 1) -> torch.Tensor:
        check_int("substeps", substeps, 1)
        return _check_images("u", u, self.image_size)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """The logits ``(batch, n_classes)`` of images ``u: (batch, H, W)`` or ``(batch, H·W)``."""
        _check_images("u", u, self.image_size)
        x_final, _ = self._run(self._lift(u), 1, keep=False)
        return self._readout(x_final)

    def predict_logits(self, u: torch.Tensor, *, batch_size: int = 250) -> torch.Tensor:
        """The logits ``(batch, n_classes)`` without gradients, ``batch_size`` images at a time.

        The same numbers as :meth:`forward`; chunks of a few hundred images keep the states in
        the CPU cache (2,000 digits at once run about twice as slowly per digit, measured).
        """
        u = self._checked(u)
        check_int("batch_size", batch_size, 1)
        with torch.no_grad():
            return torch.cat(
                [
                    self._readout(self._run(self._lift(u[i : i + batch_size]), 1, keep=False)[0])
                    for i in range(0, u.shape[0], batch_size)
                ]
            )

    def lift(self, u: torch.Tensor) -> torch.Tensor:
        """``x_0: (batch, C, H, W)``: the image in channel 0, zeros in the others."""
        return self._lift(self._checked(u))

    def states(self, u: torch.Tensor, *, substeps: int = 1) -> torch.Tensor:
        """Every layer's state ``x_0 … x_{L·m}`` of the network run with ``m = substeps`` sub-layers per layer.

        ``substeps = m`` runs the same field at depth ``L·m`` and fixed ``T`` (step ``Δt/m``;
        layer ``l``'s kernel on each of its ``m`` sub-layers); ``states[m·l]`` is the state at
        ``t = lΔt``.  ``m = 1`` is the trained network itself (the talk's "activations after each
        layer").  Memory: ``(L·m + 1)·batch·C·H·W`` numbers — use a few digits.

        Returns:
            ``(L·m + 1, batch, C, H, W)``.
        """
        u = self._checked(u, substeps)
        _, kept = self._run(self._lift(u), substeps, keep=True)
        return torch.stack(kept)

    def final_state(self, u: torch.Tensor, *, substeps: int = 1) -> torch.Tensor:
        """``x_{L·m}: (batch, C, H, W)``, the final state of the network run with ``m = substeps`` sub-layers per layer."""
        u = self._checked(u, substeps)
        return self._run(self._lift(u), substeps, keep=False)[0]

    def ode_final_state(self, u: torch.Tensor, *, substeps: int = 4) -> torch.Tensor:
        """``x(T): (batch, C, H, W)`` of the ODE ``dx/dt = conv_{w(t)}(x) + b(t) + g(x)``, ``x(0) = x_0``, by RK4.

        Classical Runge–Kutta with ``substeps`` steps of ``Δt/substeps`` inside each layer's interval
        (where ``w(t)``, ``b(t)`` are constant), so for the smooth cubic ``g`` the error is
        ``O((Δt/substeps)⁴)`` — far below the network's own ``O(Δt)`` distance from the ODE.  The
        leaky ``g`` has a kink at ``z = 0``, where RK4 loses its order (the error still falls with
        the step, roughly like its square).  For the trained 20-layer digit networks one step per
        layer already puts the solver error below 1e-3 of the network's distance (measured; 1 vs 4
        substeps).

        Returns:
            ``(batch, C, H, W)``.
        """
        u = self._checked(u, substeps)
        return self._rk4(self._lift(u), substeps)

    def layer_changes(self, u: torch.Tensor, *, substeps: int = 1) -> torch.Tensor:
        """The relative change of every (sub-)layer, ``‖x_{j+1} − x_j‖ / ‖x_j‖`` per image, without storing the states.

        Norms are Euclidean over all ``C·H·W`` entries of one image.  For the near-identity network
        ``x_{j+1} − x_j = h f(t_j, x_j) + O(h²)`` with ``h = Δt/substeps``, so the changes shrink
        like ``1/substeps`` (O(Δt)) while the trajectory stays the same.

        Returns:
            ``(L·substeps, batch)``.
        """
        u = self._checked(u, substeps)
        x = self._lift(u)
        eye, h = self._identity_kernel(), self.dt / substeps
        out = []
        for layer in range(self.n_layers):
            for _ in range(substeps):
                x_next = self._step(layer, x, h, eye)
                out.append(_relative(x_next - x, x))
                x = x_next
        return torch.stack(out)

    def evidence(self, u: torch.Tensor) -> torch.Tensor:
        """The final layer's class maps ``R_k ⊙ x_L[k]``, ``(batch, n_classes, H, W)``; ``logits = evidence.sum((2, 3)) + c``."""
        u = self._checked(u)
        x_final, _ = self._run(self._lift(u), 1, keep=False)
        return x_final[:, : self.n_classes] * self.R

    def field(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """``f_l(x) = conv_l(x) + b_l + g(x)``, the ODE's field on layer ``l``'s interval; ``x: (batch, C, H, W)``."""
        check_int("layer", layer, 0)
        if layer >= self.n_layers:
            raise ValueError(f"layer must be an integer in [0, {self.n_layers - 1}]; got {layer}")
        _check_state(x, self)
        return self._field(layer, x.to(self.w.dtype))

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, n_layers={self.n_layers}, T={self.T:g}, nonlinearity={self.nonlinearity!r}, "
            f"gamma={self.gamma:g}, image_size={self.image_size}, n_classes={self.n_classes}, dtype={self.w.dtype}"
        )


def _check_state(x: Any, model: NearIdentityConvNet) -> None:
    shape = (model.channels, model.image_size, model.image_size)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of states; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must have a floating-point dtype; got dtype {x.dtype}")
    if x.ndim != 4 or tuple(x.shape[1:]) != shape or x.shape[0] == 0:
        raise ValueError(
            f"x must have shape (batch, {', '.join(map(str, shape))}) with batch >= 1; got {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must contain only finite values; got NaN or inf")


def _relative(diff: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return diff.flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)


def relative_layer_changes(states: torch.Tensor) -> torch.Tensor:
    """``‖x_{j+1} − x_j‖ / ‖x_j‖`` per image for stored states ``(n_states, batch, ...)`` → ``(n_states − 1, batch)``.

    Norms are Euclidean over all entries of one image's state (e.g. ``C·H·W``).  The same numbers
    as :meth:`NearIdentityConvNet.layer_changes`, from the output of :meth:`NearIdentityConvNet.states`.
    """
    if not isinstance(states, torch.Tensor):
        raise TypeError(f"states must be a torch.Tensor (n_states, batch, ...); got {type(states).__name__}")
    if not states.is_floating_point():
        raise TypeError(f"states must have a floating-point dtype; got dtype {states.dtype}")
    if states.ndim < 3 or states.shape[0] < 2 or states.shape[1] == 0:
        raise ValueError(f"states must have shape (n_states >= 2, batch >= 1, ...); got {tuple(states.shape)}")
    if not bool(torch.isfinite(states).all()):
        raise ValueError("states must contain only finite values; got NaN or inf")
    norms = states.flatten(2).norm(dim=2)
    if not bool((norms[:-1] > 0).all()):
        raise ValueError("states must be non-zero (the relative change divides by ‖x_j‖); got a zero state")
    return (states[1:] - states[:-1]).flatten(2).norm(dim=2) / norms[:-1]


def digit_split(
    n_train: int, n_test: int, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Disjoint training and test digits drawn from :func:`~ctdepth_lib.data.mnist_digits`, stratified by class.

    ``n_test`` digits are held out first (``train_test_split``, ``random_state=seed``), then
    ``n_train`` are drawn from the rest (``random_state=seed + 1``); both keep the class shares.
    Pixels stay in ``[0, 1]`` (no standardisation: the image is the network's initial state).

    Args:
        n_train: training digits, in ``[10, 10000 − n_test]``.
        n_test: test digits, in ``[10, 9990]``.
        seed: seed of the draw (>= 0).
        dtype: floating dtype of the images.

    Returns:
        ``(x_train (n_train, 784), y_train (n_train,), x_test (n_test, 784), y_test (n_test,))``,
        images flattened row by row (as :func:`ctdepth_lib.train` takes them), labels int64.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer; got {value!r}")
    if not 10 <= n_test <= 9990:
        raise ValueError(f"n_test must be an integer in [10, 9990]; got {n_test}")
    if not 10 <= n_train <= 10000 - n_test:
        raise ValueError(
            f"n_train must be an integer in [10, {10000 - n_test}] (10,000 digits, {n_test} held out); got {n_train}"
        )
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed}")
    check_float_dtype("dtype", dtype)
    return _digit_split(n_train, n_test, seed, dtype)


def _digit_split(
    n_train: int, n_test: int, seed: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    images, labels = mnist_digits(dtype=dtype)
    index = torch.arange(labels.shape[0]).numpy()
    rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=labels.numpy())
    if n_train < rest.shape[0]:
        train, _ = train_test_split(rest, train_size=n_train, random_state=seed + 1, stratify=labels.numpy()[rest])
    else:
        train = rest
    flat = images.reshape(images.shape[0], -1)
    tr, te = torch.as_tensor(train), torch.as_tensor(test)
    return flat[tr], labels[tr], flat[te], labels[te]
