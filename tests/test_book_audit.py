"""The numerics audit (ctdepth_lib/book/audit.py): the comparison rules, the report, one real execution."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from ctdepth_lib.book.audit import (
    NUMERICS_PATHS,
    AuditResult,
    audit,
    available_paths,
    compare_notebooks,
    compare_outputs,
    execute_notebook,
    format_report,
    path_environment,
)
from ctdepth_lib.claims import CLAIM_MIME


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def glue(name: str, value: str) -> dict:
    return {
        "output_type": "display_data",
        "data": {"application/papermill.record/text/plain": value},
        "metadata": {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    }


def claim(cid: str, measured: float) -> dict:
    return {
        "output_type": "display_data",
        "data": {CLAIM_MIME: {"id": cid, "measured": measured}, "text/plain": f"claim {cid}"},
    }


def diffs(left: list, right: list, source: str = "x = 1") -> list:
    return compare_outputs("ch", 3, source, ("committed", "native"), left, right)


@pytest.mark.parametrize(
    ("left", "right", "rule"),
    [
        ([stream("err 3.111e-02\n")], [stream("err 3.112e-02\n")], "printed digits"),
        ([stream("d 2.0e-16\n")], [stream("d 4.4e-16\n")], "rounding-level"),
        ([glue("k", "0.123456789012345")], [glue("k", "0.123456789012346")], "glued value"),
        ([claim("1b", 1.0031)], [claim("1b", 1.00310001)], "within the claim's tolerance"),
    ],
)
def test_covered_differences_name_their_rule(left: list, right: list, rule: str) -> None:
    found = diffs(left, right)
    assert found and all(d.covered for d in found)
    assert rule in found[0].rule


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        ([stream("err 3.111e-02\n")], [stream("err 3.151e-02\n")], "output 0 (stdout)"),
        ([glue("claim-F2-pieces", "3.0165e-10")], [glue("claim-F2-pieces", "3.4697e-11")], "glue claim-F2-pieces"),
        ([claim("1b", 1.0031)], [claim("1b", 1.02)], "claim 1b (measured)"),
        (
            [stream("a\n")],
            [
                stream("a\n"),
                stream(
                    "b\n",
                )
                | {"name": "stderr"},
            ],
            "output 1",
        ),
    ],
)
def test_uncovered_differences_fail_the_report_naming_the_cell(left: list, right: list, label: str) -> None:
    found = diffs(left, right)
    assert any(not d.covered and d.output.startswith(label) for d in found), found
    result = AuditResult(differences=found, compared={"ch": 1})
    report = format_report(result)
    assert f"ch, code cell 3, {label}" in report
    assert result.uncovered


def test_an_ignored_cell_and_images_are_not_compared() -> None:
    src = "# NBVAL_IGNORE_OUTPUT\n# not compared: outputs of training\nprint(acc)"
    found = diffs([stream("acc 0.91\n")], [stream("acc 0.87\n")], source=src)
    assert found and found[0].covered and "outputs of training" in found[0].rule
    image = {"output_type": "display_data", "data": {"image/png": "AAA"}}
    assert diffs([image], [dict(image, data={"image/png": "BBB"})]) == []
    assert diffs([stream("same\n")], [stream("same\n")]) == []


def test_compare_notebooks_pairs_every_run() -> None:
    def nb(text: str) -> dict:
        return {
            "cells": [
                {"cell_type": "markdown", "source": "# t"},
                {"cell_type": "code", "source": "print(1)", "outputs": [stream(text)]},
            ]
        }

    found = compare_notebooks(
        "ch", {"committed": nb("1.00e-01\n"), "native": nb("1.00e-01\n"), "default": nb("1.50e-01\n")}
    )
    assert {d.runs for d in found} == {("committed", "default"), ("native", "default")}
    assert all(d.cell == 0 and not d.covered for d in found)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="paths must be among"):
        available_paths(["no-such-path"])
    with pytest.raises(ValueError, match="path must be one of"):
        path_environment("no-such-path")
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        audit([], out=Path("unused"), jobs=0)


def test_a_path_reaches_the_kernel(tmp_path: Path) -> None:
    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_code_cell("import os\nprint(os.environ.get('MKL_CBWR'))"))
    src = tmp_path / "tiny.ipynb"
    nbformat.write(book, str(src))
    env, _ = path_environment("default")
    back = execute_notebook(src, tmp_path / "out" / "tiny.ipynb", env, timeout=120)
    assert back["aten"] == NUMERICS_PATHS["default"].aten and back["torch_threads"] >= 1
    ran = json.loads((tmp_path / "out" / "tiny.ipynb").read_text())
    assert "".join(ran["cells"][-1]["outputs"][0]["text"]).strip() == "COMPATIBLE"  # the probe cell is gone again
    with pytest.raises(ValueError, match="out must differ"):
        execute_notebook(src, src, env)
