"""The repository URL is set in one place; buttons and launch links exist only when it is set."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ctdepth_lib.book.sphinx.pages import PLACEHOLDER_REPOSITORIES, _buttons_only_with_a_repository, repository_url

LAUNCH = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com"}


@pytest.mark.parametrize("url", ["", None, PLACEHOLDER_REPOSITORIES[0], PLACEHOLDER_REPOSITORIES[0] + "/"])
def test_no_repository_no_buttons(url: str | None) -> None:
    config = SimpleNamespace(html_theme_options={"repository_url": url, "launch_buttons": dict(LAUNCH)})
    assert repository_url(config) == ""
    _buttons_only_with_a_repository(None, config)  # type: ignore[arg-type]
    opts = config.html_theme_options
    assert "repository_url" not in opts
    assert not opts["use_repository_button"] and not opts["use_issues_button"]
    assert opts["launch_buttons"] == {}


def test_a_repository_gets_its_buttons_and_binder_but_never_colab() -> None:
    config = SimpleNamespace(
        html_theme_options={"repository_url": "https://github.com/o/r/", "launch_buttons": dict(LAUNCH)}
    )
    assert repository_url(config) == "https://github.com/o/r"
    _buttons_only_with_a_repository(None, config)  # type: ignore[arg-type]
    opts = config.html_theme_options
    assert opts["use_repository_button"] and opts["use_issues_button"]
    assert opts["launch_buttons"] == {"binderhub_url": "https://mybinder.org"}
