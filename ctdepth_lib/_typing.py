"""Type aliases shared by the science modules (internal).

``Field`` is a vector field ``f(t, x)``: ``t`` a 0-d tensor, ``x`` of shape
``(d,)`` or ``(batch, d)``, returning a tensor of ``x``'s shape.  ``Loss`` maps
the last state ``x_N`` to a scalar tensor (for a batch, the sum of per-sample
losses).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["Field", "Loss"]

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Loss = Callable[[torch.Tensor], torch.Tensor]
