"""Shared by the chapter tests: the chapters of the table of contents.

Runs of the chapters with other seeds are not repeated here: the committed seed sweep
(`data/sweep/`, 50 quick and 10 full runs of every chapter) covers them, and
`tests/test_sweep_committed.py` fails as soon as a chapter, the registry or the science
modules change without the sweep being refreshed.
"""

from __future__ import annotations

from pathlib import Path

from ctdepth_lib.book import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = toc_notebooks(ROOT)
