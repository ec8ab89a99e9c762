"""Every chapter stops in its validation cell — the cell right after the parameters —
with a message naming the parameter, when papermill passes it a bad value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import papermill as pm
import pytest
from chapter_runs import CHAPTERS, ROOT, quick, run


def _previous_code_cell(cells: list[dict[str, Any]], index: int) -> dict[str, Any]:
    for cell in reversed(cells[:index]):
        if cell["cell_type"] == "code":
            return cell
    raise AssertionError("the failing cell is the first code cell")


BAD = [(nb, "SEED", "abc") for nb in CHAPTERS] + [(nb, "SEED", -3) for nb in CHAPTERS]
CH1 = ROOT / "chapters" / "01_resnet_euler.ipynb"
BAD += [(CH1, "N_MAX", 0), (CH1, "T", -1.0), (CH1, "N_MIN", 48)]


@pytest.mark.parametrize(("nb", "name", "value"), BAD, ids=[f"{p.stem}-{n}={v}" for p, n, v in BAD])
def test_bad_parameter_stops_in_validation_cell(nb: Path, name: str, value: Any, tmp_path: Path) -> None:
    out = tmp_path / nb.name
    with pytest.raises(pm.PapermillExecutionError) as err:
        run(nb, out, quick(nb) | {name: value})
    assert f"parameter {name} must" in str(err.value) or f"{name.lower()} must" in str(err.value)
    executed = json.loads(out.read_text(encoding="utf-8"))
    failed = [
        i for i, c in enumerate(executed["cells"]) if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert len(failed) == 1, f"expected one failing cell, got {failed}"
    # The failing cell must be the validation cell: the one right after the parameters,
    # i.e. right after the cell papermill injects ("injected-parameters").
    previous = _previous_code_cell(executed["cells"], failed[0])
    assert "injected-parameters" in previous["metadata"].get("tags", []), "the run did not stop in the validation cell"
