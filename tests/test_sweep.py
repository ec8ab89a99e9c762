"""ctdepth_lib.sweep: the old import path of the sweep, kept for readers' notebooks, deprecated."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import ctdepth_lib.book.sweep as new

ROOT = Path(__file__).resolve().parent.parent


def test_the_old_path_is_the_new_sweep_with_a_warning() -> None:
    import ctdepth_lib.sweep as old

    assert old.__all__ == new.__all__ and dir(old) == sorted(new.__all__)
    for name in old.__all__:
        with pytest.warns(DeprecationWarning, match=f"import {name} from ctdepth_lib.book.sweep") as caught:
            value = getattr(old, name)
        assert value is getattr(new, name), name
        assert [w.filename for w in caught] == [__file__]  # the caller's line, not the module's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no_such_name"):
            old.no_such_name  # noqa: B018


def test_from_import_warns_at_the_importing_line() -> None:
    with pytest.warns(DeprecationWarning, match="import load_results from ctdepth_lib.book.sweep") as caught:
        from ctdepth_lib.sweep import load_results
    assert load_results is new.load_results
    assert caught[0].filename == __file__


def test_a_script_shows_the_warning_under_the_default_filters() -> None:
    # as in a reader's notebook or script: Python's default filters show it for code run as __main__
    code = "from ctdepth_lib.sweep import load_results"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "DeprecationWarning: ctdepth_lib.sweep is deprecated: import load_results from ctdepth_lib.book.sweep" in (
        res.stderr
    )
