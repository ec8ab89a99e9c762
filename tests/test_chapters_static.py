"""What a chapter must be before anything runs it: executed and committed cleanly, its
parameters declared, every figure captioned, and its claim boxes naming the source the
registry gives."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from chapter_runs import CHAPTERS

from ctdepth_lib import claims
from ctdepth_lib.notebooks import chapter_parameters, quick_parameters


def _cells(nb: Path) -> list[dict[str, Any]]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_committed_executed_and_clean(nb: Path) -> None:
    text = nb.read_text(encoding="utf-8")
    code = [c for c in _cells(nb) if c["cell_type"] == "code" and _src(c).strip()]
    assert all(c.get("execution_count") is not None for c in code), "commit the chapter executed"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert "Traceback (most recent call last)" not in text
    assert not re.search(r"(/tmp/|/root/|/work/|/home/)", text), "an absolute machine path is stored"


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_parameters_declared(nb: Path) -> None:
    params = {p.name for p in chapter_parameters(nb)}
    assert "SEED" in params
    assert set(quick_parameters(nb)) <= params


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_has_a_caption(nb: Path) -> None:
    for i, c in enumerate(_cells(nb)):
        if c["cell_type"] == "code" and any("image/png" in o.get("data", {}) for o in c.get("outputs", [])):
            fig = c["metadata"].get("mystnb", {}).get("figure", {})
            assert fig.get("caption", "").strip(), f"cell {i}: a figure without a caption"
            assert fig.get("name", "").startswith("fig-"), f"cell {i}: a figure without a name"


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_claim_boxes_name_the_registered_source(nb: Path) -> None:
    reg = claims.registry()
    boxes = [
        (m.group(1), m.group(2))
        for c in _cells(nb)
        if c["cell_type"] == "markdown"
        for m in re.finditer(r"admonition\}\s*Claim ([\w.-]+) \(([^)]*)\)", _src(c))
    ]
    assert boxes, "a chapter states its claims in admonition boxes"
    for cid, text in boxes:
        assert cid in reg, f"box for unregistered claim {cid}"
        assert reg[cid].source in text, f"claim {cid}: box says ({text}), registry says {reg[cid].source}"
