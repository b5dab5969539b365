"""``python -m benchmarks``: ``run`` the suite, count ``complexity``, re-render a ``report``.

    python -m benchmarks run --device cpu|cuda:N [--out DIR] [--models ...] [--batch-sizes 1 64]
                             [--backends eager compile onnxruntime] [--runs RUN ...] [--quick]

Sections, in order: dense matmul rate, complexity (fvcore), speed, roofline, training throughput, accuracy (from
training runs' predictions.csv), end to end (mer.inference.Predictor on a 200-frame clip and a 10 s 720p video), real
faces (benchmarks.realfaces: spotting and naming micro-expressions put into real videos). Results go to DIR (default
benchmarks/results/<device-name>/): complexity.csv, speed.csv, matmul.csv, roofline.csv, training.csv,
accuracy.csv, e2e.csv, meta.json, report.md and report.html (with plotly.min.js beside it, so it reads offline), and
realfaces.csv with realfaces.md. ``python -m benchmarks accuracy`` (benchmarks.table8) trains and writes Table 8;
``benchmarks/gpu.sh`` is the whole GPU run in one script.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common import RESULTS, create_model, load_note, resolve_device
from mer.cli import run_command
from mer.errors import InputError

QUICK_MODELS = ["mer_dbfem_caffm"]
MATRIX_MODELS = ["mer_dbfem_caffm"]  # every backend/precision/layout; other models: eager and onnxruntime fp32
BASIC_BACKENDS = ["eager", "onnxruntime"]


@dataclass
class Plan:
    """What one ``run`` measures (resolved from the command line and ``--quick``)."""

    device: Any
    models: list[str]
    matrix_models: list[str]
    batch_sizes: list[int]
    backends: list[str]
    channels_last: bool
    half: list[str] | None
    policy: Any
    matmul_n: int
    e2e_runs: int
    e2e_frames: int
    e2e_long_clips: tuple[float, ...] = ()  # seconds of each long video, analysed once in a fresh process
    compile_batch_sizes: list[int] | None = None  # compiled backends only at these batch sizes (None: all)
    training_batch_sizes: list[int] | None = None
    training_precisions: list[str] | None = None
    training_policy: Any = None
    compile_budget_s: float | None = None  # compiled variants are skipped once the speed section ran this long


def build_parser(commands: Sequence[Callable[[Any], None]] = ()) -> argparse.ArgumentParser:
    """The parser of ``run``, ``complexity`` and ``report``; each of ``commands`` adds its subcommand (the suite's
    other commands, see benchmarks.cli)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Re-run the paper's Tables 5, 7 and 8 on a chosen device."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="measure and write CSV, Markdown and HTML tables")
    add_speed_arguments(run)
    add_section_arguments(run)
    run.set_defaults(func=run_suite)
    comp = sub.add_parser("complexity", help="params and GMACs (fvcore) beside the paper", add_help=False)
    comp.set_defaults(func=None)
    for add_parser in commands:
        add_parser(sub)
    rep = sub.add_parser("report", help="re-render report.md and report.html from the CSVs in DIR")
    rep.add_argument("dir", type=Path)
    rep.set_defaults(func=rerender)
    return parser


def add_speed_arguments(run: argparse.ArgumentParser) -> None:
    """``run``'s options of what is timed: device, models, batch sizes, backends, precisions, layouts."""
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    run.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/<device-name>)")
    run.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="timm model names (default: every registered mer_* model; --quick: mer_dbfem_caffm)",
    )
    run.add_argument(
        "--matrix-models",
        nargs="+",
        default=None,
        help="models timed with every backend, precision and layout (default mer_dbfem_caffm; 'all'); "
        "the other models get eager and onnxruntime fp32 rows",
    )
    run.add_argument("--batch-sizes", nargs="+", type=int, default=None, help="default 1 64 (--quick: 1 4)")
    run.add_argument(
        "--backends",
        nargs="+",
        default=None,
        help="eager compile jit_freeze onnxruntime (default: eager compile onnxruntime; --quick: eager onnxruntime)",
    )
    run.add_argument(
        "--precisions",
        nargs="*",
        default=None,
        help="reduced precisions for eager/compile (default: fp16 bf16 on CUDA, bf16 on CPUs with "
        "native bf16; pass none to skip)",
    )
    run.add_argument("--no-channels-last", action="store_true", help="skip the channels_last variants")
    run.add_argument(
        "--compile-batch-sizes",
        nargs="+",
        type=int,
        default=None,
        help="time the compiled backends (compile, cudagraphs) only at these batch sizes (default: every batch "
        "size); each compiles once per batch size, the slow part of a GPU run",
    )


def add_section_arguments(run: argparse.ArgumentParser) -> None:
    """``run``'s options of the other sections (training, matmul, accuracy, end to end) and of the run as a whole."""
    run.add_argument(
        "--training-batch-sizes",
        nargs="+",
        type=int,
        default=None,
        help="training throughput batch sizes for the matrix models (default 16; --quick: 2)",
    )
    run.add_argument(
        "--training-precisions",
        nargs="+",
        default=None,
        help="fp32 amp_bf16 amp_fp16 (default: fp32 and amp_bf16 on CUDA, fp32 on a CPU)",
    )
    run.add_argument(
        "--compile-budget-s",
        type=float,
        default=None,
        help="once the speed section has run this many seconds, skip the remaining compiled variants (rows say so)",
    )
    run.add_argument("--matmul-n", type=int, default=2048, help="matrix size of the dense matmul rate (GPU: 8192)")
    run.add_argument(
        "--runs",
        nargs="+",
        type=Path,
        default=[],
        help="training run folders (each with predictions.csv) for the accuracy table",
    )
    run.add_argument("--checkpoint", type=Path, default=None, help="checkpoint for the end-to-end section")
    run.add_argument(
        "--skip",
        nargs="+",
        default=[],
        choices=["complexity", "speed", "training", "accuracy", "e2e", "realfaces"],
        help="sections to leave out; their CSVs already in --out are kept (speed covers matmul and roofline)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes on a laptop CPU: one model, batch 1 and 4, few repeats, no compile, one 10 s long video",
    )


def available_models() -> list[str]:
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)

    return sorted(timm.list_models("mer_*"))


def make_plan(args: argparse.Namespace) -> Plan:
    from benchmarks.e2e import LONG_CLIPS_S
    from benchmarks.speed import BACKENDS, DEFAULT_BACKENDS, TimingPolicy

    device = resolve_device(args.device)
    known = available_models()
    models = args.models or ([m for m in QUICK_MODELS if m in known] or known[:1] if args.quick else known)
    if not models:
        raise InputError("no mer_* models are registered (is the mer package installed?); pass --models")
    backends = args.backends or list(BASIC_BACKENDS if args.quick else DEFAULT_BACKENDS)
    bad = [b for b in backends if b not in BACKENDS]
    if bad:
        raise InputError(f"unknown backend(s) {bad}; choose from {', '.join(BACKENDS)}")
    half = None if args.precisions is None else [p for p in args.precisions if p != "none"]
    if half and any(p not in ("fp16", "bf16") for p in half):
        raise InputError(f"--precisions takes fp16 and/or bf16 (or none), got {args.precisions}")
    batch_sizes = args.batch_sizes or ([1, 4] if args.quick else [1, 64])
    if any(b < 1 for b in batch_sizes):
        raise InputError(f"--batch-sizes must be positive, got {batch_sizes}")
    policy = (
        TimingPolicy(warmup=1, min_repeats=3, max_repeats=10, min_seconds=0.3)
        if args.quick
        else TimingPolicy(warmup=1, min_repeats=5, max_repeats=50, min_seconds=2.0)
    )
    if args.matrix_models == ["all"]:
        matrix = list(models)
    else:
        matrix = [m for m in (args.matrix_models or MATRIX_MODELS) if m in models] or models[:1]
    return Plan(
        device=device,
        models=models,
        matrix_models=matrix,
        batch_sizes=batch_sizes,
        backends=backends,
        channels_last=not args.no_channels_last,
        half=half,
        policy=policy,
        matmul_n=args.matmul_n,
        e2e_runs=1 if args.quick else 3,
        e2e_frames=200,
        # --quick: one 10 s video for the long-video path (the 60 s and 5 minute ones took 3.5 of its 4.5 minutes)
        e2e_long_clips=(10.0,) if args.quick else LONG_CLIPS_S,
        compile_batch_sizes=args.compile_batch_sizes,
        compile_budget_s=args.compile_budget_s,
        training_batch_sizes=args.training_batch_sizes or ([2] if args.quick else [16]),
        training_precisions=args.training_precisions,
        training_policy=TimingPolicy(warmup=0, min_repeats=1, max_repeats=2, min_seconds=0.0)
        if args.quick
        else TimingPolicy(warmup=2, min_repeats=5, max_repeats=30, min_seconds=2.0),
    )


def complexity_section(models: list[str]) -> pd.DataFrame:
    """Table 5/7 complexity from benchmarks.complexity, with a ``gmacs`` column for the roofline."""
    from benchmarks.complexity import DEFAULT_MODELS, complexity_table

    # counting is cheap: every Table 5/7 model is listed, plus any other model timed here
    names = list(dict.fromkeys([*DEFAULT_MODELS, *models]))
    return complexity_table(models=names)


def speed_section(plan: Plan, bar: Any, host: dict[str, Any]) -> pd.DataFrame:
    """Speed rows: per model and batch size, every variant checked, then timed interleaved."""
    from benchmarks.speed import OnnxCache, measure_batch

    def progress(text: str) -> None:
        bar.set_description(f"speed {text}")
        if not text.endswith("interleaved"):
            bar.update(1)

    rows, t0 = [], time.perf_counter()
    for name in plan.models:
        model, size = create_model(name)
        onnx = OnnxCache()
        try:
            for bs in plan.batch_sizes:
                variants, skipped = over_budget(plan, plan_variants(plan, name, bs), time.perf_counter() - t0)
                for v in skipped:
                    progress(f"{name} b{bs} {v.name}: skipped (time budget)")
                    rows.append({**skipped_row(name, plan.device, v, bs, size, plan.compile_budget_s), **host})
                for row in measure_batch(model, name, plan.device, variants, bs, plan.policy, onnx, size, progress):
                    rows.append({**row, **host})
        finally:
            onnx.close()
        del model
    return pd.DataFrame(rows)


def over_budget(plan: Plan, variants: list[Any], elapsed_s: float) -> tuple[list[Any], list[Any]]:
    """(variants to measure, compiled variants skipped because the speed section has used its time budget)."""
    from benchmarks.speed import COMPILED_BACKENDS

    if plan.compile_budget_s is None or elapsed_s <= plan.compile_budget_s:
        return variants, []
    return [v for v in variants if v.backend not in COMPILED_BACKENDS], [
        v for v in variants if v.backend in COMPILED_BACKENDS
    ]


def skipped_row(name: str, device: Any, variant: Any, bs: int, size: tuple, budget: float | None) -> dict[str, Any]:
    from benchmarks.speed import _base_row

    row = _base_row(name, device, variant, bs, size)
    row["status"] = f"skipped: the speed section passed its {budget:.0f} s budget for compiled backends"
    return row


def plan_variants(plan: Plan, model: str, batch_size: int | None = None) -> list[Any]:
    """The full variant matrix for ``plan.matrix_models``; eager and onnxruntime fp32 for the others. Compiled
    backends only at ``plan.compile_batch_sizes`` when given."""
    from benchmarks.speed import COMPILED_BACKENDS, Variant, variants_for

    if model in plan.matrix_models:
        variants = variants_for(plan.device, plan.backends, plan.channels_last, plan.half)
    else:
        variants = [Variant(b) for b in BASIC_BACKENDS if b in plan.backends]
    if batch_size is not None and plan.compile_batch_sizes is not None and batch_size not in plan.compile_batch_sizes:
        variants = [v for v in variants if v.backend not in COMPILED_BACKENDS]
    return variants


def run_suite(args: argparse.Namespace) -> int:
    """``python -m benchmarks run``: every section the arguments keep, then the CSVs and the report."""
    import torch

    from benchmarks import report
    from benchmarks.speed import device_slug, host_metadata, load_average, physical_cores

    for run in args.runs:  # fail before the long part
        if not (Path(run) / "predictions.csv").is_file():
            raise InputError(f"--runs {run}: no predictions.csv there; give training run folders")
    plan = make_plan(args)
    if plan.device.type == "cpu":
        torch.set_num_threads(physical_cores())
    host = host_metadata(plan.device)
    out = args.out or RESULTS / device_slug(plan.device)
    started, t0, load0 = time.strftime("%Y-%m-%d %H:%M:%S %z"), time.perf_counter(), load_average()
    kept, kept_meta = report.read_outputs(out) if args.skip else ({}, {})
    tables = measure_sections(plan, args, host, kept)
    meta = run_meta(plan, args, host, started, time.perf_counter() - t0, load_note(load0, load_average()))
    if args.skip and kept_meta:
        meta["kept_from_earlier_run"] = kept_provenance(args.skip, kept_meta)
    paths = report.write_outputs(out, tables, meta)
    if "realfaces" not in args.skip:  # spotting and naming on real videos: a section of its own files
        from benchmarks import realfaces

        paths += realfaces.write_section(out, realfaces.realfaces_table(args.checkpoint, args.quick))
    print(f"wrote {len(paths)} files to {out} (report: {out / 'report.md'}, {out / 'report.html'})")
    return 0


def kept_provenance(skip: list[str] | set[str], kept_meta: dict[str, Any]) -> dict[str, Any]:
    """Where the kept sections were measured: the run whose `meta.json` was in --out for the sections it measured,
    and, under "earlier", the run that one had itself kept its other sections from (carried forward, so a chain of
    --skip runs never loses where a figure came from)."""
    before = kept_meta.get("kept_from_earlier_run") or {}
    carried = set(skip) & set(before.get("sections", []))
    kept = {
        "sections": sorted(set(skip) - carried),
        "started": kept_meta.get("started"),
        "duration_s": kept_meta.get("duration_s"),
        "command": kept_meta.get("command"),
        "load_note": kept_meta.get("load_note"),
    }
    if carried:
        kept["earlier"] = kept_provenance(carried, {**before, "kept_from_earlier_run": before.get("earlier")})
    return kept


def measure_sections(plan: Plan, args: argparse.Namespace, host: dict[str, Any], kept: dict) -> dict[str, pd.DataFrame]:
    """complexity, speed (with the matmul rate before and after it), roofline, accuracy, e2e; a skipped
    section keeps the table already in the output folder."""
    from tqdm.auto import tqdm

    from benchmarks import accuracy, e2e, roofline
    from benchmarks.speed import variants_for

    reduced = {v.precision for v in variants_for(plan.device, ["eager"], False, plan.half)} - {"fp32"}
    precisions = ["fp32", *sorted(reduced)]
    skip = set(args.skip)
    n_speed = (
        0 if "speed" in skip else sum(len(plan_variants(plan, m, b)) for m in plan.models for b in plan.batch_sizes)
    )
    tables: dict[str, pd.DataFrame] = {}
    with tqdm(total=2 * len(precisions) + 1 + n_speed + 3, unit="step", file=sys.stderr) as bar:

        def matmul(label: str) -> pd.DataFrame:
            bar.set_description(f"matmul rate ({label})")
            table = roofline.matmul_table(plan.device, precisions, plan.matmul_n).assign(run_pass=label)
            bar.update(len(precisions))
            return table

        before = matmul("before") if "speed" not in skip else None
        bar.set_description("complexity (fvcore)")
        if "complexity" in skip:
            tables["complexity"] = kept.get("complexity", pd.DataFrame(columns=["model", "gmacs"]))
        else:
            tables["complexity"] = complexity_section(plan.models)
        bar.update(1)
        if "speed" in skip:
            tables |= {name: kept.get(name, pd.DataFrame()) for name in ("speed", "matmul")}
        else:
            tables["speed"] = speed_section(plan, bar, host)
            # measured again after the speed section: on a shared machine the higher rate is the machine's
            both = pd.concat([before, matmul("after")], ignore_index=True)
            tables["matmul"] = both.assign(**{k: host[k] for k in ("cpu_model", "gpu_name")})
        tables["roofline"] = roofline.roofline_table(tables["speed"], tables["complexity"], tables["matmul"])
        bar.set_description("training throughput")
        if "training" in skip:
            tables["training"] = kept.get("training", pd.DataFrame())
        else:
            from benchmarks.training import training_table

            tables["training"] = training_table(
                plan.matrix_models,
                plan.device,
                plan.training_batch_sizes or [16],
                plan.training_precisions,
                plan.training_policy,
            )
        bar.update(1)
        bar.set_description("accuracy")
        kept_acc = kept.get("accuracy", accuracy.accuracy_table([]))
        tables["accuracy"] = kept_acc if "accuracy" in skip else accuracy.accuracy_table(args.runs)
        bar.update(1)
        bar.set_description("end to end")
        skipped = pd.DataFrame([{"stage": "all", "status": "skipped (--skip e2e)"}])
        tables["e2e"] = (
            kept.get("e2e", skipped)
            if "e2e" in skip
            else e2e.e2e_table(str(plan.device), plan.e2e_runs, args.checkpoint, plan.e2e_frames, plan.e2e_long_clips)
        )
        bar.update(1)
    return tables


def run_meta(
    plan: Plan, args: argparse.Namespace, host: dict[str, Any], started: str, seconds: float, load_note: str
) -> dict[str, Any]:
    """meta.json: what was run, where and how it was timed."""
    return {
        "device": str(plan.device),
        "host": host,
        "started": started,
        "duration_s": round(seconds, 1),
        "quick": bool(args.quick),
        "command": "python -m benchmarks " + shlex.join(getattr(args, "argv", [])),
        "models": plan.models,
        "matrix_models": plan.matrix_models,
        "batch_sizes": plan.batch_sizes,
        "compile_batch_sizes": plan.compile_batch_sizes or plan.batch_sizes,
        "training_batch_sizes": plan.training_batch_sizes,
        "backends": plan.backends,
        "timing": f"{plan.policy} (variants of one model and batch size timed interleaved, round-robin)",
        "load_note": load_note,
        "gpu_note": "" if plan.device.type == "cuda" else "none: this run is CPU only",
    }


def rerender(args: argparse.Namespace) -> int:
    from benchmarks import report

    if not (args.dir / "speed.csv").is_file() and not (args.dir / "complexity.csv").is_file():
        raise InputError(f"{args.dir} holds no benchmark CSVs; run `python -m benchmarks run --out DIR` first")
    from benchmarks import roofline

    tables, meta = report.read_outputs(args.dir)
    if len(tables["speed"]) and len(tables["complexity"]):  # derived: recomputed, so its notes follow the code
        tables["roofline"] = roofline.roofline_table(tables["speed"], tables["complexity"], tables["matmul"])
    report.write_outputs(args.dir, tables, meta)
    print(f"re-rendered {args.dir / 'report.md'} and {args.dir / 'report.html'}")
    return 0


def main(argv: list[str] | None = None, commands: Sequence[Callable[[Any], None]] = ()) -> int:
    """Runs one command line (``run``, ``complexity``, ``report`` and the subcommands ``commands`` add)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["complexity"]:
        from benchmarks import complexity

        return int(complexity.main(argv[1:]) or 0)
    args = build_parser(commands).parse_args(argv)
    args.argv = argv
    return run_command(args)
