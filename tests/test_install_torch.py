"""tools/install_torch.py: on a machine where no CPU build of torch can be had, set-up stops with
one clear message — no resolver dump, no traceback, no download from the default index."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_unreachable_cpu_index_gives_one_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {
        "PIP_CONFIG_FILE": os.devnull,  # a stock machine: no local wheel folder, no extra index
        "CTDEPTH_TORCH_INDEX": "http://127.0.0.1:9/simple",  # nothing listens there: refused at once
        "TORCH_WHEEL": "",
    }
    cmd = [sys.executable, str(ROOT / "tools" / "install_torch.py"), "--force", "--dry-run"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert res.returncode == 1
    assert "ctdepth set-up stopped: could not install the CPU build of torch 2.13.0" in res.stderr
    assert "make TORCH_WHEEL=" in res.stderr and "127.0.0.1:9" in res.stderr
    assert "Traceback" not in res.stderr and "ResolutionImpossible" not in res.stderr
    assert len(res.stderr.splitlines()) <= 12


def test_installed_cpu_build_is_kept() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "install_torch.py")], capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == ""
