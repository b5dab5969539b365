"""What the visitor gave: the form's fields, the clip file (can it be read, is it long enough, at which frame rate),
a preview the browser can play, and a folder per request for the files of the answer."""

from __future__ import annotations

import atexit
import json
import math
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mer.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
# The shortest clip that can hold a micro-expression: a still face, the movement's onset, apex and offset, a still
# face again (5 frames), over at least 0.1 s (the shortest micro-expressions described last about 1/25 s; CASME II's
# samples hold only onset to offset, from about 0.1 s at 200 fps). A 3-frame clip of a still face was answered
# "surprise 77%" from 0.3 px of noise.
MIN_CLIP_S = 0.1
MIN_CLIP_FRAMES = 5
# What the frame rate changes, said beside the choice (a zip of frames does not carry it).
FPS_MEANING = (
    "It sets the clock: frame numbers become seconds, and a movement counts as a micro-expression only if it "
    "lasts under half a second. The same 100 frames last 0.5 s at 200 fps and 3.3 s at 30 fps."
)
# The frame rates a zip of frames usually has, as (what the visitor reads, value in fps).
FPS_CHOICES = (
    ("200 fps: CASME II, SAMM (high-speed camera)", "200"),
    ("100 fps: SMIC", "100"),
    ("60 fps: a fast webcam or phone slow-motion", "60"),
    ("30 fps: a phone or webcam", "30"),
    ("25 fps: European video (PAL)", "25"),
)
WHAT_TO_GIVE = "Upload a video (MP4, WebM, MOV, AVI or MKV), record one with the webcam, or pick an example"
ASK_FPS = (
    "a zip of frames does not say its frame rate, and the answer depends on it: choose it in 'Frame rate of the "
    "frames' (CASME II and SAMM are 200 fps, SMIC 100, a phone 30), then press Analyse again"
)
FFMPEG_MISSING = (
    "Your browser cannot play this video's format, so no preview is shown; it is analysed all the same. "
    "(The server converts such clips for the preview when ffmpeg is installed: `apt-get install ffmpeg`.)"
)
PREVIEW_MADE = (
    "Your browser cannot play this video's format (its player may have said so), so the server made a playable "
    "copy for the preview; the analysis reads your original file."
)


# ------------------------------------------------------------------------------------------- the form's fields


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


# ------------------------------------------------------------------------------------------------- the clip


@dataclass(frozen=True)
class ClipFacts:
    """What a clip file is before it is analysed: frames (counted or as the file declares), frame rate, and where
    that rate came from in words."""

    frames: int
    fps: float
    fps_source: str

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def clip_facts(path: str | Path, is_zip: bool, fps: float | None) -> ClipFacts:
    """Check that a clip can be read and can hold a micro-expression; its frame count and frame rate.

    Args:
        path: the uploaded video, or zip of frames when ``is_zip``.
        fps: the rate the visitor chose (None: a video's own; a zip needs one).
    Raises InputError (in the page's words) for a file that is not a readable clip, a zip without a frame rate,
    or a clip shorter than MIN_CLIP_S or MIN_CLIP_FRAMES.
    """
    path = Path(path)
    if is_zip:
        frames = zip_frames(path)
        if fps is None:
            raise InputError(ASK_FPS)
        facts = ClipFacts(frames, fps, "as chosen for these frames")
    else:
        frames, own = _video_frames(path)
        if fps is not None:
            facts = ClipFacts(frames, fps, "as given (the file's own rate was not used)")
        elif own is not None:
            facts = ClipFacts(frames, own[0], own[1])
        else:
            reason = "the video does not say its frame rate; 30 fps (a phone's) was assumed"
            facts = ClipFacts(frames, 30.0, reason)
    if facts.frames < MIN_CLIP_FRAMES or facts.seconds < MIN_CLIP_S:
        raise InputError(
            f"'{path.name}' is too short to hold a micro-expression: {facts.frames} frames, {facts.seconds:.2f} s at "
            f"{facts.fps:g} fps. A micro-expression needs a still face, its onset, apex and offset, and a still face "
            f"again: give at least {MIN_CLIP_FRAMES} frames over {MIN_CLIP_S:g} s; 1 to 3 s of video is best"
        )
    return facts


def _video_frames(path: Path) -> tuple[int, tuple[float, str] | None]:
    """(frames, (fps, where it came from) or None) of a video file; InputError when it cannot be decoded."""
    import cv2

    if path.stat().st_size == 0:
        raise InputError(f"'{path.name}' is an empty file (0 bytes): record or export the clip again")
    capture = cv2.VideoCapture(str(path))
    try:
        ok = capture.isOpened() and capture.read()[0]
        declared = capture.get(cv2.CAP_PROP_FPS) if ok else 0.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT) if ok else 0.0
    finally:
        capture.release()
    if not ok:
        raise InputError(
            f"'{path.name}' cannot be read as a video: it is not a video file (whatever its name says) or it is "
            f"damaged. {WHAT_TO_GIVE}"
        )
    probed = _ffprobe(path)
    if probed is not None and probed[0] > 0:  # counted packets: a browser recording's header often has no count
        count = probed[0]
    rate = None
    if math.isfinite(declared) and 1.0 <= declared <= 400.0:
        rate = float(declared), "read from the video file"
    elif probed is not None and probed[1] is not None:
        rate = probed[1], "measured from the video's timestamps (the file does not declare a usable rate)"
    return int(count) if math.isfinite(count) else 0, rate


def _ffprobe(path: Path) -> tuple[int, float | None] | None:
    """(packets counted, average frame rate or None) by ffprobe; None without ffprobe or when it fails."""
    if shutil.which("ffprobe") is None:
        return None
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries"]
    command += ["stream=nb_read_packets,duration:format=duration", "-of", "json", str(path)]
    try:
        found = json.loads(subprocess.run(command, capture_output=True, timeout=30, check=False).stdout or b"{}")
        stream = (found.get("streams") or [{}])[0]
        packets = int(stream.get("nb_read_packets") or 0)
        duration = float(stream.get("duration") or found.get("format", {}).get("duration") or 0)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    # packets over duration counts the first frame's full interval too: (n - 1) intervals fit the span better
    rate = (packets - 1) / duration if packets > 1 and duration > 0 else 0.0
    return packets, (round(rate, 2) if 1.0 <= rate <= 400.0 else None)


def zip_frames(path: Path) -> int:
    """How many image frames a zip holds; InputError when it cannot be opened or holds none."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"'{path.name}' is not a zip archive that can be opened: create the zip again") from None
    if not names:
        kinds = ", ".join(IMAGE_SUFFIXES)
        raise InputError(f"'{path.name}' holds no image frames ({kinds}): zip the frames of one clip, in name order")
    return len(names)


def browser_preview(path: str | Path, folder: Path) -> tuple[str | None, str]:
    """A copy of a video the browser can play, for the preview (the original is what gets analysed).

    Returns (path of the playable copy, why) when one was made; (None, "") when the original plays as it is;
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
