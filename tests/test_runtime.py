"""Tests of ctdepth_lib.runtime: setup and the one chapter preamble, start_chapter."""

from __future__ import annotations

import pytest
import torch

import ctdepth_lib as cl
from ctdepth_lib import Param

SPEC = {"SEED": Param(int, 0, 2**31 - 1), "N": Param(int, 8, 1024, power_of_two=True)}


def test_start_chapter_validates_sets_up_and_begins() -> None:
    params, gen = cl.start_chapter("chapters/01_resnet_euler", {"SEED": 3, "N": 64}, SPEC)
    assert params == {"SEED": 3, "N": 64}
    assert torch.get_default_dtype() == torch.float64
    assert torch.equal(torch.randn(3, generator=gen), torch.randn(3, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize(
    ("values", "exc", "match"),
    [
        ({"SEED": 0, "N": 48}, ValueError, "^parameter N must be a power of two; got 48$"),
        ({"SEED": 0, "N": 4}, ValueError, r"^parameter N must be int in \[8, 1024\], a power of two; got 4$"),
        ({"SEED": -1, "N": 64}, ValueError, "^parameter SEED must be"),
        ({"SEED": 0}, ValueError, r"have no value"),
    ],
)
def test_start_chapter_rejects_bad_parameters(values: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        cl.start_chapter("chapters/01_resnet_euler", values, SPEC)


def test_start_chapter_needs_a_seed_and_a_known_chapter() -> None:
    with pytest.raises(ValueError, match=r"^spec must define the parameter SEED"):
        cl.start_chapter("chapters/01_resnet_euler", {"N": 8}, {"N": SPEC["N"]})
    with pytest.raises(ValueError, match=r"^chapter must be a chapter of the registry"):
        cl.start_chapter("chapters/99_nope", {"SEED": 0, "N": 8}, SPEC)


def test_setup() -> None:
    gen = cl.setup(5)
    assert torch.get_default_dtype() == torch.float64
    assert torch.get_num_threads() == 1
    assert torch.equal(torch.randn(2, generator=gen), torch.randn(2, generator=torch.Generator().manual_seed(5)))
    with pytest.raises(ValueError, match="seed must be an integer"):
        cl.setup(-1)
    with pytest.raises(ValueError, match="threads must be an integer"):
        cl.setup(0, threads=0)
