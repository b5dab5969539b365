"""Devices and precisions: one home for choosing a torch device, autocast, and the fast inference variant.

The fast variant is what the benchmark suite checks against eager fp32 on each device (``benchmarks/speed.py``):
channels_last memory with bfloat16 autocast where the CPU computes bf16 natively (AVX512-BF16 or AMX), float16
autocast on a CUDA GPU, else plain fp32.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from mer.errors import InputError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(text: str = "auto") -> torch.device:
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a torch device.

    InputError when the text is no device or CUDA is asked for but absent.
    """
    if text == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise InputError(f"--device {text!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {text} asked for, but torch sees no CUDA device; use --device cpu")
        return torch.device("cuda", device.index or 0)
    return device


def autocast(device: torch.device, precision: str = "fp32") -> AbstractContextManager:
    """torch.autocast for ``precision`` ("fp32": disabled, "bf16", "fp16") on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if PRECISIONS[precision] is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=PRECISIONS[precision])


def mixed_precision(device: torch.device) -> str:
    """The reduced precision a device computes fast: "fp16" on CUDA, "bf16" on a CPU with native bf16, else fp32."""
    if device.type == "cuda":
        return "fp16"
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "bf16"
    return "fp32"


@dataclass(frozen=True)
class Variant:
    """How a model runs for inference: its precision and memory format."""

    precision: str = "fp32"
    channels_last: bool = False

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __str__(self) -> str:
        return f"{self.precision}{', channels_last' if self.channels_last else ''}"


def fast_variant(device: torch.device) -> Variant:
    """The fastest eager variant on ``device`` that the benchmark suite checks against fp32 (no compile step)."""
    precision = mixed_precision(device)
    return Variant(precision, channels_last=precision != "fp32")
