"""Command line: ``python -m ctdepth_lib claims`` (the ledger), ``bench``, ``sweep`` (seed sweeps) and more."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .book import registered_notebooks, toc_notebooks


def _claims(args: argparse.Namespace) -> int:
    from .book.ledger import collect, collect_fresh, ledger_report, ledger_rows

    if args.notebooks:
        notebooks = [Path(p) for p in args.notebooks]
    elif args.build:
        folder = Path(args.build) / "jupyter_execute"
        if not folder.is_dir():
            print(f"error: --build {args.build}: no executed notebooks in {folder} (run `make book` first)")
            return 2
        notebooks = registered_notebooks(folder)
    else:
        notebooks = toc_notebooks(Path(args.root))
    missing = [p for p in notebooks if not p.is_file()]
    if missing:
        print(f"error: no notebook {missing[0]}")
        return 2
    try:
        fresh = collect_fresh(args.fresh) if args.fresh else None
    except ValueError as exc:
        print(f"error: --fresh: {exc}")
        return 2
    rows = ledger_rows(collect(notebooks), fresh=fresh)
    text, status = ledger_report(rows, notebooks_read=len(notebooks), fresh=args.fresh)
    print(text)
    return status


def _bench(args: argparse.Namespace) -> int:
    from .bench.unroll import bench_unroll, format_unroll

    res = bench_unroll(d=args.d, batch=args.batch, n_steps=args.steps, repeats=args.runs)
    print(format_unroll(res, d=args.d, batch=args.batch, n_steps=args.steps))
    return 0 if res["ok"] else 1


def _cost(args: argparse.Namespace) -> int:
    from .bench.cost import cost_table, format_cost_report

    records = cost_table(args.n, batch=args.batch, d=args.d, width=args.width, repeats=args.repeats)
    print(format_cost_report(records, batch=args.batch, d=args.d, width=args.width))
    return 0


def _audit(args: argparse.Namespace) -> int:
    from .book.audit import audit, format_report

    chapters = _chapters(args.chapters, Path(args.root))
    result = audit(chapters, paths=args.paths, out=Path(args.out), jobs=args.jobs)
    report = format_report(result)
    print(report)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "report.txt").write_text(report + "\n", encoding="utf-8")
    return 1 if result.uncovered else 0


def _verify(args: argparse.Namespace) -> int:
    from .book.verify import verify

    return verify(_chapters(args.chapters, Path(args.root)), Path(args.out), jobs=args.jobs)


def _numerics(args: argparse.Namespace) -> int:
    import os

    from .book.audit import path_environment

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ValueError("a command to run must follow the path, e.g. numerics default -- pytest …")
    env, line = path_environment(args.path)
    print(line, file=sys.stderr, flush=True)
    os.execvpe(command[0], command, env)
    return 0  # pragma: no cover - execvpe does not return


def _chapters(names: list[str], root: Path) -> list[Path]:
    """Chapters named as paths, stems or ``all`` (default: every chapter of the table of contents)."""
    toc = toc_notebooks(root)
    if not names or names == ["all"]:
        return toc
    by_stem = {nb.stem: nb for nb in toc}
    out = []
    for name in names:
        stem = Path(name).stem
        if stem not in by_stem:
            raise ValueError(f"CHAPTER must be a chapter of _toc.yml {sorted(by_stem)} or all; got {name!r}")
        out.append(by_stem[stem])
    return out


def _strip(args: argparse.Namespace) -> int:
    from .book.notebooks import strip_execution_metadata

    for nb in args.notebooks:
        try:
            n = strip_execution_metadata(Path(nb))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{nb}: execution timestamps removed from {n} cells")
    return 0


def _toc(args: argparse.Namespace) -> int:
    for nb in toc_notebooks(Path(args.root)):
        print(nb.as_posix())
    return 0


def _params(args: argparse.Namespace) -> int:
    from .book.notebooks import notebook_spec, write_parameter_cell

    stale = []
    for nb in _chapters(args.chapters, Path(args.root)):
        if args.write:
            if write_parameter_cell(nb):
                print(f"{nb}: parameters cell rewritten from parameters.yaml")
        else:
            try:
                notebook_spec(nb)
            except ValueError as exc:
                stale.append(str(exc))
    for line in stale:
        print(f"error: {line}", file=sys.stderr)
    return 1 if stale else 0


def _sweep(args: argparse.Namespace) -> int:
    from .book.sweep import SweepInputError, parse_parameter_value, parse_seeds, sweep

    grid: dict[str, list[object]] = {}
    for name, value in args.parameter or []:
        grid.setdefault(name, []).append(parse_parameter_value(value))  # repeated NAME: a grid
    try:
        df = sweep(
            args.chapters, parse_seeds(args.seeds), quick=args.quick, parameters=grid, out=args.out,
            workers=args.workers, scheduler=args.scheduler, timeout=args.timeout, root=args.root,
            connect_timeout=args.connect_timeout, force=args.force, progress=not args.no_progress,
        )  # fmt: skip
    except (SweepInputError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"interrupted: the finished runs are recorded in {args.out} (rerun the same command to resume)",
            file=sys.stderr,
        )
        return 130
    runs = df.drop_duplicates("run_id")
    counts = runs["run_status"].value_counts().to_dict()
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("pass", "fail", "error", "timeout"))
    print(f"{len(runs)} runs recorded in {Path(args.out) / 'results.parquet'} ({summary}; {len(df)} claim rows)")
    return 0 if set(counts) <= {"pass"} else 1


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ctdepth_lib")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except (ValueError, FileNotFoundError) as exc:
        # a bad argument or a folder that is not the book's root: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dispatch(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m ctdepth_lib",
        description="The ctdepth book's command line: the claims ledger, seed sweeps and benchmarks. "
        "Run it from the book's root (the folder with _toc.yml).",
    )
    parser.add_argument("--version", action="version", version=f"ctdepth_lib {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_claims = sub.add_parser("claims", help="print the claims ledger; exit 1 if a claim failed or was not checked")
    p_claims.add_argument("notebooks", nargs="*", help="executed notebooks to read (default: the chapters in _toc.yml)")
    p_claims.add_argument("--root", default=".", help="book root holding _toc.yml (default: .)")
    p_claims.add_argument("--build", help="read the notebooks a book build executed (BUILD/jupyter_execute)")
    p_claims.add_argument(
        "--fresh",
        action="append",
        metavar="DIR",
        help="folder of fresh runs' claim records (*.claims.json, from nbval with --ctdepth-fresh): "
        "each must reproduce the committed value within the claim's tolerance; repeatable",
    )
    p_claims.set_defaults(func=_claims)
    p_audit = sub.add_parser(
        "audit-numerics",
        help="execute chapters down several floating-point paths; list outputs that differ and the rule covering each",
    )
    p_audit.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapters/X.ipynb, a stem X, or all (default)")
    p_audit.add_argument("--paths", nargs="+", metavar="PATH", help="numerics paths (default: all the CPU offers)")
    p_audit.add_argument("--out", default="_build/audit", help="folder of the executed runs (default: _build/audit)")
    p_audit.add_argument("--jobs", type=int, default=2, help="executions at the same time (default: 2)")
    p_audit.add_argument("--root", default=".", help="book root holding _toc.yml (default: .)")
    p_audit.set_defaults(func=_audit)
    p_verify = sub.add_parser(
        "verify",
        help="run the chapters changed since they last passed here with their quick parameters; every claim must hold (make book)",
    )
    p_verify.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapters/X.ipynb, a stem X, or all (default)")
    p_verify.add_argument(
        "--out", default="_build/fresh/book", help="fresh claim records and stamps (default: _build/fresh/book)"
    )
    p_verify.add_argument("--jobs", type=int, default=2, help="chapters executed at the same time (default: 2)")
    p_verify.add_argument("--root", default=".", help="book root holding _toc.yml (default: .)")
    p_verify.set_defaults(func=_verify)
    p_numerics = sub.add_parser(
        "numerics",
        help="run a command with the environment of one numerics path of audit-numerics (make test's foreign passes)",
    )
    p_numerics.add_argument("path", help="native, again, default, avx2 or avx512")
    p_numerics.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    p_numerics.set_defaults(func=_numerics)
    p_strip = sub.add_parser("strip", help="remove per-cell execution timestamps from executed notebooks (in place)")
    p_strip.add_argument("notebooks", nargs="+", help="notebooks to clean")
    p_strip.set_defaults(func=_strip)
    p_toc = sub.add_parser("toc", help="print the notebooks listed in _toc.yml")
    p_toc.add_argument("--root", default=".", help="book root holding _toc.yml (default: .)")
    p_toc.set_defaults(func=_toc)
    p_params = sub.add_parser(
        "params",
        help="check (or --write) each chapter's parameters cell against ctdepth_lib/parameters.yaml",
    )
    p_params.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapters/X.ipynb, a stem X, or all (default)")
    p_params.add_argument("--write", action="store_true", help="regenerate the cells from parameters.yaml (in place)")
    p_params.add_argument("--root", default=".", help="book root holding _toc.yml (default: .)")
    p_params.set_defaults(func=_params)
    p_cost = sub.add_parser("cost", help="memory and time per gradient: backprop through the unroll vs the adjoint")
    p_cost.add_argument(
        "--n", type=int, nargs="+", default=[64, 256, 1024, 4096], help="depths N (default: 64 256 1024 4096)"
    )
    p_cost.add_argument("--batch", type=int, default=128, help="points per batch (default: 128)")
    p_cost.add_argument("--d", type=int, default=8, help="state dimension (default: 8)")
    p_cost.add_argument("--width", type=int, default=32, help="hidden width of the field's MLP (default: 32)")
    p_cost.add_argument(
        "--repeats", type=int, default=2, help="timed repetitions per configuration; the fastest is kept (default: 2)"
    )
    p_cost.set_defaults(func=_cost)
    p_bench = sub.add_parser(
        "bench", help="resnet_unroll against torchdiffeq's Euler; exit 1 when the target ratio is missed"
    )
    p_bench.add_argument("--d", type=int, default=64, help="state dimension (default: 64)")
    p_bench.add_argument("--batch", type=int, default=256, help="batch of initial points (default: 256)")
    p_bench.add_argument("--steps", type=int, default=1000, help="depth N of the unroll (default: 1000)")
    p_bench.add_argument("--runs", type=int, default=5, help="runs, each timing both side by side (default: 5)")
    p_bench.set_defaults(func=_bench)
    p_sweep = sub.add_parser(
        "sweep",
        help="run chapters x seeds x parameter sets with papermill on Dask; one table DIR/results.parquet",
        description="Run each CHAPTER once per seed and parameter set with papermill, as Dask tasks (a LocalCluster "
        "here, or --scheduler ADDRESS), into DIR/runs/; rebuild DIR/results.parquet (one row per claim per run). "
        "A rerun resumes: runs recorded for the same code version are skipped.",
    )
    p_sweep.add_argument("chapters", nargs="+", metavar="CHAPTER", help="chapters/X.ipynb, a stem X, or all")
    p_sweep.add_argument("--seeds", required=True, metavar="A-B", help="seeds A..B inclusive (or A, or a comma list)")
    p_sweep.add_argument("--quick", action="store_true", help="start from each chapter's quick parameters")
    p_sweep.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="set a parameter (parsed like papermill -p); repeat a NAME for a grid of values",
    )  # fmt: skip
    where = p_sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="LocalCluster worker processes (default: CPUs)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster, e.g. tcp://host:8786")
    p_sweep.add_argument("--out", required=True, metavar="DIR", help="folder of the sweep (a rerun resumes it)")
    p_sweep.add_argument("--timeout", type=float, default=600, help="seconds one cell may run (default 600)")
    p_sweep.add_argument("--connect-timeout", type=float, default=10, help="seconds to reach --scheduler (default 10)")
    p_sweep.add_argument("--root", default=".", help="book root holding _toc.yml and chapters/ (default: .)")
    p_sweep.add_argument("--force", action="store_true", help="rerun also the runs already recorded")
    p_sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_sweep.set_defaults(func=_sweep)
    return parser


if __name__ == "__main__":
    sys.exit(main())
