"""``mer grid``: the leave-one-subject-out grid (models x seeds x folds), on this machine or on Slurm.

Training flags are ``mer train``'s (``--preset``, ``--epochs``, ``--set key=value``, ...), resolved the same
way; each job is one fold of one seed of one model and computes what ``mer train`` computes for it.
"""

from __future__ import annotations

import argparse
import sys

from mer.cli.train import _positive, add_config_flags, config_from_args
from mer.errors import InputError


def _slurm_options(args: argparse.Namespace):
    from mer.engine.grid import SlurmOptions

    extra = {}
    for item in args.slurm_extra or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--slurm-extra expects KEY=VALUE (an sbatch option without --), got {item!r}")
        extra[key.strip().lstrip("-")] = value
    return SlurmOptions(
        partition=args.partition,
        gpus_per_task=args.gpus_per_task,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        time_min=args.time,
        array_parallelism=args.array_parallelism,
        job_name=args.job_name,
        setup=list(args.slurm_setup or []),
        extra=extra,
    )


def _report_failures(failed: list[dict], shown: int = 3) -> None:
    for state in failed[:shown]:
        print(
            f"\nFAILED {state['job']} (log {state.get('log')}):\n{(state.get('traceback') or '').rstrip()}",
            file=sys.stderr,
        )
    if len(failed) > shown:
        print(f"... and {len(failed) - shown} more failed job(s): mer grid --status", file=sys.stderr)


def _print_merged(grid, metrics: dict) -> None:
    from mer.engine.grid import summary_frame

    first = next(iter(metrics.values()))
    print(f"data: {first['data_source'].get('description')}; mean ± std over seeds, pooled over folds")
    for row in summary_frame(metrics).itertuples():
        print(
            f"  {row.model}: accuracy {row.accuracy_mean:.4f}±{row.accuracy_std:.4f}  "
            f"uf1 {row.uf1_mean:.4f}±{row.uf1_std:.4f}  uar {row.uar_mean:.4f}±{row.uar_std:.4f}"
        )
    print(
        f"wrote {grid.root}/MODEL/predictions.csv and metrics.json for {len(metrics)} model(s), {grid.root}/summary.csv"
    )


def run_grid_cli(args: argparse.Namespace) -> int:
    from mer.engine.grid import create_grid, format_status, grid_status, merge_grid, open_grid, run_grid

    if args.status or args.merge:
        grid = open_grid(args.status or args.merge)
        if args.status:
            print(format_status(grid, grid_status(grid)))
            return 0
        _print_merged(grid, merge_grid(grid))
        return 0
    missing = [f for f, v in (("--data", args.data), ("--models", args.models), ("--out", args.out)) if not v]
    if missing:
        raise InputError(f"mer grid needs {', '.join(missing)} (or --status DIR / --merge DIR)")
    if args.set and any(item.partition("=")[0].strip() in ("model", "seeds") for item in args.set):
        raise InputError("set the grid's models and seeds with --models and --seeds, not --set")
    cfg = config_from_args(args, seeds=args.seeds or [1])
    grid = create_grid(args.out, args.data, args.models, args.seeds or [1], cfg)
    record = run_grid(
        grid,
        args.executor,
        device=args.device,
        folds_per_task=args.folds_per_task,
        processes=args.processes,
        threads=args.threads,
        slurm=_slurm_options(args) if args.executor == "slurm" else None,
        wait=not args.no_wait,
    )
    print(f"ran {record['jobs']} job(s) in {record['tasks']} task(s) in {record['wall_s']:.1f} s wall")
    if record["failed"]:
        _report_failures(record["failed"])
        print(format_status(grid, grid_status(grid)))
        return 1
    status = grid_status(grid)
    if len(status["done"]) < len(grid.jobs()):
        print(format_status(grid, status))
        print(f"when every job is done: mer grid --merge {grid.root}")
        return 0
    _print_merged(grid, merge_grid(grid))
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mer grid``."""
    p = subparsers.add_parser(
        "grid",
        help="train models x seeds x leave-one-subject-out folds, locally or on a Slurm cluster",
        description="One job per (model, seed, fold), each what `mer train` computes for it. A rerun skips "
        "done and running jobs and redoes missing and failed ones; when all are done, each model gets "
        "GRID/MODEL/predictions.csv and metrics.json. `mer grid --status GRID` shows where it stands.",
    )
    p.add_argument("--data", metavar="CACHE", help="cache folder written by `mer preprocess`")
    p.add_argument("--models", nargs="+", metavar="MODEL", help="registered model names, e.g. mer_gfem mer_dbfem")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default 1)")
    p.add_argument("--out", metavar="GRID", help="grid folder (created; reused to resume or extend)")
    p.add_argument("--status", metavar="GRID", help="show done, running, failed and missing jobs, then exit")
    p.add_argument("--merge", metavar="GRID", help="merge a finished grid (refused while jobs are not done)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default) in each job")
    add_config_flags(p)
    g = p.add_argument_group("execution")
    g.add_argument("--executor", choices=("local", "slurm"), default="local", help="default local")
    g.add_argument("--folds-per-task", type=int, default=1, metavar="N", help="jobs packed into one task")
    g.add_argument("--processes", type=int, default=1, metavar="N", help="local: tasks at once (default 1)")
    g.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="local: torch threads per process (default $OMP_NUM_THREADS, else cores/N)",
    )
    g = p.add_argument_group("slurm (with --executor slurm; needs submitit: pip install 'mer[slurm]')")
    g.add_argument("--partition", help="partition (default: the cluster's default)")
    g.add_argument("--gpus-per-task", type=_positive, default=0, metavar="G", help="default 0")
    g.add_argument("--cpus-per-task", type=_positive, default=2, metavar="C", help="default 2")
    g.add_argument("--mem-gb", type=float, metavar="GB", help="memory per task (default: the partition's)")
    g.add_argument("--time", type=int, default=60, metavar="MIN", help="time limit per task, minutes (default 60)")
    g.add_argument("--array-parallelism", type=int, default=64, metavar="N", help="array tasks at once (default 64)")
    g.add_argument("--job-name", default="mer-grid")
    g.add_argument(
        "--slurm-setup",
        nargs="+",
        action="extend",
        metavar="LINE",
        help="shell lines run before each task, e.g. 'module load cuda'",
    )
    g.add_argument(
        "--slurm-extra",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="other sbatch options, e.g. account=lab qos=short",
    )
    g.add_argument("--no-wait", action="store_true", help="submit and return; follow with mer grid --status")
    p.set_defaults(func=run_grid_cli)
