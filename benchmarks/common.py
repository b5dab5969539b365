"""What the benchmark sections share: where results go, the device and model choice, the load note.

Every section imports from here, and this module imports no other section, so the suite's imports run one way
(``python -m benchmarks`` -> benchmarks.cli -> run, table8, gpu -> sections -> common).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mer.errors import InputError

RESULTS = Path(__file__).resolve().parent / "results"


def resolve_device(text: str) -> Any:
    """mer's device choice (mer.engine.device), limited to what the suite measures: cpu and cuda:N."""
    from mer.engine import device

    chosen = device.resolve_device(text)
    if chosen.type not in ("cpu", "cuda"):
        raise InputError(f"--device {text!r}: only cpu and cuda:N are supported")
    return chosen


def create_model(name: str) -> tuple[Any, tuple[int, int, int]]:
    """A model in eval mode and its input size (C, H, W); non-mer timm models get 4 input channels."""
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)

    if name.startswith("mer_"):
        model = timm.create_model(name, num_classes=5)
        size = tuple(model.pretrained_cfg.get("input_size", (4, 282, 231)))
    else:
        model = timm.create_model(name, num_classes=5, in_chans=4)
        size = (4, 282, 231)
    return model.eval(), size  # type: ignore[return-value]


def load_note(before: float, after: float) -> str:
    """How busy the machine was: the 1-minute load average at the start and end of a run, flagged above half
    the logical CPUs (then rows compare only as ratios within the run)."""
    cpus = os.cpu_count() or 1
    worst = max(before, after)
    if worst > 0.5 * cpus:
        return (
            f"measured under load: 1-min load average {before:.1f} at start, {after:.1f} at end on {cpus} "
            "logical CPUs; compare rows as ratios within this run"
        )
    return f"1-min load average {before:.1f} at start, {after:.1f} at end on {cpus} logical CPUs"
