"""Chapters as data: their parameters, allowed ranges, quick settings and relations, and reruns.

A chapter's parameters are written once, in ``ctdepth_lib/parameters.yaml``
(:mod:`ctdepth_lib.params`). Its cell tagged ``parameters`` is generated from there
(:func:`write_parameter_cell`, ``python -m ctdepth_lib params --write``) and read back with
papermill's own :func:`papermill.inspect_notebook`, so that the Rerun guide, the sweep and the
tests see what papermill sees — and a cell that drifted from the registry is an error. Nothing
here reads notebook source as code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..params import ChapterSpec, Param, chapter_spec, parameter_cell

__all__ = [
    "ChapterParameter",
    "chapter_docname",
    "chapter_parameters",
    "invalid_value",
    "notebook_spec",
    "quick_parameters",
    "run_chapter",
    "write_parameter_cell",
]


@dataclass(frozen=True)
class ChapterParameter:
    """One parameter of a chapter: default, quick value, allowed range and meaning."""

    name: str
    default: Any
    quick: Any
    allowed: str
    help: str
    spec: Param


def chapter_docname(nb: Path) -> str:
    """``chapters/01_resnet_euler`` for ``…/chapters/01_resnet_euler.ipynb`` (or an executed copy of it)."""
    return f"chapters/{Path(nb).stem}"


def notebook_spec(nb: Path) -> ChapterSpec:
    """The registered :class:`~ctdepth_lib.params.ChapterSpec` of a chapter, checked against its cell.

    papermill's :func:`~papermill.inspect_notebook` reads the notebook's ``parameters`` cell; its
    names, types and defaults must be those of ``parameters.yaml``.

    Raises:
        ValueError: the chapter is not registered, or its cell is not the one the registry generates.
    """
    import papermill as pm

    spec = chapter_spec(chapter_docname(nb))
    seen = pm.inspect_notebook(str(nb))
    want = {name: (p.kind.__name__, repr(p.default)) for name, p in spec.parameters.items()}
    got = {name: (info.get("inferred_type_name"), info.get("default")) for name, info in seen.items()}
    if got != want or list(seen) != list(want):
        raise ValueError(
            f"notebook {nb}: its parameters cell is not the one parameters.yaml generates "
            f"(run `python -m ctdepth_lib params --write {nb}`); cell {got}, registry {want}"
        )
    return spec


def chapter_parameters(nb: Path) -> list[ChapterParameter]:
    """Every parameter of a chapter, in the order of its ``parameters`` cell."""
    spec = notebook_spec(Path(nb))
    return [
        ChapterParameter(
            name=name,
            default=p.default,
            quick=p.default if p.quick is None else p.quick,
            allowed=p.describe(),
            help=p.help,
            spec=p,
        )
        for name, p in spec.parameters.items()
    ]


def quick_parameters(nb: Path) -> dict[str, Any]:
    """The chapter's quick parameters that differ from its defaults (never SEED)."""
    return chapter_spec(chapter_docname(nb)).quick


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


def write_parameter_cell(nb: Path) -> bool:
    """Regenerate the cell tagged ``parameters`` of ``nb`` from ``parameters.yaml``, in place.

    Returns whether the cell changed (the file is rewritten only then, as ``jupyter`` writes it).
    """
    import nbformat

    book = nbformat.read(str(nb), as_version=4)
    cells = [c for c in book.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"notebook {nb} must have exactly one cell tagged 'parameters'; got {len(cells)}")
    text = parameter_cell(chapter_spec(chapter_docname(nb)))
    changed = cells[0].source != text or "ctdepth" in book.metadata
    if changed:
        cells[0].source = text
        book.metadata.pop("ctdepth", None)  # the quick parameters live in parameters.yaml
        nbformat.write(book, str(nb))
    return changed


def run_chapter(nb: Path, out: Path, parameters: dict[str, Any], *, timeout: int = 600) -> Path:
    """Execute ``nb`` with papermill into ``out`` (never in place) and return ``out``.

    The kernel starts under :func:`~ctdepth_lib.book.kernels.kernel_start_lock`.
    """
    import papermill as pm

    from .kernels import LockedKernelManager

    nb, out = Path(nb).resolve(), Path(out).resolve()
    if out == nb:
        raise ValueError(f"out must differ from the notebook itself; got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(nb), str(out), parameters=parameters, cwd=str(nb.parent), kernel_name="python3",
        progress_bar=False, execution_timeout=timeout, kernel_manager_class=LockedKernelManager,
    )  # fmt: skip
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
