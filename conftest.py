"""Root conftest: keep every cell of one notebook on one xdist worker.

`make test` runs pytest with `--dist loadgroup`: ordinary tests spread over the
workers one by one, while nbval's items (the cells of one notebook, which share a
kernel) are put in one group per notebook.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::", 1)[0].endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(name=item.nodeid.split("::", 1)[0]))
