"""``import ctdepth_lib`` is instant and lazy (PEP 562): every public name and submodule loads on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ctdepth_lib


def test_import_loads_nothing_heavy() -> None:
    code = "import sys, ctdepth_lib; print(sorted(m for m in ('torch', 'numpy', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    assert set(ctdepth_lib.__all__) == set(ctdepth_lib._LAZY)
    for name in ctdepth_lib.__all__:
        assert getattr(ctdepth_lib, name) is not None, name
    assert set(ctdepth_lib.__all__) <= set(dir(ctdepth_lib))


def test_submodules_load_as_attributes() -> None:
    assert ctdepth_lib.bench.cost.__name__ == "ctdepth_lib.bench.cost"
    assert ctdepth_lib.momenta.hamiltonian is ctdepth_lib.hamiltonian


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'resnet_unrol'"):
        _ = ctdepth_lib.resnet_unrol
