"""What the browser demo does besides drawing the page: models, inputs, the answer in words and pictures.

app.py builds the page and calls this module; everything here is plain Python (no gradio), so it can be used
and tested without a browser. The flow of one request:

    ModelShelf.predictor(name) -> read the visitor's fields (frame_number, frame_rate, video_frame_rate)
    -> Predictor(clip, onset, apex, fps) -> answer(...) -> Answer: headline, figures, galleries, JSON file.

A Prediction carries ``events`` (every facial movement found, micro or macro) and a ``label`` that is None
when no micro-expression was found; a Prediction from before events existed (one onset/apex) is read as one
micro event, so the page works with either.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mer import demo_plots
from mer.errors import InputError

log = logging.getLogger("mer.demo")

CLIP_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".zip")
# The frame rates a zip of frames usually has, as (what the visitor reads, value in fps).
FPS_CHOICES = (
    ("200 fps: CASME II, SAMM (high-speed camera)", "200"),
    ("100 fps: SMIC", "100"),
    ("60 fps: a fast webcam or phone slow-motion", "60"),
    ("30 fps: a phone or webcam", "30"),
    ("25 fps: European video (PAL)", "25"),
)
NO_CHECKPOINT = (
    "No checkpoint found. The demo weights `checkpoints/mer_dbfem_caffm.realfaces/` are missing: train a model "
    "(`mer train ...`) or set `MER_CHECKPOINT=/path/to/checkpoint` (a folder or a .safetensors), then restart."
)
FFMPEG_MISSING = (
    "Your browser cannot play this video's format, so no preview is shown; it is analysed all the same. "
    "(The server converts such clips for the preview when ffmpeg is installed: `apt-get install ffmpeg`.)"
)

PREVIEW_MADE = (
    "Your browser cannot play this video's format (its player may have said so), so the server made a playable "
    "copy for the preview; the analysis reads your original file."
)

# ------------------------------------------------------------------------------------------------- models


class ModelShelf:
    """The checkpoints the page offers (by name) and their Predictors, each loaded once on first use."""

    def __init__(self, shipped: dict[str, Path], extra: str | None = None) -> None:
        """Args: shipped: name -> checkpoint (the package's own weights); extra: MER_CHECKPOINT (a checkpoint
        folder or a .safetensors file), offered and pre-selected."""
        self.paths: dict[str, Path] = {name: Path(p).resolve() for name, p in shipped.items()}
        self._extra = None
        if extra:
            path = Path(extra).expanduser().resolve()
            if path.exists():
                self._extra = path.stem if path.is_file() else path.name
                self.paths[self._extra] = path
            else:
                log.warning("MER_CHECKPOINT=%s does not exist; ignoring it", extra)
        self._predictors: dict[Path, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> ModelShelf:
        """The package's shipped weights plus MER_CHECKPOINT."""
        from mer.weights import shipped_checkpoints

        return cls(shipped_checkpoints(), os.environ.get("MER_CHECKPOINT"))

    @property
    def device(self) -> Any:
        """The GPU when there is one (a Space with GPU hardware), else the CPU."""
        from mer.engine.device import resolve_device

        return resolve_device("auto")

    @property
    def names(self) -> list[str]:
        return list(self.paths)

    @property
    def default(self) -> str | None:
        """MER_CHECKPOINT, else the shipped demo weights, else the first found."""
        from mer.inference import DEFAULT_CHECKPOINT

        for candidate in (self._extra, Path(DEFAULT_CHECKPOINT).name):
            if candidate in self.paths:
                return candidate
        return next(iter(self.paths), None)

    def predictor(self, name: str | None) -> Any:
        """The cached :class:`mer.inference.Predictor` for a checkpoint name (None: the default)."""
        from mer.inference import Predictor

        if not self.paths:
            raise InputError(NO_CHECKPOINT)
        name = name or self.default
        if name not in self.paths:
            raise InputError(f"unknown checkpoint {name!r}; pick one of: {', '.join(self.paths)}")
        path = self.paths[name]
        with self._lock:
            if path not in self._predictors:
                started = time.perf_counter()
                self._predictors[path] = Predictor.from_checkpoint(path, device=str(self.device))
                log.info("loaded %s in %.1f s", path, time.perf_counter() - started)
        return self._predictors[path]

    def preload(self) -> None:
        """Load the default model now (not on the first visitor's click); a broken one is logged, not raised."""
        if self.default:
            try:
                self.predictor(self.default)
            except Exception:  # the page must still come up and say what is wrong
                log.exception("could not load the default checkpoint %s", self.default)

    def card(self, name: str | None) -> dict[str, Any]:
        """The model card of a checkpoint (its card.json, or the .json beside a .safetensors), or the loaded
        Predictor's."""
        from mer.engine.checkpoint import read_card

        if name not in self.paths:
            return {}
        path = self.paths[name]
        if path in self._predictors:
            return dict(self._predictors[path].card)
        try:
            return read_card(path)
        except InputError as err:
            return {"note": f"The model card of {path.name} cannot be used: {err}"}

    def provenance(self, name: str | None) -> str:
        """Markdown for the checkpoint picker: where the chosen weights come from, in plain words."""
        if not self.paths:
            return f"⚠️ {NO_CHECKPOINT}"
        return demo_plots.card_summary(self.card(name))


def example_clips(folder: Path) -> list[Path]:
    """The clips in a folder of examples, in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [p.resolve() for p in sorted(folder.iterdir()) if p.suffix.lower() in CLIP_SUFFIXES]


class OutputFolders:
    """Per-request folders under one temporary root, made on first use and removed at exit.

    Folders older than ``max_age_s`` are deleted when a new one is made, so a long-running Space does not fill
    its disk with answers nobody will download again.
    """

    def __init__(self, max_age_s: float = 15 * 60) -> None:
        self.max_age_s = max_age_s
        self._root: Path | None = None
        self._lock = threading.Lock()

    def new(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="mer_demo_"))
                atexit.register(shutil.rmtree, self._root, ignore_errors=True)
            now = time.time()
            for old in self._root.iterdir():
                if now - old.stat().st_mtime > self.max_age_s:
                    shutil.rmtree(old, ignore_errors=True)
            return Path(tempfile.mkdtemp(dir=self._root))


# ------------------------------------------------------------------------------------------ the visitor's fields


def frame_number(value: Any, what: str) -> int | None:
    """A frame-number field: empty (None, "", spaces) means "detect it" -> None; else a whole number >= 0.

    Args:
        value: what the field or the API sent (str, int, float or None).
        what: the field's name for the message ("onset", "apex").
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InputError(f"the {what} frame must be a whole number such as 12 (or empty to detect it)") from None
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise InputError(f"the {what} frame must be a whole number from 0 up (or empty to detect it), not {value}")
    return int(number)


def frame_rate(value: Any) -> float | None:
    """A frame-rate field: empty -> None; "200", 200 or "200 fps" -> 200.0; anything else is the visitor's mistake."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).lower().replace("fps", "").strip()
    try:
        fps = float(text)
    except ValueError:
        raise InputError(f"the frame rate must be a number of frames per second, such as 200 (not {value!r})") from None
    if not (math.isfinite(fps) and 1 <= fps <= 10_000):
        raise InputError(f"the frame rate must be between 1 and 10000 frames per second, not {value}")
    return fps


def video_frame_rate(path: str | Path) -> tuple[float | None, str]:
    """The frame rate a video file declares, and where it came from; (None, why) when it gives none we trust.

    OpenCV reads the container's rate; a browser recording (WebM from MediaRecorder) often declares 1000 or
    nothing, so ffprobe's average rate (frames over duration) is asked as well when ffprobe is installed.
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    declared = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    if math.isfinite(declared) and 1.0 <= declared <= 400.0:
        return float(declared), "read from the video file"
    average = _ffprobe_average_rate(path)
    if average is not None:
        return average, "measured from the video's timestamps (the file does not declare a usable rate)"
    return None, "the video file does not say its frame rate"


def _ffprobe_average_rate(path: str | Path) -> float | None:
    import subprocess

    if shutil.which("ffprobe") is None:
        return None
    command = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-count_packets",
        "-show_entries",
        "stream=nb_read_packets,duration:format=duration",
        "-of",
        "json",
        str(path),
    ]
    try:
        found = json.loads(subprocess.run(command, capture_output=True, timeout=30, check=False).stdout or b"{}")
        stream = (found.get("streams") or [{}])[0]
        packets = int(stream.get("nb_read_packets") or 0)
        duration = float(stream.get("duration") or found.get("format", {}).get("duration") or 0)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    # packets over duration counts the first frame's full interval too: (n - 1) intervals fit the span better
    rate = (packets - 1) / duration if packets > 1 and duration > 0 else 0.0
    return round(rate, 2) if 1.0 <= rate <= 400.0 else None


def browser_preview(path: str | Path, folder: Path) -> tuple[str | None, str]:
    """A copy of a video the browser can play, for the preview (the original is what gets analysed).

    Returns (path of the playable copy, "") when one was made; (None, "") when the original plays as it is;
    (None, why) when it cannot play and cannot be converted (no ffmpeg).
    """
    from gradio import processing_utils  # gradio's own playability check and H.264 conversion

    if shutil.which("ffprobe") is None or shutil.which("ffmpeg") is None:
        if Path(path).suffix.lower() in (".mp4", ".webm"):  # usually playable; without ffprobe we cannot tell
            return None, ""
        return None, FFMPEG_MISSING
    if processing_utils.video_is_playable(str(path)):
        return None, ""
    target = folder / f"{Path(path).stem}.mp4"  # the same name, so the preview and the answer name one clip
    converted = processing_utils.convert_video_to_playable_mp4(str(path), cache_dir=str(folder))
    if converted == str(path) or not Path(converted).is_file():
        return None, FFMPEG_MISSING.split(" (")[0] + " (the conversion with ffmpeg failed)."
    shutil.move(converted, target)
    return str(target), PREVIEW_MADE


# ------------------------------------------------------------------------------------------------ the events


def events_of(pred: Any) -> list[dict[str, Any]]:
    """Every event of a Prediction as dicts (onset, apex, offset, start_s, end_s, kind, label, probabilities, ...)."""
    return [e.to_json(pred.fps) for e in pred.events]


def salient_event(pred: Any, events: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the micro event the answer (label, pictures, maps) is about; None when there is no micro event.

    That is the one at the Prediction's onset/apex with its label; else the strongest micro event.
    """
    micro = [i for i, e in enumerate(events) if e.get("kind") == "micro"]
    if not micro or getattr(pred, "label", None) is None:
        return None
    for i in micro:
        if int(events[i]["apex"]) == int(pred.apex) and events[i].get("label") == pred.label:
            return i
    return max(micro, key=lambda i: float(events[i].get("strength") or 0.0))


def _when(event: Mapping[str, Any]) -> str:
    start, end = float(event["start_s"]), float(event["end_s"])
    return f"at {start:.2f} s" if end <= start else f"from {start:.2f} s to {end:.2f} s"


# ------------------------------------------------------------------------------------------------ the pictures

# What each group of maps is, in a sentence (shown beside the group on the page).
MAP_GROUPS = {
    "global": "**Global branch** (the whole face). *Grad-CAM*: warm colours mark the areas whose features "
    "pushed the model toward its answer. *Attention*: where this branch's CBAM gate let features through "
    "before the fusion.",
    "local": "**Local branch** (only the action-unit regions: brows and eyes, mouth, chin, cheeks, nose). "
    "Same two maps; outside the regions this branch sees nothing, so its maps are dark there.",
    "fusion": "**Fusion** (CAFFM): five CBAM attention gates in a row decide which places of the combined "
    "features count; each map is stretched to its own range, which the caption gives.",
}
FLAT_GATE = 0.05  # a CBAM gate whose max - min is below this weighs every place about the same
EMPTY_CAM = 0.05  # a Grad-CAM whose maximum is below this has nothing to show
SMALL_CAM = 0.10  # a Grad-CAM warm (> 0.2) on less than this share of the face looks blank at a glance


def clip_pictures(pred: Any, events: Sequence[Mapping[str, Any]], salient: int | None) -> list[tuple[np.ndarray, str]]:
    """(RGB picture, short caption) of the clip: the aligned face, the salient event's onset, apex, flow, AU regions.

    Without a micro event: the aligned face and the apex of each ordinary expression (up to four).
    """
    frames = np.asarray(pred.frames)
    n = len(frames)
    runs = pred.face_runs() if hasattr(pred, "face_runs") else [(0, n - 1)]
    pictures = [(frames[runs[0][0]], "Aligned face")] if n and runs else []  # the first frame with the face
    if salient is None:
        for event in [e for e in events if e.get("kind") != "micro"][:4]:
            if 0 <= int(event["apex"]) < n:
                apex_s = int(event["apex"]) / (float(pred.fps) or 1.0)
                pictures.append((frames[int(event["apex"])], f"Ordinary · {apex_s:.2f} s"))
        return pictures
    onset, apex = int(pred.onset), int(pred.apex)
    if 0 <= onset < n and 0 <= apex < n:
        pictures += [(frames[onset], f"Onset · {onset}"), (frames[apex], f"Apex · {apex}")]  # frame numbers
    if getattr(pred, "flow_rgb", None) is not None:
        pictures.append((pred.flow_rgb, "Movement"))
    model_input = getattr(pred, "model_input", None)
    if model_input is not None and 0 <= apex < n:
        pictures.append((demo_plots.tint_regions(frames[apex], model_input[-1]), "AU regions"))
    return pictures


def map_pictures(pred: Any) -> tuple[dict[str, list[tuple[np.ndarray, str]]], list[str]]:
    """The model's maps on the apex frame, grouped by where they sit: {"global", "local", "fusion"} -> pictures,
    with a colour scale under each; and one sentence for each map that looks empty, saying why."""
    from mer.explain import overlay, stretch

    groups: dict[str, list[tuple[np.ndarray, str]]] = {"global": [], "local": [], "fusion": []}
    notes: list[str] = []
    if not len(pred.frames) or not (pred.gradcam or pred.cbam):
        return groups, notes
    apex = np.asarray(pred.frames)[int(pred.apex)]
    for branch, heat in pred.gradcam.items():
        caption, note = _cam_words(branch, np.asarray(heat), pred.label)
        groups.setdefault(branch, []).append((demo_plots.with_colour_scale(overlay(apex, heat)), caption))
        notes += [note] if note else []
    fused, ranges = 0, []
    for name, gate in pred.cbam.items():
        gate = np.asarray(gate)
        lo, hi = float(gate.min()), float(gate.max())
        branch = name.removeprefix("attn_") if name.startswith("attn_") else "fusion"
        if branch == "fusion":
            fused += 1
        title = "Attention" if branch != "fusion" else f"CBAM {fused}"
        groups.setdefault(branch, []).append((demo_plots.with_colour_scale(overlay(apex, stretch(gate))), title))
        ranges.append(f"{title.lower() if branch == 'fusion' else f'{branch} attention'} {lo:.2f}–{hi:.2f}")
        if hi - lo < FLAT_GATE:
            notes.append(
                f"{title} of the {branch} looks flat: its gate is between {lo:.2f} and {hi:.2f} everywhere, so it "
                "weighs every place about the same (stretched to its range, tiny differences look like noise)."
            )
    if ranges:  # captions stay short; the ranges the stretched maps span are said once, here
        notes.append("Each attention map is stretched to its own range; the gates span " + ", ".join(ranges) + ".")
    return groups, notes


def _cam_words(branch: str, heat: np.ndarray, label: str | None) -> tuple[str, str]:
    """Caption of one Grad-CAM, and a sentence when it would look empty."""
    if float(heat.max()) < EMPTY_CAM:
        return "Grad-CAM: empty", (
            f"The {branch} branch's Grad-CAM is empty: Grad-CAM shows only areas whose features pushed toward "
            f"'{label}', and none of this branch's did, so the answer came from the other branch."
        )
    warm = float((heat > 0.2).mean())
    if warm < SMALL_CAM:
        return "Grad-CAM: small", (
            f"The {branch} branch's Grad-CAM is warm on only {warm:.0%} of the face: its evidence sits in a few "
            "small places" + (" inside the action-unit regions it reads." if branch == "local" else ".")
        )
    return "Grad-CAM", ""


def save_pictures(images: Sequence[tuple[np.ndarray, str]], folder: Path, stem: str) -> list[tuple[str, str]]:
    """Write (image, caption) pairs as WebP files; (path, caption) for a gallery.

    Galleries given arrays have gradio write each image to a cache path named by its content, in place: when
    two requests show the same picture (the same clip twice), one request rewrites the file while the other's
    visitor downloads it, who then gets a truncated image. Our own files are copied into the cache instead.
    """
    from PIL import Image

    saved = []
    for i, (image, caption) in enumerate(images):
        path = folder / f"{stem}_{i}.webp"
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(path)
        saved.append((str(path), caption))
    return saved


# ------------------------------------------------------------------------------------------------ the answer


@dataclass
class Answer:
    """Everything the page shows for one request (or the message that stands in for it).

    headline: Markdown naming the clip, the answer and the frame rate used (or what went wrong).
    label: the micro-expression, "no micro-expression", or "" (no answer).
    probabilities, timeline: plotly figures or None. pictures, maps[group]: (file path, caption) pairs.
    maps_note: Markdown saying why a map looks empty. timings: [stage, ms] rows.
    result: the JSON answer (no server paths); json_path: the same, as a file to download.
    """

    headline: str
    label: str = ""
    probabilities: Any = None
    timeline: Any = None
    pictures: list[tuple[str, str]] = field(default_factory=list)
    maps: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: {"global": [], "local": [], "fusion": []})
    maps_note: str = ""
    timings: list[list[Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    json_path: str | None = None

    @property
    def summary(self) -> str:
        """The answer in one plain sentence, with the frame rate used and where it came from."""
        result = self.result or {}
        if not result:
            return self.headline
        return f"{result.get('summary')}; {result.get('fps'):.4g} fps, {result.get('fps_source')}"


def message(title: str, text: str = "") -> Answer:
    """An Answer that is only a message (a problem, or "press Analyse"): every other output empty."""
    return Answer(headline=f"### {title}" + (f"\n\n{text}" if text else ""))


def result_json(pred: Any, clip_name: str, fps_reason: str, events: list[dict], summary: str) -> dict[str, Any]:
    """The Prediction's JSON with names instead of the server's paths, the events, the summary and the fps source."""
    result = pred.to_json()
    # uploads sit in gradio's cache and the checkpoint somewhere on the server: only their names leave it
    result["source"] = clip_name
    checkpoint = result.get("checkpoint")
    if isinstance(checkpoint, dict):  # "file", not "path": gradio_client takes a dict with a "path" for a file
        checkpoint["file"] = Path(checkpoint.pop("path", None) or "").name or None
    result["label"] = getattr(pred, "label", None)
    result.setdefault("events", events)
    result["summary"] = str(getattr(pred, "summary", "") or summary)
    result["fps_source"] = fps_reason
    # NaN (no face in that frame) is not JSON: null
    curve = np.asarray(pred.motion_curve, dtype=float).ravel()
    result["motion_curve"] = [round(float(v), 6) if np.isfinite(v) else None for v in curve]
    return result


def answer(pred: Any, clip_name: str, fps_reason: str, folder: Path) -> Answer:
    """Turn a Prediction into what the page shows: headline, charts, pictures, maps, timings, JSON file."""
    events = events_of(pred)
    salient = salient_event(pred, events)
    summary = pred.summary
    result = result_json(pred, clip_name, fps_reason, events, summary)
    json_path = folder / f"mer_result_{Path(clip_name).stem or 'clip'}.json"
    json_path.write_text(json.dumps(result, indent=2, default=_json_default))

    notes = list(pred.notes)
    rate = f"**Frame rate:** {pred.fps:.4g} fps, {fps_reason}."
    if salient is None:
        title, label, bars = "No micro-expression found", "no micro-expression", demo_plots.nothing_to_name_chart()
    else:
        event = events[salient]
        label = str(event.get("label") or pred.label)
        probabilities = event.get("probabilities") or pred.probabilities
        title = f"{label} · {probabilities.get(label, 0.0):.0%}"
        bars = demo_plots.probability_chart(probabilities, label)
    headline = f"### {title}\n\n**{clip_name}**: {summary}."
    if salient is not None:
        event = events[salient]
        headline += (
            f"\n\n**Shown below:** the micro-expression {_when(event)} (onset frame "
            f"{event['onset']}, apex frame {event['apex']}"
            + (f", offset frame {event['offset']})." if event.get("offset") is not None else ").")
        )
    headline += f"\n\n{rate}"
    if getattr(pred, "spotting_note", ""):
        headline += f"\n\n**How:** {pred.spotting_note}."
    if notes:
        headline += "\n\n**Notes:** " + "; ".join(notes) + "."
    groups, map_notes = map_pictures(pred) if salient is not None else ({}, [])
    if salient is None:
        map_notes = ["No micro-expression was found, so there is no answer for the model's maps to explain."]
    return Answer(
        headline=headline,
        label=label,
        probabilities=bars,
        timeline=demo_plots.timeline_chart(pred.motion_curve, pred.fps, events, salient),
        pictures=save_pictures(clip_pictures(pred, events, salient), folder, "picture"),
        maps={g: save_pictures(groups.get(g, []), folder, g) for g in ("global", "local", "fusion")},
        maps_note="\n\n".join(map_notes),
        timings=[[stage, round(seconds * 1000.0, 1)] for stage, seconds in pred.timings.items()],
        result=result,
        json_path=str(json_path),
    )


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays -> plain JSON."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


ASK_FPS = (
    "A zip of frames does not carry its frame rate, and the answer depends on it: choose it in "
    "'Frame rate of the frames' (CASME II and SAMM are 200 fps, SMIC 100, a phone 30), then analyse again."
)


def on_gpu(function: Any) -> Any:
    """``spaces.GPU(function)`` where Hugging Face's ``spaces`` package is installed (it allots a GPU on a ZeroGPU
    Space and does nothing elsewhere); ``function`` itself where it is not."""
    try:
        import spaces
    except ImportError:
        return function
    return spaces.GPU(function)


@on_gpu
def analyse(
    shelf: ModelShelf,
    folders: OutputFolders,
    clip: str | None,
    *,
    frames: bool,
    checkpoint: str | None = None,
    onset: Any = None,
    apex: Any = None,
    fps: Any = None,
) -> Answer:
    """Analyse one clip as the visitor (or an API caller) set it up; InputError says what to change.

    Args:
        clip: path of a video, or of a zip of frames when ``frames`` is True.
        checkpoint: a checkpoint name of the shelf (None or "": the default).
        onset, apex: frame numbers (from 0) or empty to detect; both or neither.
        fps: frames per second; required for frames, for a video it overrides what the file says.
    """
    if not clip:
        what = "a zip of frames" if frames else "a video (or record one with the webcam, or pick an example)"
        raise InputError(f"Upload {what} first.")
    onset_n, apex_n = frame_number(onset, "onset"), frame_number(apex, "apex")
    if (onset_n is None) != (apex_n is None):
        raise InputError("give both the onset and the apex frame, or leave both empty to detect them")
    rate = frame_rate(fps)
    if rate is not None:
        reason = "as chosen for these frames" if frames else "as given (the file's own rate was not used)"
    elif frames:
        raise InputError(ASK_FPS)
    else:
        rate, reason = video_frame_rate(clip)
        if rate is None:
            rate, reason = 30.0, reason + "; 30 fps (a phone's) was assumed, which is wrong for a high-speed camera"
    pred = shelf.predictor(checkpoint or None)(clip, onset=onset_n, apex=apex_n, fps=rate)
    return answer(pred, Path(clip).name, reason, folders.new())


def without_flags(text: str) -> str:
    """A message of the library without its command-line advice (``see --max-frames``, ``set it with --fps``),
    which means nothing on the page or through the API."""
    import re

    text = re.sub(r";? ?see --[a-z-]+", "", text)
    return re.sub(r" \(set it with --fps[^)]*\)", "", text)


def analyse_for_page(shelf: ModelShelf, folders: OutputFolders, clip: str | None, **kwargs: Any) -> Answer:
    """:func:`analyse`, with every failure turned into a message Answer (the page shows it where the answer goes)."""
    try:
        return analyse(shelf, folders, clip, **kwargs)
    except InputError as err:
        text = without_flags(str(err))
        text = text[:1].upper() + text[1:]
        return message("This clip cannot be analysed", f"**{Path(clip).name}**: {text}" if clip else text)
    except Exception as err:  # the page must keep serving: log the traceback, tell the visitor in one line
        log.exception("analysis failed for %s", Path(clip or "").name)
        return message(  # the type only: details (paths, internals) stay in the server log
            "Something went wrong",
            f"The analysis failed unexpectedly ({type(err).__name__}). The error was logged; please try another clip.",
        )
