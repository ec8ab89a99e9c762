"""Run-time set-up shared by every chapter: float64, fixed seeds, one thread, the book's style.

:func:`start_chapter` is the one preamble every chapter runs after its papermill
``parameters`` cell: validate the parameters, :func:`setup`, and declare the run
to :mod:`ctdepth_lib.claims`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from . import claims
from ._validate import check_int
from .params import Param, chapter_spec, validate_parameters
from .plotting import use_style

__all__ = ["setup", "start_chapter"]


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
    check_int("seed", seed, 0, 2**31 - 1)
    check_int("threads", threads, 1)
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - also seed legacy global users (e.g. scikit-learn defaults)
    torch.manual_seed(seed)
    use_style()
    return torch.Generator().manual_seed(seed)


def start_chapter(
    docname: str, values: Mapping[str, Any], spec: Mapping[str, Param] | None = None
) -> tuple[dict[str, Any], torch.Generator]:
    """Validate a chapter's parameters, set the run up and declare it to the claims ledger.

    The preamble of every chapter, in the cell after its ``parameters`` cell::

        PARAMS, gen = cl.start_chapter("chapters/01_resnet_euler", globals())

    takes the chapter's registered parameters (``parameters.yaml``: names, ranges, relations) from
    ``values`` — the notebook's namespace, where papermill has set them —, validates them
    (:func:`~ctdepth_lib.params.validate_parameters`), then ``setup(SEED)`` and
    ``claims.begin(docname, seed=SEED, parameters=…)``.

    Args:
        docname: the chapter's docname, e.g. ``"chapters/01_resnet_euler"``.
        values: the notebook's namespace (``globals()``), or a mapping of the parameters.
        spec: an explicit spec instead of the registered one (then ``values`` holds exactly its
            names, as before parameters were registered); must define ``SEED``.

    Returns:
        ``(params, gen)``: the validated parameters and a ``torch.Generator`` seeded with ``SEED``.

    Raises:
        ValueError / TypeError: a parameter is missing, unknown or outside its spec, or a relation
            between parameters fails (naming the parameter).
    """
    if spec is None:
        registered = chapter_spec(docname)
        missing = [name for name in registered.parameters if name not in values]
        if missing:
            raise ValueError(f"parameters {missing} have no value (run the chapter's parameters cell first)")
        picked = {name: values[name] for name in registered.parameters}
        params = validate_parameters(picked, registered.parameters, registered.requires)
    else:
        if "SEED" not in spec:
            raise ValueError(f"spec must define the parameter SEED; got parameters {sorted(spec)}")
        params = validate_parameters(values, spec)
    gen = setup(params["SEED"])
    claims.begin(docname, seed=params["SEED"], parameters=params)
    return params, gen
