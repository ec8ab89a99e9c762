"""ctdepth_lib.sweep: the old import path of the sweep, kept for readers' notebooks."""

from __future__ import annotations

import ctdepth_lib.book.sweep as new
import ctdepth_lib.sweep as old


def test_the_old_path_is_the_new_sweep() -> None:
    assert old.__all__ == new.__all__
    for name in old.__all__:
        assert getattr(old, name) is getattr(new, name), name
