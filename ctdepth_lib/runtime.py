"""Run-time set-up shared by every chapter: float64, fixed seeds, one thread, the book's style."""

from __future__ import annotations

import random

import numpy as np
import torch

from .plotting import use_style

__all__ = ["setup"]


def setup(seed: int, *, threads: int = 1) -> torch.Generator:
    """Prepare a chapter run and return a ``torch.Generator`` seeded with ``seed``.

    Sets torch's default dtype to float64 (every claim is measured in float64),
    seeds ``random``, NumPy and torch, fixes the number of intra-op threads (so
    reductions, and hence the stored outputs nbval compares, are the same on
    every run) and applies the plotting style.

    Args:
        seed: integer seed in ``[0, 2**31 − 1]``.
        threads: torch intra-op threads (≥ 1).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2**31 - 1]; got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1; got {threads!r}")
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - also seed legacy global users (e.g. scikit-learn defaults)
    torch.manual_seed(seed)
    use_style()
    return torch.Generator().manual_seed(seed)
