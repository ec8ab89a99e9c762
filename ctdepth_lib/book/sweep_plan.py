"""What a seed sweep runs: its chapters, seeds and parameter sets, checked against the book before any run.

:func:`plan` turns the arguments of :func:`ctdepth_lib.book.sweep.sweep` (``python -m ctdepth_lib
sweep``), once :func:`~ctdepth_lib.book.sweep.sweep` has checked their form, into one :class:`Run`
per chapter × parameter set × seed. It checks them against the book first — chapter names, every
parameter name, every parameter value against the chapter's registered ranges and the relations
between its parameters (``ctdepth_lib/parameters.yaml``) — so a bad argument is one
:class:`SweepInputError` and nothing runs. Each run carries its chapter's :func:`code_version`:
the fingerprint of what its claims depend on, by which a rerun skips what it has already recorded
and the committed sweep is found stale.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims import registry
from ..params import Relation, validate_parameters
from .digests import science_digest
from .notebooks import notebook_spec
from .toc import toc_notebooks

__all__ = [
    "RECORD_FORMAT",
    "Chapter",
    "Run",
    "SweepInputError",
    "code_version",
    "parse_parameter_value",
    "parse_seeds",
    "plan",
    "root_chapters",
]

#: Bump when the run record's meaning changes (it is part of every run's version).
RECORD_FORMAT = 1


class SweepInputError(ValueError):
    """A sweep's input is bad (chapter, seeds, parameter, output folder, scheduler); nothing ran."""


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"A-B"`` (inclusive), ``"A"`` or a comma-separated list of those, e.g. ``"1-50,9137"``.

    Raises:
        SweepInputError: malformed (``"x"``, ``"1-"``) or empty (``"5-3"``) ranges.
    """
    if not isinstance(text, str):
        raise TypeError(f"seeds must be a string like '1-50'; got {text!r}")
    seeds: list[int] = []
    for piece in text.split(","):
        piece = piece.strip()
        lo, sep, hi = piece.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise SweepInputError(
                f"--seeds must be A-B with integers A <= B (or A, or a comma list); got {text!r}"
            ) from None
        if b < a:
            raise SweepInputError(f"--seeds {piece!r} is empty: A-B needs A <= B")
        seeds.extend(range(a, b + 1))
    return sorted(set(seeds))


def parse_parameter_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill's ``-p`` reads it: True/False/None, int, float, else str."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class Chapter:
    """A chapter as a sweep needs it: its notebook, defaults, quick values, spec and relations."""

    path: Path
    stem: str
    docname: str
    defaults: dict[str, Any]
    quick: dict[str, Any]
    spec: dict[str, Any]
    requires: tuple[Relation, ...]


def _toc(root: Path) -> list[Path] | None:
    try:
        return toc_notebooks(root)
    except ValueError:  # no _toc.yml: a folder of chapters
        return None


def root_chapters(root: Path) -> dict[str, Path]:
    """The chapters of the book at ``root`` by stem: ``chapters/*.ipynb`` and what ``_toc.yml`` lists."""
    found = {p.stem: p for p in sorted((root / "chapters").glob("*.ipynb"))}
    found.update({p.stem: p for p in _toc(root) or []})
    return found


def _resolve_chapters(chapters: Sequence[str | Path], root: Path) -> list[Chapter]:
    known = root_chapters(root)
    paths: list[Path] = []
    for item in chapters:
        text = str(item)
        if text == "all":  # the table of contents, in its order (without one, every chapter)
            toc = _toc(root)
            paths.extend(known.values() if toc is None else toc)
            continue
        path = Path(text)
        if path.suffix == ".ipynb" and (path.is_file() or (root / path).is_file()):
            paths.append(path if path.is_file() else root / path)
        elif text in known:
            paths.append(known[text])
        else:
            raise SweepInputError(f"unknown chapter {text!r}: give a notebook path or one of {sorted(known)} or 'all'")
    out: list[Chapter] = []
    seen: set[Path] = set()
    for path in paths:
        path = path.resolve()
        if path in seen:
            continue
        seen.add(path)
        try:
            spec = notebook_spec(path)
        except ValueError as exc:
            raise SweepInputError(f"chapter {str(path)!r} is not a parameterised chapter: {exc}") from None
        try:
            docname = path.relative_to(root.resolve()).with_suffix("").as_posix()
        except ValueError:
            docname = f"chapters/{path.stem}"
        out.append(
            Chapter(
                path=path,
                stem=path.stem,
                docname=docname,
                defaults=spec.defaults,
                quick=spec.quick,
                spec=dict(spec.parameters),
                requires=spec.requires,
            )
        )
    if not out:
        raise SweepInputError("no chapter given: name at least one chapter (a path, a stem or 'all')")
    return out


def _parameter_sets(chapter: Chapter, quick: bool, grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    base = chapter.defaults | (chapter.quick if quick else {})
    names = list(grid)
    sets = []
    for combo in itertools.product(*(grid[n] for n in names)):
        params = dict(base)
        params.update(zip(names, combo))
        params.pop("SEED", None)
        sets.append(params)
    return sets


def _validate_run(chapter: Chapter, params: Mapping[str, Any], seed: int) -> None:
    values = dict(params) | {"SEED": seed}
    try:
        validate_parameters(values, chapter.spec, chapter.requires)
    except (ValueError, TypeError) as exc:
        raise SweepInputError(f"chapter {chapter.stem}: {exc}") from None


def code_version(nb: str | Path, *, library: str | None = None) -> str:
    """Fingerprint of what the claims of a run of ``nb`` depend on (16 hex digits).

    It hashes the notebook's code cells and its registered parameters (not its outputs: re-executing a
    chapter does not make a sweep stale), the science modules of ``ctdepth_lib``
    (:func:`~ctdepth_lib.book.digests.science_digest`: not the book wing, the command line or
    the plotting style) and the registry entries of the chapter's own claims. A record whose
    ``version`` differs from the chapter's current ``code_version`` is stale.

    Args:
        nb: the chapter's notebook.
        library: the science digest, when the caller has it already (one hash for many chapters).
    """
    nb = Path(nb)
    data = json.loads(nb.read_text(encoding="utf-8"))
    h = hashlib.sha256(f"ctdepth-sweep-{RECORD_FORMAT}".encode())
    h.update((library or science_digest()).encode())
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            h.update(("".join(src) if isinstance(src, list) else str(src)).encode() + b"\0")
    from ..params import chapter_spec

    try:
        h.update(repr(chapter_spec(f"chapters/{nb.stem}")).encode())
    except ValueError:  # not a registered chapter: its code alone
        pass
    docname = nb.resolve().with_suffix("").as_posix()
    mine = sorted(
        (cid, repr(c)) for cid, c in registry().items() if docname.endswith("/" + c.chapter) or docname == c.chapter
    )
    h.update(json.dumps(mine).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    """One run of a sweep: a chapter with one parameter set and one seed."""

    chapter: Chapter
    seed: int
    params: dict[str, Any]
    quick: bool
    version: str

    @property
    def phash(self) -> str:
        """The parameter set's hash (12 hex digits): its folder in the sweep, shared by its seeds."""
        text = json.dumps({"parameters": self.params, "quick": self.quick}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def run_id(self) -> str:
        return f"{self.chapter.stem}/{self.phash}/seed{self.seed}"


def plan(
    chapters: Sequence[str | Path],
    seeds: Sequence[int],
    quick: bool,
    grid: Mapping[str, Sequence[Any]],
    root: Path,
) -> list[Run]:
    """Every run of a sweep: chapters × parameter sets (the Cartesian product of ``grid``) × seeds.

    The arguments are those of :func:`ctdepth_lib.book.sweep.sweep` as it checked them: notebook
    paths or stems (or ``"all"``), the sorted seeds, ``quick``, the values of each parameter
    (``NAME -> [value, …]``, not ``SEED``) and the book's root. Every name is checked against each
    chapter, and every value against its spec and relations, at the first and the last seed.

    Raises:
        SweepInputError: an unknown chapter or parameter, or a value the chapter does not accept.
    """
    resolved = _resolve_chapters(chapters, root)
    library = science_digest()
    runs: list[Run] = []
    for ch in resolved:
        unknown = sorted(set(grid) - set(ch.spec))
        if unknown:
            raise SweepInputError(
                f"chapter {ch.stem} has no parameter {unknown[0]} (its parameters: {', '.join(ch.spec)})"
            )
        version = code_version(ch.path, library=library)
        for params in _parameter_sets(ch, quick, grid):
            for seed in (seeds[0], seeds[-1]):
                _validate_run(ch, params, seed)
            runs.extend(Run(ch, seed, params, quick, version) for seed in seeds)
    return runs
