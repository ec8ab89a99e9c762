"""Build the book as `make test` checks it: `-W -n --keep-going`, into `_build/check`.

The book renders the committed outputs (execution is off in `_config.yml`), which `make test`
has just compared, with nbval, against fresh executions on three numerics paths; this build
starts from an empty folder and never touches `_build/html`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "check"
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    cmd = [JUPYTER_BOOK, "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(OUT)]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
