"""Synthetic micro-expressions in the CASME II layout, made from real face photos (see DESIGN.md).

No real micro-expression clip may be shipped, so tests and the demo checkpoint use these. A sample is one subject's
neutral face (``synth_faces``) moved by the AU displacement field of its class at micro amplitude (0.8-3 px at the
apex) with an onset-apex-offset time course at 200 fps (``synth_motion``), over nuisances that every class shares:
head micro-motion, a blink, global flicker, sensor noise and JPEG compression. Every class uses the same subjects,
so the class can only be told from the motion relative to the onset, never from one frame's look.

Written as ``out/CASME2_RAW_selected/subNN/EPxx_yy/img{n}.jpg``, the coding sheet
``out/CASME2-coding-synthetic.xlsx`` (the real 20140508 sheet's columns), ``out/ground_truth.csv`` (AUs, amplitudes,
frames, identity, nuisances per sample) and ``out/README.txt``.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mer.data.labels import CASME2_5

FPS = 200
SHEET_NAME = "CASME2-coding-synthetic.xlsx"
SHEET_COLUMNS = [
    "Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame", "Unnamed: 6", "Action Units",
    "Estimated Emotion",
]
JPEG_QUALITY = 92


def _sample_plan(rng: np.random.Generator, emotion: str, frames: int) -> dict[str, Any]:
    """Random timing, AUs, amplitude and nuisances of one sample (indices into the clip, 200 fps)."""
    from mer.data.synth_motion import CLASS_AUS

    combos = CLASS_AUS[emotion]
    aus = combos[int(rng.integers(len(combos)))]
    onset = int(rng.integers(4, 10))
    apex = onset + int(round(rng.uniform(0.05, 0.11) * FPS))
    offset = min(frames - 1, apex + int(round(rng.uniform(0.05, 0.12) * FPS)))
    blink_len = int(round(rng.uniform(0.08, 0.15) * FPS))
    return {
        "emotion": emotion,
        "aus": {int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in aus},
        "amplitude_px": round(float(rng.uniform(0.8, 3.0)), 3),
        "onset": onset,
        "apex": apex,
        "offset": offset,
        "blink_start": int(rng.integers(0, max(1, frames - blink_len))),
        "blink_frames": blink_len,
        "blink_closure": round(float(rng.uniform(0.5, 1.0)), 3),
        "head_px": round(float(rng.uniform(0.1, 0.8)), 3),
        "head_deg": round(float(rng.uniform(0.0, 0.3)), 3),
        "flicker": round(float(rng.uniform(0.0, 0.03)), 4),
        "noise": round(float(rng.uniform(0.8, 2.0)), 3),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


def render_sample(neutral: np.ndarray, landmarks: np.ndarray, plan: dict[str, Any], frames: int) -> np.ndarray:
    """(frames, H, W, 3) uint8 RGB clip of one planned sample (before JPEG)."""
    import cv2

    from mer.data.synth_motion import au_field, blink_course, blink_field, expression_course, random_walk

    shape = neutral.shape[:2]
    rng = np.random.default_rng(plan["seed"])
    expression = au_field(plan["aus"], landmarks, shape, plan["amplitude_px"])
    blink = blink_field(landmarks, shape)
    course = expression_course(frames, plan["onset"], plan["apex"], plan["offset"])
    closure = blink_course(frames, plan["blink_start"], plan["blink_frames"], plan["blink_closure"])
    head_x, head_y = (random_walk(rng, frames, plan["head_px"]) for _ in range(2))
    head_angle = np.deg2rad(random_walk(rng, frames, plan["head_deg"]) if plan["head_deg"] > 0 else np.zeros(frames))
    flicker = 1.0 + random_walk(rng, frames, plan["flicker"]) if plan["flicker"] > 0 else np.ones(frames)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    cx, cy = landmarks[27:36].mean(axis=0)  # the nose: the head turns about the face's middle
    source = neutral.astype(np.float32)
    out = np.empty((frames, *shape, 3), dtype=np.uint8)
    for t in range(frames):
        field = course[t] * expression + closure[t] * blink
        # head: a small rigid motion of the whole frame, composed after the face's own deformation
        cos, sin = np.cos(head_angle[t]), np.sin(head_angle[t])
        rx, ry = xs - cx - head_x[t], ys - cy - head_y[t]
        hx, hy = cos * rx + sin * ry + cx, -sin * rx + cos * ry + cy
        map_x = (hx - field[..., 0]).astype(np.float32)
        map_y = (hy - field[..., 1]).astype(np.float32)
        frame = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frame = frame * flicker[t] + rng.normal(0.0, plan["noise"], frame.shape).astype(np.float32)
        out[t] = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    return out


def _make_subject(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Render and write every sample of one subject; returns its sheet/ground-truth rows."""
    import cv2

    from mer.data.face import detect_landmarks
    from mer.data.synth_faces import Identity, render_identity

    identity = Identity(**job["identity"])
    neutral = render_identity(identity)
    landmarks, _ = detect_landmarks(neutral, name=f"synthetic subject {job['subject']}")
    rows = []
    for i, plan in enumerate(job["plans"]):
        sample = f"EP{i + 1:02d}_{job['subject']:02d}s"
        folder = Path(job["root"]) / "CASME2_RAW_selected" / f"sub{job['subject']:02d}" / sample
        folder.mkdir(parents=True, exist_ok=True)
        start = plan["first_frame"]
        clip = render_sample(neutral, landmarks, plan, job["frames"])
        for t, frame in enumerate(clip):
            cv2.imwrite(str(folder / f"img{start + t}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        rows.append({
            "subject": job["subject"], "sample": sample, "emotion": plan["emotion"],
            "onset_frame": start + plan["onset"], "apex_frame": start + plan["apex"],
            "offset_frame": start + plan["offset"], "first_frame": start, "last_frame": start + job["frames"] - 1,
            "aus": "+".join(str(au) for au in plan["aus"]), "au_intensities": json.dumps(plan["aus"]),
            **{k: plan[k] for k in ("amplitude_px", "blink_start", "blink_frames", "blink_closure", "head_px",
                                     "head_deg", "flicker", "noise", "seed")},
            **identity.as_row(),
        })
    return rows


def plan_dataset(subjects: int, per_class: int, seed: int, frames: int) -> list[dict[str, Any]]:
    """One job per subject: its identity and the plans of its samples (per_class of each class, shuffled)."""
    from dataclasses import asdict

    from mer.data.synth_faces import sample_identity

    rng = np.random.default_rng(seed)
    jobs = []
    for s in range(subjects):
        identity = sample_identity(rng, s)
        emotions = [e for e in CASME2_5 for _ in range(per_class)]
        rng.shuffle(emotions)
        plans = []
        for emotion in emotions:
            plan = _sample_plan(rng, emotion, frames)
            plan["first_frame"] = int(rng.integers(1, 120))
            plans.append(plan)
        jobs.append({"subject": s + 1, "identity": asdict(identity), "plans": plans, "frames": frames})
    return jobs


def make_dataset(
    out: str | Path,
    subjects: int = 6,
    per_class: int = 2,
    seed: int = 0,
    frames: int = 60,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write a synthetic dataset in the CASME II layout to `out`; returns `out`.

    subjects x 5 classes x per_class samples of `frames` frames (200 fps, 640 x 480). Deterministic per seed.
    """
    import pandas as pd
    from tqdm import tqdm

    from mer.errors import InputError

    if subjects < 1 or per_class < 1 or frames < 30:
        raise InputError("mer synth needs --subjects >= 1, --per-class >= 1 and --frames >= 30")
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan_dataset(subjects, per_class, seed, frames)
    for job in jobs:
        job["root"] = str(out)
    workers = workers or min(2, len(jobs))
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(jobs), desc="synth subjects", disable=not progress)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for result in pool.map(_make_subject, jobs):
                rows.extend(result)
                bar.update()
    else:
        for job in jobs:
            rows.extend(_make_subject(job))
            bar.update()
    bar.close()
    truth = pd.DataFrame(rows)
    truth.insert(0, "seed_dataset", seed)
    truth.to_csv(out / "ground_truth.csv", index=False)
    sheet = pd.DataFrame({
        "Subject": truth["subject"].map(lambda s: f"{s:02d}"),
        "Filename": truth["sample"],
        "Unnamed: 2": None,
        "OnsetFrame": truth["onset_frame"],
        "ApexFrame": truth["apex_frame"],
        "OffsetFrame": truth["offset_frame"],
        "Unnamed: 6": None,
        "Action Units": truth["aus"],
        "Estimated Emotion": truth["emotion"],
    })[SHEET_COLUMNS]
    sheet.to_excel(out / SHEET_NAME, index=False)
    (out / "README.txt").write_text(
        f"SYNTHETIC micro-expressions made by `mer synth` (seed {seed}): real face photos shipped by scikit-image "
        f"(astronaut) and matplotlib (grace_hopper.jpg), varied into {subjects} subjects, moved by AU displacement "
        "fields at 200 fps. Not real people's expressions: results on these data say nothing about real "
        "accuracy.\n"
    )
    return out


def write_examples(out: str | Path, seed: int = 7, classes: tuple[str, ...] = ("happiness", "surprise", "disgust"),
                   fps: float = 30.0) -> list[Path]:
    """Short demo clips (WebM, VP8) of synthetic micro-expressions, one per class; returns their paths.

    The 200 fps frames are written at `fps` (slow motion, as a phone would show a high-speed recording), so a
    0.1 s rise lasts ~0.7 s on screen.
    """
    import cv2

    from mer.data.face import detect_landmarks
    from mer.data.synth_faces import render_identity, sample_identity

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, emotion in enumerate(classes):
        identity = sample_identity(rng, i)
        neutral = render_identity(identity)
        landmarks, _ = detect_landmarks(neutral, name="example face")
        plan = _sample_plan(rng, emotion, 60)
        plan.update(amplitude_px=2.5, onset=10, apex=30, offset=50, noise=1.0)
        clip = render_sample(neutral, landmarks, plan, 60)
        path = out / f"synthetic_{emotion}.webm"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, (clip.shape[2], clip.shape[1]))
        for frame in clip:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        paths.append(path)
    return paths


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("synth", help="write a synthetic micro-expression dataset in the CASME II layout")
    p.add_argument("--out", required=True, help="folder to write (CASME2_RAW_selected/, the coding sheet, ...)")
    p.add_argument("--subjects", type=int, default=6)
    p.add_argument("--per-class", type=int, default=2, help="samples of each of the 5 classes per subject")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=60, help="frames per sample (200 fps)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--examples", action="store_true", help="write demo clips (WebM) into --out instead")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.examples:
        for path in write_examples(args.out, seed=args.seed if args.seed else 7):
            print(path)
        return 0
    out = make_dataset(args.out, args.subjects, args.per_class, args.seed, args.frames, args.workers)
    print(f"wrote {args.subjects * args.per_class * len(CASME2_5)} synthetic samples to {out} "
          f"(sheet {SHEET_NAME}, ground truth ground_truth.csv)")
    return 0
