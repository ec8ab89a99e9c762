"""The numerics audit: execute chapters down several floating-point paths and list what differs.

Two CPUs round differently. PyTorch's ATen dispatches each kernel to ``default``, ``avx2`` or
``avx512`` code (``ATEN_CPU_CAPABILITY``); MKL takes a branch per instruction set (``MKL_CBWR``);
NumPy dispatches its loops by SIMD level (``NPY_DISABLE_CPU_FEATURES``) and its OpenBLAS by core
type (``OPENBLAS_CORETYPE``); thread counts split reductions differently. glibc picks FMA or
plain versions of ``exp``, ``log``, ``sin``… by what the CPU offers (``GLIBC_TUNABLES``); each
:data:`NUMERICS_PATHS` entry sets these variables as one kind of machine would, so that one
machine can show what readers' machines will see.

``python -m ctdepth_lib audit-numerics [CHAPTER…]`` executes every chapter once per path that the
CPU offers (a requested capability the CPU lacks is detected by reading it back, not trusted),
then compares every output of every code cell between every two runs and the committed notebook,
and says for each difference which rule of :mod:`ctdepth_lib.outputs` covers it — or that none
does (CONTRIBUTING.md, "Outputs that mean the same on every machine"). A difference no rule
covers fails a fresh run of ``make test`` on some machine: the audit exits 1 and names the
chapter, the cell and the output.

The comparison (:func:`compare_outputs`) is the one nbval applies with
:mod:`ctdepth_lib.book.nbval_plugin`; ``make book`` uses it too, to check a fresh execution
against the committed outputs it renders (:mod:`ctdepth_lib.book.verify`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..claims import CLAIM_MIME, registry
from ..outputs import GLUE_RTOL, ROUNDING_LEVEL, snap

__all__ = [
    "NUMERICS_PATHS",
    "Difference",
    "NumericsPath",
    "audit",
    "available_paths",
    "compare_notebooks",
    "compare_outputs",
    "execute_notebook",
    "format_report",
    "path_environment",
]

GLUE_PREFIX = "application/papermill.record/"
IGNORE_MARK = "NBVAL_IGNORE_OUTPUT"
#: nbval compares neither these output keys nor images (without --nbdime).
SKIPPED_KEYS = ("image/png", "image/jpeg", "image/svg+xml")


@dataclass(frozen=True)
class NumericsPath:
    """One floating-point path: the environment a kernel starts with, and what it should read back.

    ``aten`` is the ATen capability the path asks for (``None``: the CPU's best), read back in the
    run with ``torch.backends.cpu.get_cpu_capability()``; ATen falls back silently when the CPU
    lacks the capability, so a path whose read-back differs from its request is not run.
    """

    name: str
    env: Mapping[str, str]
    aten: str | None = None
    numpy_off: tuple[str, ...] = ()  # NumPy SIMD targets switched off (only those the CPU has)
    note: str = ""


#: The audit's matrix: native, then three foreign paths as other machines would run.
NUMERICS_PATHS: dict[str, NumericsPath] = {
    "native": NumericsPath("native", {}, note="this machine as it is"),
    "again": NumericsPath("again", {}, note="native again, in another process (MKL may round by memory alignment)"),
    "default": NumericsPath(
        "default",
        {
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_CBWR": "COMPATIBLE",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_CORETYPE": "Nehalem",
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-AVX",
        },
        aten="DEFAULT",
        numpy_off=("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"),
        note="no vector kernels: an old or minimal CPU, one thread",
    ),
    "avx2": NumericsPath(
        "avx2",
        {
            "ATEN_CPU_CAPABILITY": "avx2",
            "MKL_CBWR": "AVX2",
            "OMP_NUM_THREADS": "2",
            "OPENBLAS_CORETYPE": "Haswell",
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F",
        },
        aten="AVX2",
        numpy_off=("X86_V4", "AVX512_ICL", "AVX512_SPR"),
        note="an AVX2 laptop or desktop, two threads",
    ),
    "avx512": NumericsPath(
        "avx512",
        {
            "ATEN_CPU_CAPABILITY": "avx512",
            "MKL_CBWR": "AVX512",
            "OMP_NUM_THREADS": "2",
            "OPENBLAS_CORETYPE": "SkylakeX",
        },
        aten="AVX512",
        note="an AVX-512 server in MKL's strict AVX-512 mode, two threads",
    ),
}

#: Variables a path sets; removed from the parent environment before a path's own are applied.
PATH_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "NPY_DISABLE_CPU_FEATURES",
    "GLIBC_TUNABLES",
)

PROBE = """
import json, threadpoolctl, torch
import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print(json.dumps({
    "aten": torch.backends.cpu.get_cpu_capability(),
    "torch_threads": torch.get_num_threads(),
    "blas": sorted({str(i.get("architecture", i.get("internal_api"))) for i in threadpoolctl.threadpool_info()
                    if i.get("user_api") == "blas"}),
    "numpy_simd": [t for t in __cpu_dispatch__ if __cpu_features__.get(t)],
    "numpy_dispatchable": list(__cpu_dispatch__),
}))
"""


def _environment(path: NumericsPath, dispatchable: Sequence[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES}
    env.update(path.env)
    off = [t for t in path.numpy_off if t in dispatchable]  # NumPy refuses to switch off what it lacks
    if off:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(off)
    return env


def _probe(env: Mapping[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=dict(env), capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def path_environment(name: str) -> tuple[dict[str, str], str]:
    """The environment of the path ``name`` on this CPU, and a line saying what a process there reads back.

    The line says so when the CPU lacks the path's ATen capability (ATen then falls back to a lower one).
    """
    if name not in NUMERICS_PATHS:
        raise ValueError(f"path must be one of {list(NUMERICS_PATHS)}; got {name!r}")
    path = NUMERICS_PATHS[name]
    dispatchable = _probe(_environment(NUMERICS_PATHS["native"]))["numpy_dispatchable"]
    env = _environment(path, dispatchable)
    back = _probe(env)
    line = f"numerics path {name} ({path.note}): ATen {back['aten']}, BLAS {', '.join(back['blas'])}"
    if path.aten and back["aten"] != path.aten:
        line += f" — this CPU lacks {path.aten}, so ATen fell back to {back['aten']}"
    return env, line


def available_paths(names: Sequence[str] | None = None) -> tuple[list[tuple[NumericsPath, dict[str, str]]], list[str]]:
    """The paths of ``names`` (default all) this CPU offers, each with its environment; and why others are not.

    A path is offered when a process started with its environment reads back the ATen capability
    it asked for (ATen silently falls back to a lower one when the CPU lacks it).
    """
    chosen = list(NUMERICS_PATHS) if names is None else list(names)
    unknown = [n for n in chosen if n not in NUMERICS_PATHS]
    if unknown:
        raise ValueError(f"paths must be among {list(NUMERICS_PATHS)}; got {unknown}")
    native = _probe(_environment(NUMERICS_PATHS["native"]))
    offered, skipped = [], []
    for name in chosen:
        path = NUMERICS_PATHS[name]
        env = _environment(path, native["numpy_dispatchable"])
        got = _probe(env)["aten"] if path.aten else native["aten"]
        if path.aten and got != path.aten:
            skipped.append(f"{name}: the CPU lacks it (asked ATen for {path.aten}, read back {got})")
            continue
        offered.append((path, env))
    return offered, skipped


# --------------------------------------------------------------------------- executing a chapter
def execute_notebook(nb: Path, out: Path, env: Mapping[str, str], *, timeout: int = 900) -> dict[str, Any]:
    """Execute ``nb`` in a kernel started with ``env`` and write it to ``out`` (never in place).

    A last cell, removed again before writing, reads back what the kernel really ran with (the
    ATen capability, torch threads, the BLAS core types, NumPy's SIMD targets); the result is
    stored in the written notebook's ``metadata.ctdepth_audit``. Returns that read-back.
    """
    nb, out = Path(nb).resolve(), Path(out).resolve()
    if out == nb:
        raise ValueError(f"out must differ from the notebook itself; got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "ctdepth_lib.book.audit", str(nb), str(out), str(timeout)]
    res = subprocess.run(cmd, env=dict(env), capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-12:]
        raise RuntimeError(f"executing {nb.name} failed:\n" + "\n".join(tail))
    return dict(json.loads(out.read_text(encoding="utf-8"))["metadata"].get("ctdepth_audit", {}))


def _execute_here(nb: Path, out: Path, timeout: int) -> None:
    import nbformat
    from nbclient import NotebookClient

    from .kernels import LockedKernelManager

    book = nbformat.read(str(nb), as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(nb.parent)}},
        kernel_manager_class=LockedKernelManager,
    )  # fmt: skip
    client.execute()
    probe = book.cells.pop()
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
    book.metadata["ctdepth_audit"] = json.loads(text.strip().splitlines()[-1])
    nbformat.write(book, str(out))


# --------------------------------------------------------------------------- comparing outputs
@dataclass(frozen=True)
class Difference:
    """One output that differs between two runs of a chapter, and the rule that covers it ("" if none)."""

    chapter: str
    cell: int  # nbval's numbering: the index among code cells, from 0
    output: str  # e.g. "output 2 (text/plain)", "claim T-moons"
    runs: tuple[str, str]
    left: str
    right: str
    rule: str

    @property
    def covered(self) -> bool:
        """Whether a rule covers the difference (nbval and the ledger accept it)."""
        return bool(self.rule)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _coalesce(outputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive stream outputs of one name merged, as nbval does before comparing."""
    merged: list[dict[str, Any]] = []
    for out in outputs:
        out = dict(out)
        if out.get("output_type") == "stream":
            out["text"] = _text(out.get("text", ""))
            last = merged[-1] if merged else None
            if last and last.get("output_type") == "stream" and last.get("name") == out.get("name"):
                last["text"] += out["text"]
                continue
        merged.append(out)
    return merged


def _number_rule(ref: str, test: str, *, glue: bool) -> str:
    from ..outputs import NUMBER

    pairs = [(a, b) for a, b in zip(NUMBER.findall(ref), NUMBER.findall(test)) if a != b]
    if any(abs(float(a.replace("−", "-"))) <= ROUNDING_LEVEL for a, _ in pairs):
        return "rounding-level values agree"
    return "glued value within 1e-6 relative" if glue else "printed digits agree to one unit in the last place"


def compare_outputs(
    chapter: str, cell: int, source: str, runs: tuple[str, str], left: Sequence[Any], right: Sequence[Any]
) -> list[Difference]:
    """The differences between two runs' outputs of one code cell, each with the rule that covers it.

    The rules are nbval's as :mod:`ctdepth_lib.book.nbval_plugin` changes them: outputs of a cell
    marked ``# NBVAL_IGNORE_OUTPUT`` are not compared; images are not compared; numbers in text
    are compared by :func:`ctdepth_lib.outputs.snap`; claim records are judged by the ledger with
    the claim's ``reproduce`` tolerance (``left`` taken as the reference).
    """
    ignored = IGNORE_MARK in source
    why = ""
    if ignored:
        m = re.search(r"#\s*not compared:\s*(.+)", source)
        why = f"cell not compared ({m.group(1).strip()})" if m else "cell not compared (NBVAL_IGNORE_OUTPUT)"
    found: list[Difference] = []
    a_outs, b_outs = _coalesce(left), _coalesce(right)

    def add(output: str, a: str, b: str, rule: str) -> None:
        found.append(Difference(chapter, cell, output, runs, a[:200], b[:200], rule))

    claims = registry()
    for j, (a, b) in enumerate(itertools.zip_longest(a_outs, b_outs)):
        if a is None or b is None:
            add(f"output {j}", json.dumps(a)[:200], json.dumps(b)[:200], why)
            continue
        if a.get("output_type") == "stream" or b.get("output_type") == "stream":
            ta, tb = _text(a.get("text", "")), _text(b.get("text", ""))
            if (a.get("name"), ta) != (b.get("name"), tb):
                rule = why or (_number_rule(ta, tb, glue=False) if snap(ta, tb) == ta else "")
                add(f"output {j} ({a.get('name', 'stream')})", ta, tb, rule)
            continue
        da, db = a.get("data", {}), b.get("data", {})
        if CLAIM_MIME in da or CLAIM_MIME in db:
            ra, rb = da.get(CLAIM_MIME, {}), db.get(CLAIM_MIME, {})
            cid = str(ra.get("id", rb.get("id")))
            ma, mb = ra.get("measured"), rb.get("measured")
            if ma != mb:
                claim = claims.get(cid)
                ok = claim is not None and isinstance(ma, float | int) and isinstance(mb, float | int)
                ok = ok and claim.reproduces(float(ma), float(mb))  # type: ignore[union-attr]
                tol = f"within the claim's tolerance ({claim.tolerance})" if claim else ""
                add(f"claim {cid} (measured)", str(ma), str(mb), tol if ok else "")
        for key in sorted(set(da) | set(db)):
            if key in SKIPPED_KEYS or key == CLAIM_MIME:
                continue
            ta, tb = _text(da.get(key, "")), _text(db.get(key, ""))
            if ta == tb:
                continue
            glue = key.startswith(GLUE_PREFIX)
            name = a.get("metadata", {}).get("scrapbook", {}).get("name") if glue else None
            label = f"glue {name}" if name else f"output {j} ({key})"
            rule = why or (
                _number_rule(ta, tb, glue=glue) if snap(ta, tb, rtol=GLUE_RTOL if glue else None) == ta else ""
            )
            add(label, ta, tb, rule)
    return found


def compare_notebooks(chapter: str, runs: Mapping[str, Mapping[str, Any]]) -> list[Difference]:
    """Every difference between every two runs (notebook JSON by run name) of one chapter.

    The first run is each pair's reference (put the committed notebook first).
    """
    names = list(runs)
    cells = {n: [c for c in runs[n]["cells"] if c["cell_type"] == "code"] for n in names}
    found: list[Difference] = []
    for x, y in itertools.combinations(names, 2):
        for k, (cx, cy) in enumerate(zip(cells[x], cells[y])):
            src = _text(cx.get("source", ""))
            found += compare_outputs(chapter, k, src, (x, y), cx.get("outputs", []), cy.get("outputs", []))
    return found


# --------------------------------------------------------------------------- the audit
@dataclass
class AuditResult:
    """What an audit ran and found."""

    paths: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> read-back (first chapter's)
    skipped: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)  # chapter -> outputs compared per pair
    seconds: float = 0.0

    @property
    def uncovered(self) -> list[Difference]:
        """The differences no rule covers."""
        return [d for d in self.differences if not d.covered]


def audit(
    chapters: Sequence[Path], *, paths: Sequence[str] | None = None, out: Path, jobs: int = 2, timeout: int = 900
) -> AuditResult:
    """Execute each chapter once per offered path into ``out/<path>/`` and compare all runs.

    The committed notebook is a run too (``committed``, every pair's reference where it takes part).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    start = time.monotonic()
    offered, skipped = available_paths(paths)
    result = AuditResult(skipped=skipped)
    tasks = [(nb, p, env) for nb in chapters for p, env in offered]

    def run(task: tuple[Path, NumericsPath, dict[str, str]]) -> tuple[str, str, dict[str, Any]]:
        nb, p, env = task
        back = execute_notebook(nb, Path(out) / p.name / nb.name, env, timeout=timeout)
        return nb.stem, p.name, back

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for stem, name, back in pool.map(run, tasks):
            result.paths.setdefault(name, back)
            print(f"  ran {stem} on path {name} (ATen {back.get('aten')}, BLAS {back.get('blas')})", flush=True)
    for nb in chapters:
        runs = {"committed": json.loads(Path(nb).read_text(encoding="utf-8"))}
        for p, _ in offered:
            runs[p.name] = json.loads((Path(out) / p.name / nb.name).read_text(encoding="utf-8"))
        result.differences += compare_notebooks(nb.stem, runs)
        result.compared[nb.stem] = sum(len(_coalesce(c.get("outputs", []))) for c in runs["committed"]["cells"])
    result.seconds = time.monotonic() - start
    return result


def format_report(result: AuditResult) -> str:
    """The audit as text: the paths and their read-back, a table per chapter, every uncovered difference."""
    lines = ["paths (what each run read back):"]
    for name, back in result.paths.items():
        p = NUMERICS_PATHS[name]
        env = " ".join(f"{k}={v}" for k, v in p.env.items()) or "(nothing set)"
        lines.append(
            f"  {name:8} {env}\n           ATen {back.get('aten')}, torch threads {back.get('torch_threads')}, "
            f"BLAS {', '.join(back.get('blas', []))}, NumPy SIMD {' '.join(back.get('numpy_simd', [])) or 'baseline'}"
        )
    for line in result.skipped:
        lines.append(f"  not run: {line}")
    lines += ["", f"{'chapter':22} {'outputs':>7} {'differ':>6} {'covered':>7} {'uncovered':>9}"]
    for chapter, n in result.compared.items():
        diffs = {(d.cell, d.output) for d in result.differences if d.chapter == chapter}
        bad = {(d.cell, d.output) for d in result.differences if d.chapter == chapter and not d.covered}
        lines.append(f"{chapter:22} {n:7d} {len(diffs):6d} {len(diffs - bad):7d} {len(bad):9d}")
    pairs: dict[tuple[str, str], int] = {}
    for d in result.differences:
        pairs[d.runs] = pairs.get(d.runs, 0) + 1
    if pairs:
        lines += [
            "",
            "outputs that differ, by pair of runs (the paths most unlike native are the foreign passes' best choice):",
        ]
        lines += [f"  {a:>9} vs {b:<9} {n:4d}" for (a, b), n in sorted(pairs.items())]
    rules: dict[str, int] = {}
    for d in result.differences:
        if d.covered:
            rules[d.rule.split(" (")[0]] = rules.get(d.rule.split(" (")[0], 0) + 1
    if rules:
        lines += ["", "differences by the rule that covers them (pairs of runs):"]
        lines += [f"  {n:4d}  {rule}" for rule, n in sorted(rules.items(), key=lambda kv: -kv[1])]
    bad_list = result.uncovered
    lines += ["", f"uncovered differences: {len(bad_list)}"]
    for d in bad_list:
        lines.append(
            f"  {d.chapter}, code cell {d.cell}, {d.output}: {d.runs[0]} {d.left!r} vs {d.runs[1]} {d.right!r}"
        )
    lines.append(f"\n{result.seconds / 60:.1f} min")
    return "\n".join(lines)


if __name__ == "__main__":  # one execution, in a process started with a path's environment
    _execute_here(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
