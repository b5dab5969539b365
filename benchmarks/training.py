"""Training throughput: samples per second of full training steps (forward, cross-entropy, backward, Adam).

Each row times ``steps`` steps of one model at one batch size and precision on random inputs of the model's
declared size, after ``warmup`` untimed steps, the device synchronised around each step; samples/s = batch /
median step seconds. fp32 steps are true fp32 (TF32 off on CUDA); ``amp_bf16`` and ``amp_fp16`` run the forward
pass under autocast (fp16 with a GradScaler), as ``mer train --amp`` does. The loss is the classification loss
alone (auxiliary heads of FR, MJFN and MOL are not run), so a row measures the network the table names. On CUDA
the peak GPU memory of the timed steps is recorded. A step that fails (out of memory) gives a row saying why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks.speed import (
    TimingPolicy,
    _reason,
    example_batch,
    load_average,
    peak_memory_mb,
    peak_memory_reset,
    tf32_mode,
    time_batches,
)

TRAIN_PRECISIONS = ("fp32", "amp_bf16", "amp_fp16")


def training_precisions(device: torch.device, requested: list[str] | None = None) -> list[str]:
    """fp32 and bf16 autocast on CUDA (fp16 with a GradScaler on request), fp32 alone on a CPU by default."""
    if requested is not None:
        bad = [p for p in requested if p not in TRAIN_PRECISIONS]
        if bad:
            raise ValueError(f"training precisions {bad}: choose from {', '.join(TRAIN_PRECISIONS)}")
        return [p for p in requested if device.type == "cuda" or p != "amp_fp16"]
    return ["fp32", "amp_bf16"] if device.type == "cuda" else ["fp32"]


def _step_fn(model: torch.nn.Module, device: torch.device, precision: str, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtype = {"amp_bf16": torch.bfloat16, "amp_fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "amp_fp16")

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return float(loss.detach())

    return step


def training_row(
    name: str, model: torch.nn.Module, device: torch.device, batch_size: int, precision: str, policy: TimingPolicy,
    input_size: tuple[int, int, int],
) -> dict[str, Any]:  # fmt: skip
    """One timed row (see the module docstring); ``status`` says "ok" or why it failed."""
    row: dict[str, Any] = {
        "model": name, "precision": precision, "batch_size": batch_size, "device": str(device), "status": "ok",
    }  # fmt: skip
    try:
        model = model.to(device).train()
        x = example_batch(batch_size, input_size).to(device)
        y = torch.arange(batch_size, device=device) % 5
        peak_memory_reset(device)
        with tf32_mode(False) if device.type == "cuda" else _null():
            step = _step_fn(model, device, precision, x, y)
            first = step()
            times = time_batches(step, device, policy)
        med = float(np.median(times))
        row.update(
            samples_per_s=batch_size / med,
            step_ms_median=1e3 * med,
            step_ms_p90=1e3 * float(np.percentile(times, 90)),
            steps=len(times),
            first_loss=first,
            peak_mem_mb=peak_memory_mb(device),
            load_avg_1m=load_average(),
        )
    except Exception as err:  # noqa: BLE001 - out of memory or an unsupported precision is a result
        row["status"] = f"failed: {_reason(err)}"
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


def _null():
    import contextlib

    return contextlib.nullcontext()


def training_table(
    models: list[str],
    device: torch.device,
    batch_sizes: list[int],
    precisions: list[str] | None = None,
    policy: TimingPolicy | None = None,
    create=None,
) -> pd.DataFrame:
    """Training throughput rows for every model, batch size and precision (see :func:`training_row`).

    ``create(name) -> (model, input_size)`` builds a model (default: benchmarks.common.create_model, in eval mode;
    it is switched to train mode here)."""
    if create is None:
        from benchmarks.common import create_model as create
    policy = policy or TimingPolicy(warmup=2, min_repeats=5, max_repeats=30, min_seconds=2.0)
    rows = []
    for name in models:
        for precision in training_precisions(device, precisions):
            for bs in batch_sizes:
                model, size = create(name)  # fresh weights and optimiser state per row
                rows.append(training_row(name, model, device, bs, precision, policy, size))
                del model
    return pd.DataFrame(rows)
