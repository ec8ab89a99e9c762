"""The package's data files (internal): the registries shipped beside the library, read as YAML."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = ["read_yaml"]


def read_yaml(filename: str, path: str | Path | None = None) -> Any:
    """``filename`` shipped inside ``ctdepth_lib`` (``claims.yaml``, ``parameters.yaml``), or the file
    ``path`` instead, parsed with ``yaml.safe_load``."""
    if path is None:
        return yaml.safe_load(resources.files("ctdepth_lib").joinpath(filename).read_text(encoding="utf-8"))
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
