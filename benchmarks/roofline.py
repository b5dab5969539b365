"""Roofline: how close each model runs to the device's dense matmul rate, measured in the same run.

Convention: one multiply-add (MAC) = 2 floating-point operations (flops). fvcore's GMACs count a multiply-add
once, so a model's achieved rate is ``2 * GMACs * FPS`` GFLOP/s, and ``torch.mm`` of two n x n matrices does
``2 * n**3`` flops. A row's fraction compares it with the matmul rate of its own precision (fp32 rows with the
fp32 matmul, bf16 rows with the bf16 matmul); on CUDA the fp32 matmul runs with TF32 off (true fp32) and the
tf32 one with it on.

The matmul rate is a measured reference, not the hardware's peak: a model can pass it (fraction above 1) when its
convolutions do fewer arithmetic operations than 2 x MACs (Winograd or FFT kernels in oneDNN, cuDNN or ONNX
Runtime), when one n x n product is not the device's best case (size, cache), or when the machine's load changed
between the two measurements. Such rows are flagged in ``note``, never clipped.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks.speed import DTYPES, TimingPolicy, load_average, time_batches


def matmul_rate(
    device: torch.device, precision: str = "fp32", n: int = 2048, policy: TimingPolicy | None = None
) -> dict[str, Any]:
    """Median GFLOP/s of ``torch.mm`` on two n x n matrices of ``precision`` (2 n^3 flops per product)."""
    policy = policy or TimingPolicy(warmup=3, min_repeats=10, max_repeats=100, min_seconds=2.0)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, DTYPES[precision])
    b = torch.randn(n, n, generator=g).to(device, DTYPES[precision])
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"  # the fp32 figure is true fp32
    try:
        with torch.inference_mode():
            times = time_batches(lambda: torch.mm(a, b), device, policy)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    flops = 2.0 * n**3
    return {
        "device": str(device),
        "precision": precision,
        "n": n,
        "flops_per_product": flops,
        "gflops_median": flops / float(np.median(times)) / 1e9,
        "gflops_p90_time": flops / float(np.percentile(times, 90)) / 1e9,
        "repeats": len(times),
        "load_avg_1m": load_average(),
        "convention": "2 flops per multiply-add",
    }


def matmul_table(
    device: torch.device, precisions: list[str], n: int = 2048, policy: TimingPolicy | None = None
) -> pd.DataFrame:
    """One :func:`matmul_rate` row per precision; a precision this device cannot run gets a status instead."""
    rows = []
    for precision in precisions:
        try:
            rows.append({**matmul_rate(device, precision, n, policy), "status": "ok"})
        except Exception as err:  # noqa: BLE001 - e.g. fp16 matmul unsupported on an old CPU
            rows.append({"device": str(device), "precision": precision, "n": n, "status": f"failed: {err}"})
    return pd.DataFrame(rows)


def roofline_table(
    speed: pd.DataFrame, complexity: pd.DataFrame, matmul: pd.DataFrame, gmacs_column: str = "gmacs"
) -> pd.DataFrame:
    """Achieved GFLOP/s and fraction of the matmul rate for every successful speed row.

    ``complexity`` maps ``model`` to ``gmacs_column`` (fvcore multiply-adds per sample at the model's input
    size).
    """
    columns = [
        "model",
        "backend",
        "precision",
        "channels_last",
        "batch_size",
        "fps",
        "gmacs",
        "achieved_gflops",
        "matmul_gflops",
        "fraction_of_matmul",
        "note",
    ]
    if speed.empty or "fps" not in speed or complexity.empty:
        return pd.DataFrame(columns=columns)
    ok = speed[speed["status"] == "ok"].copy()
    gmacs = complexity.set_index("model")[gmacs_column].astype(float).to_dict()
    mm = {}
    with contextlib.suppress(KeyError):
        # the best pass per precision (the rate is measured before and after the speed section)
        mm = matmul[matmul["status"] == "ok"].groupby("precision")["gflops_median"].max().to_dict()
    ok["gmacs"] = ok["model"].map(gmacs)
    ok["achieved_gflops"] = 2.0 * ok["gmacs"] * ok["fps"]
    ok["matmul_gflops"] = ok["precision"].map(mm)
    ok["fraction_of_matmul"] = ok["achieved_gflops"] / ok["matmul_gflops"]
    ok["note"] = ok["fraction_of_matmul"].map(above_peak_note)
    return ok[columns].reset_index(drop=True)


ABOVE_PEAK = (
    "ABOVE the measured matmul rate: a reference, not the hardware peak (fewer real flops than 2 x MACs in "
    "Winograd/FFT convolution kernels, a matmul size that is not the device's best, or load that changed between "
    "the two measurements)"
)


def above_peak_note(fraction: float) -> str:
    """The flag for a row above 100 % of the measured matmul rate ("" otherwise)."""
    return ABOVE_PEAK if fraction == fraction and fraction > 1.0 else ""
