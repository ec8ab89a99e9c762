"""Every chapter stops in its validation cell — the cell right after the parameters — within
seconds, with a message naming the parameter, when papermill passes it a bad value: a
non-numeric seed, a negative seed, a depth or count of 0, a negative time, a value that breaks a
relation between parameters (the values come from each chapter's registered parameters,
ctdepth_lib/parameters.yaml, so new parameters and relations are covered automatically).

The validation cell is ``cl.start_chapter(docname, globals())``, which validates the namespace
by ``validate_parameters`` before anything else (``tests/test_runtime.py``; that the cell is this
call: ``tests/test_chapters_static.py``). So every bad value is checked against that validation
here, in-process, and one bad value per chapter — a different kind in each — goes through
papermill end to end: a kernel per run (about 5 s) for all of them would cost a minute of the suite.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import papermill as pm
import pytest
from chapter_runs import CHAPTERS

from ctdepth_lib.book.notebooks import chapter_parameters, invalid_value, notebook_spec, quick_parameters, run_chapter
from ctdepth_lib.params import ChapterSpec, Relation, validate_parameters

DEPTH_OR_TIME = re.compile(r"^(T|N_.*|.*_N|.*_N_MAX|.*DEPTH.*|.*LAYERS.*|STEPS|N)$")


def _breaking(spec: ChapterSpec, rel: Relation, base: dict[str, Any]) -> Any:
    """A value of ``rel.left`` inside its own range that breaks ``rel`` at the values ``base``."""
    p = spec.parameters[rel.left]
    candidates = [p.low, p.high] + [2**k for k in range(17)] + list(range(1, 65))
    for value in candidates:
        if value is None:
            continue
        try:
            p.check(rel.left, value)
            rel.check(base | {rel.left: value})
        except ValueError:
            try:
                p.check(rel.left, value)
            except (ValueError, TypeError):
                continue
            return value
    raise AssertionError(f"no value of {rel.left} in its range breaks {rel}")


def _cases() -> list[tuple[Path, str, Any]]:
    cases: list[tuple[Path, str, Any]] = []
    for nb in CHAPTERS:
        cases.append((nb, "SEED", "abc"))
        params = [p for p in chapter_parameters(nb) if p.name != "SEED"]
        cases += [(nb, p.name, invalid_value(p)) for p in params if p.name == "T" or p.spec.choices is not None]
        depths = [p for p in params if p.name != "T" and DEPTH_OR_TIME.match(p.name)]
        cases += [(nb, p.name, invalid_value(p)) for p in depths[:2]]  # two depths per chapter keep the run short
        spec = notebook_spec(nb)
        base = spec.defaults | spec.quick
        cases += [(nb, rel.left, _breaking(spec, rel, base)) for rel in spec.requires]
    cases.append((CHAPTERS[0], "SEED", -3))
    return cases


CASES = _cases()


def _end_to_end(cases: list[tuple[Path, str, Any]]) -> list[tuple[Path, str, Any]]:
    """One case per chapter, the ``k``-th chapter's ``k``-th case (cyclically): the kinds vary."""
    picked = []
    for k, nb in enumerate(CHAPTERS):
        mine = [c for c in cases if c[0] == nb]
        picked.append(mine[k % len(mine)])
    return picked


END_TO_END = _end_to_end(CASES)


def _previous_code_cell(cells: list[dict[str, Any]], index: int) -> dict[str, Any]:
    for cell in reversed(cells[:index]):
        if cell["cell_type"] == "code":
            return cell
    raise AssertionError("the failing cell is the first code cell")


def test_every_chapter_is_covered() -> None:
    assert {nb for nb, _, _ in CASES} == set(CHAPTERS)
    for nb in CHAPTERS:
        assert sum(c[0] == nb for c in CASES) >= 3, f"{nb.stem}: too few bad-parameter cases"


@pytest.mark.parametrize(("nb", "name", "value"), CASES, ids=[f"{p.stem}-{n}={v}" for p, n, v in CASES])
def test_bad_parameter_is_refused_by_the_validation(nb: Path, name: str, value: Any) -> None:
    """The namespace papermill leaves: the parameters cell's defaults, then the injected values."""
    spec = notebook_spec(nb)
    values = spec.defaults | quick_parameters(nb) | {name: value}
    with pytest.raises((ValueError, TypeError), match=f"parameter {name} must"):
        validate_parameters(values, spec.parameters, spec.requires)


def test_end_to_end_cases_cover_every_chapter_and_several_kinds() -> None:
    assert [nb for nb, _, _ in END_TO_END] == list(CHAPTERS)
    assert len({name for _, name, _ in END_TO_END}) >= 3, END_TO_END


@pytest.mark.parametrize(("nb", "name", "value"), END_TO_END, ids=[f"{p.stem}-{n}={v}" for p, n, v in END_TO_END])
def test_bad_parameter_stops_in_validation_cell(nb: Path, name: str, value: Any, tmp_path: Path) -> None:
    out = tmp_path / nb.name
    before = nb.read_bytes()
    start = time.monotonic()
    with pytest.raises(pm.PapermillExecutionError) as err:
        run_chapter(nb, out, quick_parameters(nb) | {name: value})
    elapsed = time.monotonic() - start
    assert nb.read_bytes() == before, "papermill must never write over the committed notebook"
    assert f"parameter {name} must" in str(err.value), str(err.value)[:500]
    executed = json.loads(out.read_text(encoding="utf-8"))
    failed = [
        i for i, c in enumerate(executed["cells"]) if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert len(failed) == 1, f"expected one failing cell, got {failed}"
    # The failing cell must be the validation cell: the one right after the parameters,
    # i.e. right after the cell papermill injects ("injected-parameters").
    previous = _previous_code_cell(executed["cells"], failed[0])
    assert "injected-parameters" in previous["metadata"].get("tags", []), "the run did not stop in the validation cell"
    assert elapsed < 60, f"stopping took {elapsed:.0f} s (kernel start and imports included)"
