"""``import ctdepth_lib`` is instant and lazy (PEP 562, ``lazy_loader``): every public name, listed once in
``__init__.pyi``, and every submodule loads on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ctdepth_lib


def test_import_loads_nothing_heavy() -> None:
    code = "import sys, ctdepth_lib; print(sorted(m for m in ('torch', 'numpy', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_to_a_public_name_of_its_module() -> None:
    import importlib
    import inspect

    assert len(ctdepth_lib.__all__) >= 90 and len(set(ctdepth_lib.__all__)) == len(ctdepth_lib.__all__)
    for name in ctdepth_lib.__all__:
        value = getattr(ctdepth_lib, name)
        assert value is not None, name
        if inspect.ismodule(value):
            continue
        home = getattr(value, "__module__", None)
        if home and home.startswith("ctdepth_lib.") and callable(value):
            module = importlib.import_module(home)
            assert name in getattr(module, "__all__", ()), f"{name} is not in {home}.__all__"
    assert set(ctdepth_lib.__all__) <= set(dir(ctdepth_lib))


def test_the_stub_is_the_one_list() -> None:
    from pathlib import Path

    stub = (Path(ctdepth_lib.__file__).parent / "__init__.pyi").read_text(encoding="utf-8")
    for name in ctdepth_lib.__all__:
        assert f"{name} as {name}" in stub, name  # the "as" form: re-exported for type checkers too


def test_submodules_load_as_attributes() -> None:
    assert ctdepth_lib.bench.cost.__name__ == "ctdepth_lib.bench.cost"
    assert ctdepth_lib.momenta.hamiltonian is ctdepth_lib.hamiltonian


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'resnet_unrol'"):
        _ = ctdepth_lib.resnet_unrol
