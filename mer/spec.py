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
# Frames read from a clip at most: 2 s at CASME II's 200 fps, 13 s at a phone's 30 fps.
MAX_FRAMES = 400
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
}


def input_size(modality: str = "flow") -> tuple[int, int, int]:
    """(C, H, W) of the model input for ``modality``."""
    return (len(MODALITY_CFGS[modality]["channels"]), *CROP_HW)
