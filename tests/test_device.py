"""mer.engine.device and the Predictor's fast variant: the same answer and the same Grad-CAM as plain fp32.

Data: the shipped demo checkpoint on an example clip (synthetic, made by `mer synth`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mer.engine.device import Variant, autocast, fast_variant, mixed_precision, resolve_device
from mer.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic_surprise.webm"


def test_resolve_device_says_what_is_wrong():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="not a device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            resolve_device("cuda:1")


def test_autocast_fp32_is_off_and_bf16_computes_in_bf16():
    x = torch.randn(4, 4)
    with autocast(torch.device("cpu"), "fp32"):
        assert (x @ x).dtype == torch.float32
    with autocast(torch.device("cpu"), "bf16"):
        assert (x @ x).dtype == torch.bfloat16
    with pytest.raises(ValueError):
        autocast(torch.device("cpu"), "int8")


def test_fast_variant_follows_the_cpu():
    variant = fast_variant(torch.device("cpu"))
    assert variant.precision == mixed_precision(torch.device("cpu"))
    assert variant.channels_last == (variant.precision != "fp32")


@pytest.mark.slow
def test_the_predictor_in_bf16_channels_last_answers_like_fp32_and_draws_its_maps_in_fp32():
    from mer.inference import Predictor

    fast = Predictor.from_checkpoint(variant=Variant("bf16", channels_last=True))
    plain = Predictor.from_checkpoint(variant=Variant())
    quick, b = fast(EXAMPLE, explain=False), plain(EXAMPLE)  # the answer alone runs in bf16
    assert quick.label == b.label == "surprise"
    assert abs(quick.probabilities["surprise"] - b.probabilities["surprise"]) < 0.05
    a = fast(EXAMPLE)  # with the maps: Grad-CAM in fp32, channels_last kept
    assert a.label == "surprise" and abs(a.probabilities["surprise"] - b.probabilities["surprise"]) < 0.01
    for branch, heat in b.gradcam.items():
        if heat.std() == 0 or a.gradcam[branch].std() == 0:  # a flat map (e.g. all 0: no positive evidence) has
            assert np.allclose(a.gradcam[branch], heat, atol=1e-3), branch  # no correlation: then it must match
            continue
        r = np.corrcoef(a.gradcam[branch].ravel(), heat.ravel())[0, 1]
        assert r > 0.99, (branch, r)
