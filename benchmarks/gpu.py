"""The GPU run, in stages that each leave their results on disk (``benchmarks/gpu.sh`` runs them in order).

    python -m benchmarks gpu --device cuda:0 [--out DIR] [--stage main|e2e|summary|all] [--quick]

- ``main``: ``python -m benchmarks run`` with the GPU plan (:func:`stage_argv`): complexity; the dense matmul
  rate (n = 8192) in fp32, tf32, fp16 and bf16 before and after the speed section; speed of every zoo model at
  batch 1 to 256 (eager and ONNX Runtime fp32; for mer_dbfem_caffm also channels_last, tf32, fp16 and bf16
  autocast, torch.compile and CUDA graphs at batch 1 and 64, within a time budget); peak GPU memory per row;
  training throughput; the paper's reported accuracy rows. Writes every CSV and the report.
- ``e2e``: the end-to-end section alone (benchmarks.e2e: the 200-frame clip and the 10 s 720p video through
  mer.inference.Predictor), added to the same folder; a time-out here leaves ``main``'s results intact.
- ``summary``: ``gpu_summary.md``: the GPU's own matmul peak and the fraction of it reached, the speed beside the
  paper's 97.3 FPS, memory, training samples/s, end to end, and whether the run was steady.

With ``--device cpu --quick`` the main and summary stages run on a CPU in a minute or two (the tests do this;
the end-to-end stage is left to its own tests): CUDA-only variants (tf32, CUDA graphs, the CUDA execution provider)
are left out by the same selection code a GPU run uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

ZOO = ["mer_dbfem_caffm", "mer_fr", "mer_mjfn", "mer_mol"]
GPU_BATCHES = [1, 4, 16, 64, 256]
COMPILE_BATCHES = [1, 64]
STAGES = ("main", "e2e", "summary")
PAPER_FPS = 97.3  # Table 7, DBFEM+CAFFM, on hardware the paper does not name


def stage_argv(stage: str, device: str, out: Path, quick: bool = False) -> list[str]:
    """The ``python -m benchmarks run`` arguments of ``stage`` ("main" or "e2e")."""
    base = ["run", "--device", device, "--out", str(out)]
    if stage == "e2e":
        return [*base, "--skip", "complexity", "speed", "training", "accuracy", "realfaces"]
    if stage != "main":
        raise ValueError(f"stage {stage!r} is not a run stage")
    if quick:  # the CPU check of the same code paths: FR (the smallest zoo model), no compiler, no export
        return [
            *base, "--quick", "--models", "mer_fr", "--batch-sizes", "1", "2",
            "--backends", "eager", "cudagraphs", "--compile-batch-sizes", "1", "--training-batch-sizes", "2",
            "--matmul-n", "256", "--skip", "e2e", "realfaces", "complexity",
        ]  # fmt: skip
    return [
        *base, "--models", *ZOO, "--matrix-models", "mer_dbfem_caffm",
        "--batch-sizes", *map(str, GPU_BATCHES), "--backends", "eager", "compile", "cudagraphs", "onnxruntime",
        "--compile-batch-sizes", *map(str, COMPILE_BATCHES), "--compile-budget-s", "150",
        "--training-batch-sizes", "32", "128", "--matmul-n", "8192", "--skip", "e2e", "realfaces",
    ]  # fmt: skip


def default_out(device: str) -> Path:
    """benchmarks/results/<device-name>/, e.g. cuda-nvidia-h100-80gb-hbm3."""
    from benchmarks.common import RESULTS, resolve_device
    from benchmarks.speed import device_slug

    return RESULTS / device_slug(resolve_device(device))


# ------------------------------------------------------------------------------------------------ summary
def _best(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    return df.loc[df.groupby(by)[value].idxmax()] if len(df) else df


def summary_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The GPU owner's tables, from a results folder's CSVs."""
    from benchmarks.report import variant_label

    speed, matmul, roof = tables.get("speed"), tables.get("matmul"), tables.get("roofline")
    out: dict[str, pd.DataFrame] = {}
    if speed is not None and len(speed) and "fps" in speed:
        ok = speed[speed["status"] == "ok"].copy()
        ok["variant"] = variant_label(ok)
        eager = ok[ok["variant"] == "eager/fp32"].set_index(["model", "batch_size"])["fps"]
        best = _best(ok, ["model", "batch_size"], "fps")
        out["speed"] = pd.DataFrame(
            {
                "model": best["model"],
                "batch": best["batch_size"],
                "eager fp32 FPS": [eager.get((m, b)) for m, b in zip(best["model"], best["batch_size"], strict=True)],
                "fastest variant": best["variant"],
                "its FPS": best["fps"],
                "paper FPS": [PAPER_FPS if m == "mer_dbfem_caffm" else None for m in best["model"]],
                "peak GPU MiB": best.get("peak_mem_mb"),
            }
        )
    if matmul is not None and len(matmul) and "gflops_median" in matmul:
        peak = matmul[matmul["status"] == "ok"].groupby("precision")["gflops_median"].max()
        reached = (
            roof.groupby("precision")["fraction_of_matmul"].max()
            if roof is not None and len(roof) and "fraction_of_matmul" in roof
            else pd.Series(dtype=float)
        )
        out["peak"] = pd.DataFrame(
            {
                "precision": peak.index,
                "measured matmul peak (GFLOP/s)": peak.values,
                "best fraction reached by a model": [reached.get(p) for p in peak.index],
            }
        )
    for name in ("training", "e2e"):
        if tables.get(name) is not None and len(tables[name]):
            out[name] = tables[name]
    return out


def _earlier(meta: dict[str, Any]) -> str:
    kept = meta.get("kept_from_earlier_run") or {}
    return f" (the sections it kept: started {kept.get('started')}, took {kept.get('duration_s')} s)" if kept else ""


def write_summary(out: Path) -> Path:
    """``gpu_summary.md`` in ``out`` from the CSVs there; re-renders the report (plotly.min.js beside it)."""
    from benchmarks import report

    tables, meta = report.read_outputs(out)
    report.write_outputs(out, tables, meta)
    steady, why = report.steadiness(tables.get("speed", pd.DataFrame()), matmul=tables.get("matmul"))
    host = meta.get("host", {})
    parts = summary_tables(tables)
    lines = [
        f"# GPU run: {host.get('gpu_name') or meta.get('device', '?')}",
        "",
        f"Driver {host.get('gpu_driver') or '?'}, torch {host.get('torch_version')}, CUDA {host.get('cuda_version')},"
        f" onnxruntime {host.get('onnxruntime_version')}; last stage started {meta.get('started')}, took "
        f"{meta.get('duration_s')} s{_earlier(meta)}. Steady-run check: **{why}**.",
        "",
    ]
    texts = {
        "speed": "Speed per model and batch: eager fp32 and the fastest variant whose outputs matched eager fp32. "
        "The paper's 97.3 FPS (Table 7) was measured on hardware it does not name: context, not a target.",
        "peak": "The GPU's own dense matmul rate (torch.mm of two n x n matrices; fp32 with TF32 off) and "
        "the best fraction of "
        "it a model reached (2 x GMACs x FPS); above 1 is flagged in the report's roofline note.",
        "training": "Training throughput (forward, cross-entropy, backward, Adam), samples per second.",
        "e2e": "End to end through mer.inference.Predictor (benchmarks.e2e), incl. the 10 s 720p video.",
    }
    shown = {"training": report.TRAINING_SHOWN}
    for key, df in parts.items():
        lines += [f"## {key}", "", texts[key], "", report.to_markdown(df, shown.get(key)), ""]
    path = out / "gpu_summary.md"
    path.write_text("\n".join(lines))
    return path


# ------------------------------------------------------------------------------------------------ command
def run_gpu(args: Any) -> int:
    """``python -m benchmarks gpu``: one stage, or all of them in order."""
    from benchmarks.run import main as run_main

    out = args.out or default_out(args.device)
    stages = STAGES if args.stage == "all" else (args.stage,)
    if args.quick and args.stage == "all":  # the CPU check: the end-to-end clips take minutes on a CPU
        stages = ("main", "summary")
    for stage in stages:
        if stage == "summary":
            print(f"wrote {write_summary(out)}")
            continue
        code = run_main(stage_argv(stage, args.device, out, args.quick))
        if code:
            return code
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("gpu", help="the GPU run in stages (what benchmarks/gpu.sh runs)")
    p.add_argument("--device", default="cuda", help="cuda or cuda:N (cpu: the CPU check of the same code)")
    p.add_argument("--out", type=Path, default=None, help="default benchmarks/results/<device-name>")
    p.add_argument("--stage", default="all", choices=(*STAGES, "all"))
    p.add_argument("--quick", action="store_true", help="a small plan (the tests run it on a CPU)")
    p.set_defaults(func=run_gpu)
