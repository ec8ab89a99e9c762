"""The foreign-numerics passes of `make test` really take other rounding paths.

`make test` validates every chapter again down each path of the Makefile's `FOREIGN_PATHS`
(`python -m ctdepth_lib numerics PATH -- …`, the paths of `ctdepth_lib/book/audit.py`). This test
shows that each of them changes float64 results in their last digits on this machine — as another
CPU would — so a foreign pass is not a rerun of the native one, and that each path reads back the
ATen capability it asks for (or names the one ATen fell back to).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctdepth_lib.book.audit import NUMERICS_PATHS, path_environment

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import torch, numpy as np
torch.manual_seed(0)
a = torch.randn(300, 300, dtype=torch.float64)
b = torch.randn(300, 300, dtype=torch.float64)
x = torch.randn(64, 300, dtype=torch.float64)
u = np.linspace(0.1, 3.0, 100001)
print(repr(float((a @ b).sum())), repr(float(torch.tanh(x @ a).sum())), repr(float((np.outer(u[:300], u[:300]) @ np.outer(u[:300], u[:300])).sum())), torch.backends.cpu.get_cpu_capability())
"""


def _foreign_paths() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.search(r"^FOREIGN_PATHS := (.+)$", text, flags=re.M).group(1).split()  # type: ignore[union-attr]


def _probe(name: str) -> list[str]:
    env, _ = path_environment(name)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_makefile_names_known_paths() -> None:
    paths = _foreign_paths()
    assert len(paths) >= 2 and set(paths) <= set(NUMERICS_PATHS) - {"native", "again"}, paths


@pytest.mark.parametrize("name", _foreign_paths())
def test_foreign_path_changes_last_digits(name: str) -> None:
    native, foreign = _probe("native"), _probe(name)
    expected = NUMERICS_PATHS[name].aten
    _env, line = path_environment(name)
    assert foreign[3] == expected or "lacks" in line, (foreign[3], line)
    assert native[:3] != foreign[:3], f"path {name} changed no float64 result on this machine"
    for a, b in zip(native[:3], foreign[:3]):
        assert abs(float(a) - float(b)) <= 1e-12 * abs(float(a))  # only the last digits
