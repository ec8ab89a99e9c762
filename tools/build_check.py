"""Build the book as `make test` checks it: `-W -n --keep-going`, rendering the committed outputs.

`make test` has already proved, with nbval, that a fresh execution of every chapter
reproduces its committed outputs; this build renders those outputs without executing
the notebooks a second time (execution off), into `_build/check`, so the check is fast
and never touches `_build/html` or the execution cache of `make book`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "check"
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")


@contextlib.contextmanager
def rendering_config() -> Iterator[Path]:
    """The book's ``_config.yml`` with execution off (the committed outputs are rendered), as a temporary file.

    Also used by ``tools/make_pdf.py``, so both builds share one configuration (and Sphinx's cache).
    """
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "_config.yml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        yield cfg


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    with rendering_config() as cfg:
        cmd = [
            JUPYTER_BOOK,
            "build",
            str(ROOT),
            "-W",
            "-n",
            "--keep-going",
            "--config",
            str(cfg),
            "--path-output",
            str(OUT),
        ]
        print("+", " ".join(cmd), flush=True)
        return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
