"""Chapters as data: their parameters, allowed ranges and quick settings, and seeded reruns.

Read from the notebooks themselves — the cell tagged ``parameters`` (defaults and
their comments), the validation cell after it (the ``Param`` spec given to
:func:`~ctdepth_lib.params.validate_parameters`) and the notebook metadata
``ctdepth.quick_parameters`` — so the rerun guide never drifts from the chapters.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..params import Param
from .sweep_task import science_digest  # the one definition of "the science modules"

__all__ = [
    "ChapterParameter",
    "chapter_parameters",
    "invalid_value",
    "parameter_guards",
    "quick_parameters",
    "run_chapter",
    "seed_run_path",
]

#: Seeds of the robustness runs (the committed notebooks use SEED = 0).
ROBUSTNESS_SEEDS = (1, 2, 3)


@dataclass(frozen=True)
class ChapterParameter:
    """One parameter of a chapter: default, quick value, allowed range and meaning."""

    name: str
    default: Any
    quick: Any
    allowed: str
    help: str
    spec: Param


def _load(nb: Path) -> dict[str, Any]:
    return json.loads(Path(nb).read_text(encoding="utf-8"))


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _code_cells(nb_json: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb_json["cells"] if c["cell_type"] == "code"]


def _parameters_index(cells: list[dict[str, Any]], nb: Path) -> int:
    for i, cell in enumerate(cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i
    raise ValueError(f"notebook {nb} has no cell tagged 'parameters'")


def _defaults_and_comments(src: str) -> dict[str, tuple[Any, str]]:
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out: dict[str, tuple[Any, str]] = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = (ast.literal_eval(node.value), comments.get(node.lineno, ""))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            # ``NAME: int = 8  # help``: the annotated form papermill reports with its type
            out[node.target.id] = (ast.literal_eval(node.value), comments.get(node.lineno, ""))
    return out


_SPEC_NAMES = {"Param": Param, "int": int, "float": float, "str": str, "bool": bool}


def _spec(src: str, nb: Path) -> dict[str, Param]:
    tree = ast.parse(src)
    assigned = {
        n.targets[0].id: n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name in ("validate_parameters", "start_chapter"):
                # validate_parameters(values, spec) or start_chapter(docname, values, spec)
                at = 1 if name == "validate_parameters" else 2
                arg = node.args[at] if len(node.args) > at else next(k.value for k in node.keywords if k.arg == "spec")
                if isinstance(arg, ast.Name):
                    arg = assigned[arg.id]
                code = compile(ast.Expression(arg), str(nb), "eval")
                spec = eval(code, {"__builtins__": {}}, dict(_SPEC_NAMES))  # the chapter's own literal spec
                return dict(spec)
    raise ValueError(f"notebook {nb}: the cell after 'parameters' calls neither start_chapter nor validate_parameters")


def parameter_guards(nb: Path) -> str:
    """The validation cell's own checks beyond its spec: its top-level ``if``/``for`` statements that only raise.

    E.g. ``if N_MAX < 4 * N_MIN: raise ValueError(...)`` (a relation between parameters); a
    sweep runs them on its client, so a bad value is rejected before any run.
    """
    cells = _code_cells(_load(nb))
    src = _source(cells[_parameters_index(cells, nb) + 1])

    def only_raises(node: ast.stmt) -> bool:
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, (ast.If, ast.For)):
            return all(raising_block(b) for b in (node.body, node.orelse) if b)
        return False

    def raising_block(body: list[ast.stmt]) -> bool:  # assignments (a message), then a raise
        *before, last = body
        return only_raises(last) and all(isinstance(s, (ast.Assign, ast.AnnAssign)) for s in before)

    keep = [
        ast.get_source_segment(src, node) or ""
        for node in ast.parse(src).body
        if isinstance(node, (ast.If, ast.For)) and only_raises(node)
    ]
    return "\n".join(keep)


def quick_parameters(nb: Path) -> dict[str, Any]:
    """The notebook's ``metadata.ctdepth.quick_parameters`` (never SEED)."""
    quick = dict(_load(nb)["metadata"].get("ctdepth", {}).get("quick_parameters", {}))
    if "SEED" in quick:
        raise ValueError(f"notebook {nb}: quick_parameters must not fix SEED")
    return quick


def chapter_parameters(nb: Path) -> list[ChapterParameter]:
    """Every parameter of a chapter, in the order of its ``parameters`` cell."""
    nb = Path(nb)
    data = _load(nb)
    cells = _code_cells(data)
    i = _parameters_index(cells, nb)
    defaults = _defaults_and_comments(_source(cells[i]))
    spec = _spec(_source(cells[i + 1]), nb)
    quick = quick_parameters(nb)
    missing = set(defaults) ^ set(spec)
    if missing:
        raise ValueError(f"notebook {nb}: parameters and validation spec disagree on {sorted(missing)}")
    return [
        ChapterParameter(
            name=name,
            default=default,
            quick=quick.get(name, default),
            allowed=spec[name].describe(),
            help=spec[name].help or comment,
            spec=spec[name],
        )
        for name, (default, comment) in defaults.items()
    ]


def invalid_value(p: ChapterParameter) -> Any:
    """A value the parameter's spec rejects: an unknown choice (an unknown method), or a
    number below the lower bound — 0 for a count or depth, −1 for a time or seed."""
    spec = p.spec
    if spec.choices is not None:
        return "no-such-choice"
    if spec.kind is int and spec.low is not None:
        return 0 if spec.low >= 1 else int(spec.low) - 1
    if spec.kind is float and spec.low is not None:
        return -1.0 if spec.low > -1 else float(spec.low) - 1.0
    return "not-a-number" if spec.kind in (int, float) else 12345


def seed_run_path(out_dir: Path, nb: Path, seed: int) -> Path:
    """Where the quick run of ``nb`` with ``seed`` is written."""
    return Path(out_dir) / f"{Path(nb).stem}-seed{seed}.ipynb"


def _fingerprint(nb: Path, parameters: dict[str, Any]) -> str:
    h = hashlib.sha256(Path(nb).read_bytes())
    h.update(science_digest().encode())
    h.update((Path(__file__).parents[1] / "claims.yaml").read_bytes())
    h.update(json.dumps(parameters, sort_keys=True, default=repr).encode())
    return h.hexdigest()


def run_chapter(nb: Path, out: Path, parameters: dict[str, Any], *, timeout: int = 600, reuse: bool = False) -> Path:
    """Execute ``nb`` with papermill into ``out`` (never in place) and return ``out``.

    With ``reuse=True`` an existing output whose fingerprint (notebook, library
    sources, registry, parameters) matches is kept instead of executed again.
    """
    import papermill as pm

    nb, out = Path(nb).resolve(), Path(out).resolve()
    if out == nb:
        raise ValueError(f"out must differ from the notebook itself; got {out}")
    stamp = out.with_suffix(".sha256")
    key = _fingerprint(nb, parameters)
    if reuse and out.is_file() and stamp.is_file() and stamp.read_text() == key:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    pm.execute_notebook(
        str(nb), str(out), parameters=parameters, cwd=str(nb.parent), kernel_name="python3",
        progress_bar=False, execution_timeout=timeout,
    )  # fmt: skip
    stamp.write_text(key)
    return out


#: Cell metadata that Jupyter writes on every execution: timestamps only (a noisy diff per run).
VOLATILE_CELL_METADATA = ("execution",)


def strip_execution_metadata(nb: Path) -> int:
    """Remove every cell's execution timestamps (``metadata.execution``) from ``nb``, in place.

    Returns the number of cells changed; the file is rewritten only when one was. The output is
    written as ``jupyter execute`` writes it (nbformat, one-space indent), so only the timestamps go.
    """
    import nbformat

    if not Path(nb).is_file():
        raise ValueError(f"nb must be an existing notebook file; got {str(nb)!r}")
    book = nbformat.read(str(nb), as_version=4)
    changed = 0
    for cell in book.cells:
        if any(key in cell.metadata for key in VOLATILE_CELL_METADATA):
            for key in VOLATILE_CELL_METADATA:
                cell.metadata.pop(key, None)
            changed += 1
    if changed:
        nbformat.write(book, str(nb))
    return changed
