"""The foreign-numerics pass of `make test` really takes another rounding path.

`make test` validates every chapter a second time under MKL_CBWR=COMPATIBLE, OMP_NUM_THREADS=1
and ATEN_CPU_CAPABILITY=default. This test shows that those variables change float64 results
in their last digits on this machine — as another CPU would — so the second pass is not a rerun
of the first.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import torch
torch.manual_seed(0)
a = torch.randn(300, 300, dtype=torch.float64)
b = torch.randn(300, 300, dtype=torch.float64)
x = torch.randn(64, 300, dtype=torch.float64)
print(repr(float((a @ b).sum())), repr(float(torch.tanh(x @ a).sum())), torch.backends.cpu.get_cpu_capability())
"""
FOREIGN = {"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"}


def _probe(extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN} | extra
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_foreign_path_changes_last_digits() -> None:
    native, foreign = _probe({}), _probe(FOREIGN)
    assert foreign[2] == "DEFAULT"
    assert native[:2] != foreign[:2], "the foreign variables changed no float64 result on this machine"
    for a, b in zip(native[:2], foreign[:2]):
        assert abs(float(a) - float(b)) <= 1e-12 * abs(float(a))  # only the last digits
