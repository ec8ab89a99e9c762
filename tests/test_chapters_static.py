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
from ctdepth_lib.book.notebooks import chapter_parameters, quick_parameters


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
    stamped = [i for i, c in enumerate(_cells(nb)) if "execution" in c.get("metadata", {})]
    assert not stamped, f"cells {stamped[:5]} carry execution timestamps: run `python -m ctdepth_lib strip {nb}`"


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_parameters_declared(nb: Path) -> None:
    params = {p.name for p in chapter_parameters(nb)}
    assert "SEED" in params
    assert set(quick_parameters(nb)) <= params


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_cell_after_the_parameters_validates_them_all(nb: Path) -> None:
    """``start_chapter(docname, globals())`` validates every registered parameter of the chapter
    (``tests/test_runtime.py``), before it runs anything else; the bad-parameter tests rely on it."""
    code = [c for c in _cells(nb) if c["cell_type"] == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in c.get("metadata", {}).get("tags", []))
    call = f'PARAMS, gen = cl.start_chapter("chapters/{nb.stem}", globals())'
    assert call in _src(code[first + 1]).splitlines(), f"the cell after the parameters must run {call}"


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
    # "Claim 1b (paper) — …" or, for a box of one idea with several claims, "Claims L2, L2-volume (correction) — …":
    # the source named is the first id's
    boxes = [
        (m.group(1).split(",")[0].strip(), m.group(2))
        for c in _cells(nb)
        if c["cell_type"] == "markdown"
        for m in re.finditer(r"admonition\}\s*Claims? ([\w.-]+(?:,\s*[\w.-]+)*) \(([^)]*)\)", _src(c))
    ]
    assert boxes, "a chapter states its claims in admonition boxes"
    for cid, text in boxes:
        assert cid in reg, f"box for unregistered claim {cid}"
        assert reg[cid].source in text, f"claim {cid}: box says ({text}), registry says {reg[cid].source}"


_IGNORE = "# NBVAL_IGNORE_OUTPUT"
_COMPARED_TEXT = ("text/plain", "text/markdown", "text/html")


def _compared_texts(cell: dict[str, Any]) -> list[tuple[str, str]]:
    """The text outputs of a cell that nbval compares (streams and text mime types, not glue records)."""
    texts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            texts.append(("stream", "".join(out["text"]) if isinstance(out["text"], list) else out["text"]))
        for key, value in (out.get("data") or {}).items():
            if key in _COMPARED_TEXT:
                texts.append((key, "".join(value) if isinstance(value, list) else value))
    return texts


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_volatile_outputs(nb: Path) -> None:
    """Every output nbval compares is stable across machines (CONTRIBUTING.md, "Outputs that mean
    the same on every machine"); a cell that nbval does not compare says why on the next line."""
    from ctdepth_lib.outputs import volatile_numbers

    problems = []
    code = [c for c in _cells(nb) if c["cell_type"] == "code"]
    for k, cell in enumerate(code):
        lines = _src(cell).splitlines()
        if lines and lines[0].strip() == _IGNORE:
            if len(lines) < 2 or not lines[1].startswith("# not compared: "):
                problems.append(f"code cell {k}: {_IGNORE} without a '# not compared: <why>' line after it")
            continue
        for key, text in _compared_texts(cell):
            bad = volatile_numbers(text)
            if bad:
                problems.append(f"code cell {k} ({key}): digits that rounding changes between machines {bad[:4]}")
            if re.search(r"tensor\(|array\(|0x[0-9a-f]{6,}", text):
                problems.append(f"code cell {k} ({key}): a tensor/array repr or a memory address")
    assert not problems, f"{nb.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("nb", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_papermill_reads_every_parameter(nb: Path, caplog: pytest.LogCaptureFixture) -> None:
    # `papermill --help-notebook` and `papermill -p NAME VALUE` see exactly the parameters the
    # chapter declares: no line papermill cannot parse ("Unable to parse line …"), so no
    # "Passed unknown parameter" for a parameter the chapter has.
    import papermill

    with caplog.at_level("WARNING"):
        inferred = papermill.inspect_notebook(str(nb))
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]
    declared = {p.name: p for p in chapter_parameters(nb)}
    assert set(inferred) == set(declared)
    for name, v in inferred.items():
        assert v["inferred_type_name"] == declared[name].spec.kind.__name__, f"{name}: annotate its type"
        assert str(v["help"]).strip(), f"{name}: say what it is in a comment"
