"""The facts every layer shares, with no dependencies: the crop, the input modalities, the class sets.

``mer.data`` (which makes model inputs) and ``mer.models`` (which reads them) both import from here and never from
each other.
"""

from __future__ import annotations

from typing import Any

# Height, width of the aligned face crop: the paper's 231 x 282 input, written (H, W).
CROP_HW: tuple[int, int] = (282, 231)

# The paper's five CASME II classes: fear and sadness are merged into "others".
CASME2_5 = ("happiness", "disgust", "surprise", "repression", "others")
# The MEGC 2019 composite's three classes.
MEGC_3 = ("negative", "positive", "surprise")

LABEL_SETS: dict[str, tuple[str, ...]] = {"casme2_5": CASME2_5, "megc_3": MEGC_3}
# The label set that keeps each sheet's own emotion words.
RAW_LABEL_SET = "emotion"
# The databases `mer preprocess` reads (one module each in mer.data.datasets).
DATASET_NAMES = ("casme2", "samm", "megc")

# Emotion words as the sheets write them (lower-cased) -> class name, per label set.
EMOTION_MAPS: dict[str, dict[str, str]] = {
    "casme2_5": {
        "happiness": "happiness",
        "disgust": "disgust",
        "surprise": "surprise",
        "repression": "repression",
        "others": "others",
        "fear": "others",
        "sadness": "others",
    },
    "megc_3": {
        "negative": "negative",
        "positive": "positive",
        "surprise": "surprise",
        # CASME II / SAMM emotions -> MEGC 2019 composite classes
        "happiness": "positive",
        "disgust": "negative",
        "repression": "negative",
        "anger": "negative",
        "contempt": "negative",
        "fear": "negative",
        "sadness": "negative",
    },
}

# Per input modality: the name of every channel of the model input and its normalisation. The last channel is
# always the AU-region mask (0/1, mean 0 and std 1 so it stays 0/1).
MODALITY_CFGS: dict[str, dict[str, Any]] = {
    "flow": dict(
        modality="flow",
        channels=("u", "v", "strain", "au_mask"),
        mean=(0.0, 0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0, 1.0),
    ),
    "apex": dict(
        modality="apex",
        channels=("r", "g", "b", "au_mask"),
        mean=(0.5, 0.5, 0.5, 0.0),
        std=(0.5, 0.5, 0.5, 1.0),
    ),
    # FR's input (after Dual-Inception): onset->apex u and v of the "flow" input averaged onto a 28 x 28 grid,
    # in pixels of the aligned crop. No AU mask.
    "flow_uv28": dict(modality="flow_uv28", channels=("u", "v"), mean=(0.0, 0.0), std=(1.0, 1.0)),
    # MOL's and LBP-TOP's input: 8 grey frames sampled evenly from onset to offset, the central square of the
    # aligned crop resized to 128 x 128, in [0, 1]. No AU mask.
    "frames8": dict(
        modality="frames8",
        channels=tuple(f"frame{i}" for i in range(8)),
        mean=(0.5,) * 8,
        std=(0.5,) * 8,
    ),
}
# (H, W) of a modality whose input is not the aligned crop.
MODALITY_HW: dict[str, tuple[int, int]] = {"flow_uv28": (28, 28), "frames8": (128, 128)}
# The modality a derived one is computed from, in a cache made by `mer preprocess` (see mer.data.cache).
DERIVED_FROM: dict[str, str] = {"flow_uv28": "flow", "frames8": "clip"}
# Frames of the aligned clip `mer preprocess` keeps per sample (evenly sampled from onset to offset).
CLIP_FRAMES = 8


def input_size(modality: str = "flow") -> tuple[int, int, int]:
    """(C, H, W) of the model input for ``modality``."""
    return (len(MODALITY_CFGS[modality]["channels"]), *MODALITY_HW.get(modality, CROP_HW))
