"""The plotting helpers: one style, a colour and a dash per method, exact zeros on a log floor."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import types

import IPython
import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter

from ctdepth_lib import plotting


def test_every_method_has_a_colour_and_a_dash() -> None:
    assert set(plotting.DASHES) == set(plotting.COLORS)


def test_style_is_150_dpi() -> None:
    plotting.use_style()
    assert matplotlib.rcParams["figure.dpi"] >= 150 and matplotlib.rcParams["savefig.dpi"] >= 150


class _Shown:
    """An object IPython shows as an image and as text."""


def _shell() -> types.SimpleNamespace:
    fmt = DisplayFormatter()
    fmt.formatters["image/png"].for_type(_Shown, lambda obj: b"png")
    return types.SimpleNamespace(display_formatter=fmt)


def test_no_figures_shows_images_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = _shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setenv(plotting.NO_FIGURES_VAR, "0")
    plotting.use_style()
    assert "image/png" in shell.display_formatter.format(_Shown())[0]
    monkeypatch.setenv(plotting.NO_FIGURES_VAR, "1")
    plotting.use_style()
    data, _ = shell.display_formatter.format(_Shown())
    assert "image/png" not in data and "text/plain" in data


def test_figures_as_text_outside_ipython_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    plotting.figures_as_text()


def test_log_floor_moves_only_exact_zeros() -> None:
    fig, ax = plt.subplots()
    out = plotting.log_floor(ax, [0.0, 1e-3, 2e-5])
    np.testing.assert_allclose(out, [2e-6, 1e-3, 2e-5], rtol=1e-15)
    assert len(ax.lines) == 1 and ax.lines[0].get_ydata()[0] == pytest.approx(2e-6)
    out2 = plotting.log_floor(ax, [1.0, 2.0])
    np.testing.assert_array_equal(out2, [1.0, 2.0])
    assert len(ax.lines) == 1  # no zeros, no floor line
    assert plotting.log_floor(ax, [0.0, 0.0], floor=1e-18).tolist() == [1e-18, 1e-18]
    plt.close(fig)


@pytest.mark.parametrize(
    ("values", "kw", "match"),
    [
        ([-1.0], {}, "values must be finite and >= 0"),
        ([[1.0]], {}, "one-dimensional"),
        ([1.0], {"floor": 0.0}, "floor must be > 0"),
    ],
)
def test_log_floor_rejects_bad_input(values: list, kw: dict, match: str) -> None:
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        plotting.log_floor(ax, values, **kw)
    plt.close(fig)


def test_legend_outside_is_right_of_the_axes() -> None:
    fig, ax = plt.subplots()
    ax.plot([1, 2], label="a")
    plotting.legend_outside(ax)
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1
    plt.close(fig)


def test_reference_slope_line_style_and_legend_above() -> None:
    fig, ax = plt.subplots()
    hs, errs = [0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4]
    plotting.reference_slope(ax, hs, errs, 2)
    plotting.reference_slope(ax, hs, errs, 1, ls="-.")
    assert [line.get_linestyle() for line in ax.lines] == ["--", "-."]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), errs)  # through the middle point, slope 2
    legend = plotting.legend_above(ax, ncol=2)
    assert legend.get_texts()[0].get_text() == "slope 2"
    plt.close(fig)
