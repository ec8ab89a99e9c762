"""Command line: ``python -m ctdepth_lib claims`` (the ledger) and ``python -m ctdepth_lib bench``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import claims as claims_mod
from .book import toc_notebooks


def _claims(args: argparse.Namespace) -> int:
    if args.notebooks:
        notebooks = [Path(p) for p in args.notebooks]
    elif args.build:
        folder = Path(args.build) / "jupyter_execute"
        if not folder.is_dir():
            print(f"error: --build {args.build}: no executed notebooks in {folder} (run `make book` first)")
            return 2
        chapters = sorted({c.chapter for c in claims_mod.registry().values()})
        notebooks = [folder / f"{ch}.ipynb" for ch in chapters if (folder / f"{ch}.ipynb").is_file()]
    else:
        notebooks = toc_notebooks(Path(args.root))
    missing = [p for p in notebooks if not p.is_file()]
    if missing:
        print(f"error: no notebook {missing[0]}")
        return 2
    try:
        fresh = claims_mod.collect_fresh(args.fresh) if args.fresh else None
    except ValueError as exc:
        print(f"error: --fresh: {exc}")
        return 2
    rows = claims_mod.ledger_rows(claims_mod.collect(notebooks), fresh=fresh)
    header = (
        f"{'id':<24} {'holds':<12} {'measured':>12}  {'threshold':<22} {'reproduced':<11}"
        f" {'tolerance':<14} {'source':<15} chapter"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.claim.id:<24} {r.verdict:<12} {r.measured_text:>12}  {r.claim.threshold:<22} {r.reproduced:<11}"
            f" {r.claim.tolerance:<14} {r.claim.source:<15} {r.claim.chapter}"
        )
        if r.reproduced == "no":
            print(f"{'':<24} fresh runs measured {r.fresh_text}: not within {r.claim.tolerance} of {r.measured_text}")
    n_pass = sum(r.verdict == "pass" for r in rows)
    n_fail = sum(r.verdict == "fail" for r in rows)
    n_none = sum(r.verdict == "not checked" for r in rows)
    print(f"\n{n_pass} passed, {n_fail} failed, {n_none} not checked ({len(notebooks)} notebooks read)")
    if fresh is not None:
        n_rep = sum(r.reproduced == "yes" for r in rows)
        n_not = sum(r.reproduced == "no" for r in rows)
        n_unrun = sum(r.reproduced == "not run" for r in rows)
        print(f"reproduced by the fresh runs in {', '.join(args.fresh)}: {n_rep} yes, {n_not} no, {n_unrun} not run")
        if n_not or n_unrun:
            return 1
    return 0 if n_fail == 0 and n_none == 0 else 1


def _bench(args: argparse.Namespace) -> int:
    from .bench import bench_unroll

    res = bench_unroll(d=args.d, batch=args.batch, n_steps=args.steps)
    print(f"resnet_unroll vs torchdiffeq euler (d={args.d}, batch={args.batch}, N={args.steps}, float64, best of 5)")
    print(f"  resnet_unroll      {res['resnet_unroll_s'] * 1e3:8.1f} ms")
    print(f"  torchdiffeq euler  {res['torchdiffeq_euler_s'] * 1e3:8.1f} ms")
    print(f"  ratio              {res['ratio']:8.3f}  (target <= 1.1)")
    return 0


def _toc(args: argparse.Namespace) -> int:
    for nb in toc_notebooks(Path(args.root)):
        print(nb.as_posix())
    return 0


def _seeds(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .notebooks import ROBUSTNESS_SEEDS, quick_parameters, run_chapter, seed_run_path

    jobs = [(nb, seed) for nb in toc_notebooks(Path(args.root)) for seed in ROBUSTNESS_SEEDS]

    def one(job: tuple[Path, int]) -> str:
        nb, seed = job
        out = seed_run_path(Path(args.out), nb, seed)
        run_chapter(nb, out, quick_parameters(nb) | {"SEED": seed}, reuse=not args.force)
        return f"{nb.stem} seed {seed}: {out}"

    # Each kernel runs one torch thread; papermill waits on the kernel, so threads suffice here.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for line in pool.map(one, jobs):
            print(line, flush=True)
    return 0


def _cost(args: argparse.Namespace) -> int:
    from .cost import main as cost_main

    return int(cost_main(args.cost_args) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctdepth_lib")
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
    p_toc = sub.add_parser("toc", help="print the notebooks listed in _toc.yml")
    p_toc.add_argument("--root", default=".")
    p_toc.set_defaults(func=_toc)
    p_seeds = sub.add_parser("seeds", help="run every chapter with its quick parameters and seeds 1, 2, 3 (cached)")
    p_seeds.add_argument("--root", default=".")
    p_seeds.add_argument("--out", default="_build/seeds")
    p_seeds.add_argument("--jobs", type=int, default=2)
    p_seeds.add_argument("--force", action="store_true", help="rerun even when a matching run exists")
    p_seeds.set_defaults(func=_seeds)
    p_cost = sub.add_parser("cost", help="memory and time per gradient: backprop through the unroll vs the adjoint")
    p_cost.add_argument("cost_args", nargs=argparse.REMAINDER, help="arguments of python -m ctdepth_lib.cost")
    p_cost.set_defaults(func=_cost)
    p_bench = sub.add_parser("bench", help="benchmark resnet_unroll against torchdiffeq's Euler")
    p_bench.add_argument("--d", type=int, default=64)
    p_bench.add_argument("--batch", type=int, default=256)
    p_bench.add_argument("--steps", type=int, default=1000)
    p_bench.set_defaults(func=_bench)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
