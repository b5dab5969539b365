"""Class names and label maps shared by datasets, models and checkpoints."""

from __future__ import annotations

# The paper's five CASME II classes: fear and sadness are merged into "others".
CASME2_5 = ("happiness", "disgust", "surprise", "repression", "others")
# The MEGC 2019 composite's three classes.
MEGC_3 = ("negative", "positive", "surprise")

LABEL_SETS: dict[str, tuple[str, ...]] = {"casme2_5": CASME2_5, "megc_3": MEGC_3}

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


def map_emotion(emotion: str, label_set: str = "casme2_5") -> str | None:
    """Class name for a sheet's emotion word, or None when the label set has no class for it."""
    return EMOTION_MAPS[label_set].get(str(emotion).strip().lower())
