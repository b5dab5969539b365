"""One request of the page or its API: the visitor's fields read, the clip checked, the Predictor called, its answer
viewed and written to files the page can serve.

    ModelShelf.predictor(name) -> media.clip_facts (readable, long enough, frame rate) -> Predictor(clip, ...)
    -> view.present -> Shown (the view, its pictures as files, the JSON file)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mer.demo import media
from mer.demo.shelf import ModelShelf, on_gpu
from mer.demo.view import GROUPS, View, present
from mer.errors import InputError

log = logging.getLogger("mer.demo")

Progress = Callable[[float, str], None]  # fraction done in [0, 1], what is being done


@dataclass
class Shown:
    """What the page shows for one request: the view of an answer with its pictures written to files, or only a
    message (then view is None). files: "pictures" or a map group -> (file path, caption) for a gallery."""

    headline: str
    view: View | None = None
    files: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    json_path: str | None = None


def message(title: str, text: str = "") -> Shown:
    """A Shown that is only a message (a problem, or what to do next): every other output empty."""
    return Shown(headline=f"### {title}" + (f"\n\n{text}" if text else ""))


@on_gpu
def analyse(
    shelf: ModelShelf,
    folders: media.OutputFolders,
    clip: str | None,
    *,
    is_zip: bool,
    checkpoint: str | None = None,
    onset: Any = None,
    apex: Any = None,
    fps: Any = None,
    progress: Progress | None = None,
) -> Shown:
    """Analyse one clip as the visitor (or an API caller) set it up; InputError says what to change.

    Args:
        clip: path of a video, or of a zip of frames when ``is_zip``.
        checkpoint: a checkpoint name of the shelf (None or "": the default).
        onset, apex: frame numbers (from 0) or empty to detect; both or neither (the Predictor says so).
        fps: frames per second; required for a zip, for a video it overrides what the file says.
        progress: called with (fraction, what) while the clip is analysed.
    """
    if not clip:
        raise InputError(media.WHAT_TO_GIVE + " first." if not is_zip else "Upload a zip of frames first.")
    facts = media.clip_facts(clip, is_zip, media.frame_rate(fps))
    predictor = shelf.predictor(checkpoint or None)
    onset_n, apex_n = media.frame_number(onset, "onset"), media.frame_number(apex, "apex")
    pred = predictor(clip, onset=onset_n, apex=apex_n, fps=facts.fps, progress=progress)
    view = present(pred, Path(clip).name, facts.fps_source)
    return write(view, folders.new(), Path(clip).stem)


def write(view: View, folder: Path, stem: str) -> Shown:
    """The view's pictures as WebP files and its JSON as a file, in a folder of their own.

    Galleries given arrays have gradio write each image to a cache path named by its content, in place: when two
    requests show the same picture, one request rewrites the file while the other's visitor downloads it. Our own
    files are copied into the cache instead.
    """
    from PIL import Image

    files: dict[str, list[tuple[str, str]]] = {}
    for group, pictures in {"pictures": view.pictures, **view.maps}.items():
        files[group] = []
        for i, picture in enumerate(pictures):
            path = folder / f"{group}_{i}.webp"
            Image.fromarray(np.ascontiguousarray(picture.image, dtype=np.uint8)).save(path, quality=90)
            files[group].append((str(path), picture.caption))
    json_path = folder / f"mer_result_{stem or 'clip'}.json"
    json_path.write_text(json.dumps(view.result, indent=2, default=_plain))
    for group in GROUPS:
        files.setdefault(group, [])
    return Shown(headline=view.headline, view=view, files=files, json_path=str(json_path))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def without_flags(text: str) -> str:
    """A library message without its command-line advice (``see --max-frames``, ``set it with --fps``), which
    means nothing on the page or through the API."""
    text = re.sub(r";? ?see --[a-z-]+", "", text)
    text = re.sub(r" \(set it with --fps[^)]*\)", "", text)
    return re.sub(r" \(without --[a-z-]+\)", "", text)


def analyse_for_page(shelf: ModelShelf, folders: media.OutputFolders, clip: str | None, **kwargs: Any) -> Shown:
    """:func:`analyse`, with every failure turned into a message where the answer goes (the page never raises)."""
    try:
        return analyse(shelf, folders, clip, **kwargs)
    except InputError as err:
        return message("This clip cannot be analysed", _sentence(str(err)))
    except Exception as err:  # the page must keep serving: log the traceback, tell the visitor in one line
        log.exception("analysis failed for %s", Path(clip or "").name)
        return message(  # the type only: details (paths, internals) stay in the server log
            "Something went wrong",
            f"The analysis failed unexpectedly ({type(err).__name__}). The error was logged; please try another clip.",
        )


def _sentence(text: str) -> str:
    text = without_flags(text)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
