"""Shared test set-up: float64 everywhere, one torch thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _float64() -> None:
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
