"""Synthetic micro-expressions in the CASME II layout, made from real face photos (see DESIGN.md).

No real micro-expression clip may be shipped, so tests and the demo checkpoint use these. A sample is one subject's
neutral face (``synth_faces``) moved by the AU displacement field of its class at micro amplitude (0.8-3 px at the
apex) with an onset-apex-offset time course at 200 fps (``synth_motion``), over nuisances that every class shares:
head micro-motion, a blink, global flicker, sensor noise and JPEG compression. Every class uses the same subjects,
so the class can only be told from the motion relative to the onset, never from one frame's look.

    make_dataset(out, subjects=26, per_class=2, seed=0)   # or: mer synth --out DIR --subjects 26 --per-class 2

writes ``out/CASME2_RAW_selected/subNN/EPxx_yy/img{n}.jpg`` (frames numbered from a random start, like the real
data), the coding sheet ``out/CASME2-coding-synthetic.xlsx`` (the real 20140508 sheet's columns),
``out/ground_truth.csv`` (AUs, intensities, amplitude, frames, blink, nuisances, identity per sample) and
``out/README.txt``. The same seed and arguments give byte-identical files, and subject k is the same whatever the
number of subjects (each subject has its own random stream).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mer.errors import InputError
from mer.spec import CASME2_5

FPS = 200
VIDEO_FPS = (24, 25, 30, 50, 60, 90, 100, 120, 200)  # the frame rates video-like samples are drawn from
FRAMES_DIR = "CASME2_RAW_selected"
SHEET_NAME = "CASME2-coding-synthetic.xlsx"
SOURCES_NAME = "sources.json"  # every real photo the dataset is made from, with its licence (model cards copy it)
# The real CASME2-coding-20140508.xlsx header row: two columns have no name.
SHEET_HEADER = (
    "Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion",
)  # fmt: skip
# ... and the same columns as pandas.read_excel names them.
SHEET_COLUMNS = [name if name else f"Unnamed: {i}" for i, name in enumerate(SHEET_HEADER)]
AMPLITUDE_PX = (0.8, 3.0)  # peak displacement at the apex, px on the 640 x 480 frame
MIN_FRAMES = 24
# How the face moves: "gaussian" (Gaussian bumps placed by 68 landmarks, the design's AU table, mer.synth.motion),
# "anatomy" (py-feat's AU -> mesh regression on the face's own mesh, AU combinations at the real sheets'
# frequencies, mer.synth.anatomy and mer.synth.au_table) or "mixed" (each sample one of the two, evenly).
MOVEMENTS = ("gaussian", "anatomy", "mixed")


def _subject_rng(seed: int, subject: int) -> np.random.Generator:
    """Subject `subject`'s (1-based) own random stream: it does not depend on how many subjects are made."""
    return np.random.default_rng(np.random.SeedSequence([seed, subject]))


def _sample_plan(rng: np.random.Generator, emotion: str, frames: int) -> dict[str, Any]:
    """Random AUs, amplitude, timing (clip indices at 200 fps) and nuisances of one sample."""
    from mer.synth.motion import CLASS_AUS

    combos = CLASS_AUS[emotion]
    aus = combos[int(rng.integers(len(combos)))]
    onset = int(rng.integers(3, max(4, frames // 8) + 1))
    # apex 0.1-0.15 s after the onset, offset 0.1-0.2 s after the apex, squeezed into short clips
    rise = min(round(rng.uniform(0.1, 0.15) * FPS), max(3, (frames - onset - 2) // 2))
    apex = onset + rise
    offset = apex + max(2, min(round(rng.uniform(0.1, 0.2) * FPS), frames - 1 - apex))
    blink_frames = min(round(rng.uniform(0.08, 0.15) * FPS), frames // 2)
    return {
        "emotion": emotion,
        "aus": {int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in aus},
        "amplitude_px": round(float(rng.uniform(*AMPLITUDE_PX)), 3),
        "onset": onset,
        "apex": apex,
        "offset": offset,
        "blink_start": int(rng.integers(0, frames - blink_frames + 1)),
        "blink_frames": blink_frames,
        "blink_closure": round(float(rng.uniform(0.6, 1.0)), 3),
        "head_px": round(float(rng.uniform(0.1, 0.8)), 3),
        "head_deg": round(float(rng.uniform(0.0, 0.3)), 3),
        "flicker": round(float(rng.uniform(0.0, 0.02)), 4),
        "noise": round(float(rng.uniform(0.8, 2.0)), 3),
        "jpeg_quality": int(rng.integers(85, 96)),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


def _video_extras(rng: np.random.Generator, frames: int) -> dict[str, Any]:
    """What makes a sample look like real video (``video_like``): a frame rate from VIDEO_FPS with the timing
    redrawn in seconds (apex 0.1-0.15 s after the onset, offset 0.1-0.25 s after the apex), larger head motion,
    light changes (a global gain drift and a moving side light), a macro-expression distractor (a larger, longer
    AU field of any class, 60% of samples, placed anywhere, so it often overlaps the micro-expression), video
    compression (MPEG-4 through OpenCV, 70% of samples) and lower JPEG quality. Drawn from its own stream, so the
    classic samples stay the same."""
    from mer.synth.motion import CLASS_AUS

    fps = int(rng.choice(VIDEO_FPS))
    rise = max(1, round(rng.uniform(0.1, 0.15) * fps))
    fall = max(1, round(rng.uniform(0.1, 0.25) * fps))
    rise = min(rise, max(1, (frames - 4) // 2))
    fall = min(fall, frames - 3 - rise)
    onset = int(rng.integers(2, frames - rise - fall))
    blink_frames = min(max(2, round(rng.uniform(0.08, 0.15) * fps)), frames // 2)
    extras: dict[str, Any] = {
        "fps": fps, "onset": onset, "apex": onset + rise, "offset": onset + rise + fall,
        "blink_start": int(rng.integers(0, frames - blink_frames + 1)), "blink_frames": blink_frames,
        "head_px": round(float(rng.uniform(0.3, 4.0)), 3), "head_deg": round(float(rng.uniform(0.0, 2.0)), 3),
        "light_change": round(float(rng.uniform(0.0, 0.12)), 4), "light_side": round(float(rng.uniform(0.0, 0.15)), 4),
        "codec": "mp4v" if rng.random() < 0.7 else "", "jpeg_quality": int(rng.integers(50, 96)), "macro": None,
    }  # fmt: skip
    if rng.random() < 0.6:
        combos = [c for v in CLASS_AUS.values() for c in v]
        duration = max(4, round(rng.uniform(0.5, 2.5) * fps))
        start = int(rng.integers(-duration + 2, frames - 2))
        extras["macro"] = {
            "aus": {int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in combos[int(rng.integers(len(combos)))]},
            "amplitude_px": round(float(rng.uniform(4.0, 12.0)), 3),
            "onset": start, "apex": start + max(1, duration // 3), "offset": start + duration,
        }  # fmt: skip
    return extras


def _anatomy_plan(plan: dict[str, Any]) -> None:
    """Turn a plan into an anatomical one, in place: its AUs (and its macro distractor's) redrawn at the real
    sheets' frequencies from a stream of its own (the plan's other numbers stay)."""
    from mer.synth.au_table import draw_aus

    rng = np.random.default_rng([plan["seed"], 2])
    plan["movement"] = "anatomy"
    plan["aus"] = {int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in draw_aus(rng, plan["emotion"])}
    if plan.get("macro"):
        emotion = CASME2_5[int(rng.integers(len(CASME2_5)))]
        plan["macro"]["aus"] = {int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in draw_aus(rng, emotion)}


def plan_dataset(
    subjects: int,
    per_class: int,
    seed: int,
    frames: int,
    photos: tuple[str, ...] | None = None,
    video_like: bool = False,
    movement: str = "gaussian",
    pose: bool = False,
) -> list[dict[str, Any]]:
    """One job per subject: {"subject" (1-based), "identity" (Identity fields), "plans" (its samples, per_class of
    each class in random order, each with "sample" (EPxx_yy) and "first_frame"), "frames"}. Pure: draws numbers,
    renders nothing. `photos`: the source photos subjects take turns on (default ``synth_faces.PHOTOS``);
    `video_like`: add ``_video_extras`` to every plan (frame rate, head motion, light, macro, compression);
    `movement`: one of MOVEMENTS (the plans of "gaussian" are the classic ones); `pose`: subjects' faces turned out
    of the image plane too (``synth_faces.sample_identity``)."""
    from mer.synth.faces import PHOTOS, sample_identity

    if movement not in MOVEMENTS:
        raise InputError(f"movement must be one of {', '.join(MOVEMENTS)}, got {movement!r}")

    jobs = []
    for subject in range(1, subjects + 1):
        rng = _subject_rng(seed, subject)
        identity = sample_identity(rng, subject - 1, tuple(photos or PHOTOS), pose=pose)
        emotions = [e for e in CASME2_5 for _ in range(per_class)]
        rng.shuffle(emotions)  # episode numbers must not give the class away
        episodes = np.sort(rng.choice(np.arange(1, len(emotions) + 25), size=len(emotions), replace=False))
        plans = []
        for episode, emotion in zip(episodes, emotions, strict=True):
            plan = _sample_plan(rng, emotion, frames)
            plan["sample"] = f"EP{episode:02d}_{int(rng.integers(1, 8)):02d}"
            plan["first_frame"] = int(rng.integers(1, 150))
            if video_like:
                plan.update(_video_extras(np.random.default_rng([plan["seed"], 1]), frames))
            mixed = movement == "mixed" and np.random.default_rng([plan["seed"], 3]).random() < 0.5
            if movement == "anatomy" or mixed:
                _anatomy_plan(plan)
            elif movement == "mixed":
                plan["movement"] = "gaussian"
            plans.append(plan)
        jobs.append({"subject": subject, "identity": asdict(identity), "plans": plans, "frames": frames})
    return jobs


def _expression(aus: dict[int, float], points: np.ndarray, shape: tuple[int, int], amplitude: float, how: str):
    """The apex field of `aus` by the plan's movement model (see MOVEMENTS); `points` (68, 2) or (468, 2|3)."""
    from mer.spotting.mesh import to_68
    from mer.synth.motion import au_field

    if how == "anatomy":
        from mer.synth.anatomy import anatomy_field

        if len(points) != 468:
            raise InputError("an anatomical sample needs the face's 468 mesh points (subject_mesh), not 68")
        return anatomy_field(aus, points, shape, amplitude)
    return au_field(aus, points if len(points) == 68 else to_68(points), shape, amplitude)


def iter_frames(neutral: np.ndarray, landmarks: np.ndarray, plan: dict[str, Any], frames: int) -> Iterator[np.ndarray]:
    """The planned sample's frames, each (H, W, 3) uint8 RGB (before JPEG), in order. `landmarks`: the neutral
    face's (68, 2) landmarks or its (468, 2|3) mesh (needed by anatomical plans, ``plan["movement"]``).

    Frame t samples the neutral face at R(-a_t)(x - c - d_t) + c - e_t E(x) - b_t B(x) - m_t M(x): head rotation a_t
    about the nose c and drift d_t (smooth random walks), AU field E (peak amplitude_px) with its onset-apex-offset
    course e_t, blink field B with its course b_t, the plan's macro-expression field M (if any) with its course m_t;
    then flicker and light changes (a global gain, a side light) and sensor noise.
    """
    import cv2

    from mer.spotting.mesh import to_68
    from mer.synth.motion import blink_course, blink_field, expression_course, random_walk

    points = np.asarray(landmarks)
    landmarks = points if len(points) == 68 else to_68(points)
    how = plan.get("movement", "gaussian")
    height, width = neutral.shape[:2]
    rng = np.random.default_rng(plan["seed"])
    expression = _expression(plan["aus"], points, (height, width), plan["amplitude_px"], how)
    blink = blink_field(landmarks, (height, width))
    course = expression_course(frames, plan["onset"], plan["apex"], plan["offset"])
    closure = blink_course(frames, plan["blink_start"], plan["blink_frames"], plan["blink_closure"])
    head_x, head_y = (random_walk(rng, frames, plan["head_px"]) for _ in range(2))
    head_angle = np.deg2rad(random_walk(rng, frames, plan["head_deg"]))
    gains = 1.0 + random_walk(rng, frames, plan["flicker"]) + 0.002 * rng.standard_normal(frames)
    # Sensor noise from random windows of a small noise bank: fresh Gaussian noise per frame costs more than the rest.
    pad = 32
    bank = rng.standard_normal((2, height + pad, width + pad, 3), dtype=np.float32) * np.float32(plan["noise"])
    picks = rng.integers(0, [2, pad, pad], size=(frames, 3))
    # video-like extras, drawn after everything above so classic samples render as before
    gains = gains + random_walk(rng, frames, plan.get("light_change", 0.0))
    side_light = random_walk(rng, frames, plan.get("light_side", 0.0))
    ramp = np.broadcast_to(np.linspace(-0.5, 0.5, width, dtype=np.float32), (height, width))
    macro = plan.get("macro")
    if macro:
        macro_field = _expression(macro["aus"], points, (height, width), macro["amplitude_px"], how)
        macro_course = expression_course(frames, macro["onset"], macro["apex"], macro["offset"])
        macro_x, macro_y = np.ascontiguousarray(macro_field[:, :, 0]), np.ascontiguousarray(macro_field[:, :, 1])
    cx, cy = np.asarray(landmarks, dtype=np.float64)[27:36].mean(axis=0)  # the head turns about the nose
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs -= np.float32(cx)
    ys -= np.float32(cy)
    field_x = np.ascontiguousarray(expression[:, :, 0])
    field_y = np.ascontiguousarray(expression[:, :, 1])
    blink_x, blink_y = np.ascontiguousarray(blink[:, :, 0]), np.ascontiguousarray(blink[:, :, 1])
    for t in range(frames):
        cos, sin = float(np.cos(head_angle[t])), float(np.sin(head_angle[t]))
        # R(-a)(x - c - d) + c, as two weighted sums of the centred grid (cv2 is several times faster than numpy)
        map_x = cv2.addWeighted(xs, cos, ys, sin, cx - cos * head_x[t] - sin * head_y[t])
        map_y = cv2.addWeighted(ys, cos, xs, -sin, cy - cos * head_y[t] + sin * head_x[t])
        if course[t] > 0:
            map_x = cv2.scaleAdd(field_x, -float(course[t]), map_x)
            map_y = cv2.scaleAdd(field_y, -float(course[t]), map_y)
        if closure[t] > 0:
            map_x = cv2.scaleAdd(blink_x, -float(closure[t]), map_x)
            map_y = cv2.scaleAdd(blink_y, -float(closure[t]), map_y)
        if macro and macro_course[t] > 0:
            map_x = cv2.scaleAdd(macro_x, -float(macro_course[t]), map_x)
            map_y = cv2.scaleAdd(macro_y, -float(macro_course[t]), map_y)
        frame = cv2.remap(neutral, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        k, oy, ox = picks[t]
        # gain * frame + noise, rounded and saturated to uint8 by OpenCV
        lit = cv2.multiply(frame, (float(gains[t]),) * 3, dtype=cv2.CV_32F)
        if side_light[t] != 0:  # a light moving across the face: brighter on one side
            lit = cv2.multiply(lit, cv2.merge([1.0 + float(side_light[t]) * ramp] * 3))
        yield cv2.add(lit, bank[k, oy : oy + height, ox : ox + width], dtype=cv2.CV_8U)


def subject_mesh(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(neutral face (480, 640, 3) uint8 RGB, its face mesh (468, 3) image px) of a job from plan_dataset."""
    from mer.spotting.face import detect_mesh
    from mer.synth.faces import Identity, render_identity

    neutral = render_identity(Identity(**job["identity"]))
    fitted, _ = detect_mesh(neutral, name=f"synthetic subject {job['subject']}")
    return neutral, fitted.points


def subject_face(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(neutral face (480, 640, 3) uint8 RGB, its dlib landmarks (68, 2)) of a job from plan_dataset."""
    from mer.spotting.face import detect_landmarks
    from mer.synth.faces import Identity, render_identity

    neutral = render_identity(Identity(**job["identity"]))
    landmarks, _ = detect_landmarks(neutral, name=f"synthetic subject {job['subject']}")
    return neutral, landmarks


def _make_subject(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Render and write every sample of one subject; returns its ground-truth rows."""
    import cv2

    from mer.spotting.mesh import to_68
    from mer.synth.motion import FaceFrame

    neutral, points = subject_mesh(job)
    landmarks = to_68(points)
    subject, frames = job["subject"], job["frames"]
    rows = []
    for plan in job["plans"]:
        folder = Path(job["root"]) / FRAMES_DIR / f"sub{subject:02d}" / plan["sample"]
        folder.mkdir(parents=True, exist_ok=True)
        start, params = plan["first_frame"], [cv2.IMWRITE_JPEG_QUALITY, plan["jpeg_quality"]]
        rendered = iter_frames(neutral, points, plan, frames)
        if plan.get("codec"):  # a real camera's compression: through an MPEG-4 encoder and back
            from mer.synth.inject import compress

            rendered = compress(list(rendered), plan["fps"], plan["codec"])
        for t, frame in enumerate(rendered):
            path = folder / f"img{start + t}.jpg"
            if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params):
                raise OSError(f"could not write {path}")
        rows.append({
            "subject": subject, "sample": plan["sample"], "emotion": plan["emotion"],
            "onset_frame": start + plan["onset"], "apex_frame": start + plan["apex"],
            "offset_frame": start + plan["offset"], "first_frame": start, "last_frame": start + frames - 1,
            "fps": plan.get("fps", FPS), "aus": "+".join(str(au) for au in plan["aus"]),
            "au_intensities": ";".join(f"{au}:{value}" for au, value in plan["aus"].items()),
            "blink_start_frame": start + plan["blink_start"],
            "blink_end_frame": start + plan["blink_start"] + plan["blink_frames"],
            **{k: plan[k] for k in ("amplitude_px", "blink_frames", "blink_closure", "head_px", "head_deg",
                                     "flicker", "noise", "jpeg_quality", "seed")},
            **({} if "codec" not in plan else _video_columns(plan, start)),
            **({"movement": plan["movement"]} if "movement" in plan else {}),
            "eye_distance_px": round(FaceFrame.from_landmarks(landmarks).iod, 2),
            **{f"id_{k}": v for k, v in job["identity"].items()},
        })  # fmt: skip
    return rows


def _video_columns(plan: dict[str, Any], start: int) -> dict[str, Any]:
    """ground_truth.csv columns of a video-like sample: light, codec and the macro distractor (frame numbers)."""
    macro = plan["macro"] or {}
    return {
        "light_change": plan["light_change"], "light_side": plan["light_side"], "codec": plan["codec"] or "none",
        "macro_aus": "+".join(str(au) for au in macro.get("aus", {})),
        "macro_amplitude_px": macro.get("amplitude_px", 0.0),
        **{f"macro_{k}_frame": start + macro[k] if macro else "" for k in ("onset", "apex", "offset")},
    }  # fmt: skip


def write_sheet(path: Path, rows: list[dict[str, Any]]) -> None:
    """The coding sheet, laid out like CASME2-coding-20140508.xlsx: Subject as text ("01"), the two unnamed blank
    columns, one AU as a number and several as text ("6+12"). Byte-identical for identical rows (fixed dates)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(list(SHEET_HEADER))
    for row in rows:
        aus = row["aus"]
        sheet.append([f"{row['subject']:02d}", row["sample"], None, row["onset_frame"], row["apex_frame"],
                      row["offset_frame"], None, int(aus) if aus.isdigit() else aus, row["emotion"]])  # fmt: skip
    for cell in sheet["A"]:
        cell.number_format = "@"
    fixed = datetime.datetime(2014, 5, 8)
    book.properties.created = book.properties.modified = fixed
    buffer = io.BytesIO()
    book.save(buffer)
    # openpyxl stamps the save time into docProps/core.xml and the zip entries: pin both.
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2014-05-08T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2014, 5, 8, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip


def data_sources(
    photos: tuple[str, ...] | None = None, video_like: bool = False, movement: str = "gaussian"
) -> dict[str, Any]:
    """What a dataset made with these `photos` is made of: {"synthetic": True, "photos": [{name, shows, source,
    licence}], "video_like", "generator"}; ``mer train`` copies it into the model card."""
    from mer.synth.faces import PHOTO_SOURCES, PHOTOS

    generator = "mer synth (mer.synth.dataset): AU displacement fields on real face photos"
    extra: dict[str, Any] = {}
    if movement != "gaussian":
        from mer.synth.anatomy import SOURCE

        generator += f"; movement {movement}: AU -> face-mesh regression {SOURCE} on each face's own mesh"
        extra = {"movement": movement, "au_frequencies": "CASME II and SAMM coding sheets' counts "
                 "(mer/synth/au_counts.json; the sheets are not shipped)", "au_to_mesh": SOURCE}  # fmt: skip
    rows = [
        {"name": name, "shows": shows, "source": source, "licence": licence}
        for name, (shows, source, licence) in PHOTO_SOURCES.items()
        if name in tuple(photos or PHOTOS)
    ]
    return {
        "synthetic": True,
        "generator": generator,
        "photos": rows,
        "video_like": video_like,
        **extra,
    }


def _readme(
    subjects: int, per_class: int, seed: int, frames: int, photos: tuple[str, ...] | None = None, video_like=False
) -> str:
    from mer.synth.faces import PHOTO_SOURCES, PHOTOS

    photos = tuple(photos or PHOTOS)
    command = f"mer synth --subjects {subjects} --per-class {per_class} --seed {seed} --frames {frames}"
    if photos != PHOTOS:
        command += " --photos " + " ".join(photos)
    sources = "; ".join(f"{name}: {PHOTO_SOURCES[name][1]} ({PHOTO_SOURCES[name][2]})" for name in photos)
    video = (
        "Video-like samples (--video-like): each has its own frame rate (24-200 fps, ground_truth.csv), larger head "
        "motion, light changes, often a macro-expression distractor (a larger, longer AU field) and MPEG-4 "
        "compression.\n\n"
        if video_like
        else ""
    )
    return (
        "SYNTHETIC micro-expressions: not recordings of real expressions.\n\n"
        f"Made by `{command}{' --video-like' if video_like else ''}` (mer.synth.dataset). The faces are real "
        f"photographs shipped by installed packages ({sources}), varied into subjects by mirroring, smooth identity "
        "warps, colour and lighting. Each sample moves the face by an action-unit displacement field of its class "
        "(happiness AU6+12, disgust AU4+9/10, surprise AU1+2, repression AU14/15/17, others AU4 or AU7) at micro "
        "amplitude (0.8-3 px at the apex) with an onset-apex-offset course at 200 fps, over head micro-motion, a "
        "blink, flicker, sensor noise and JPEG compression that every class shares.\n\n"
        + video
        + f"{FRAMES_DIR}/subNN/EPxx_yy/img{{n}}.jpg: frames (640 x 480). {SHEET_NAME}: the coding sheet, with the "
        "columns of CASME II's CASME2-coding-20140508.xlsx. ground_truth.csv: per sample the AUs and intensities, "
        "amplitude, onset/apex/offset and blink frames, nuisances and identity parameters, and seeds.\n"
        "Results on these data say nothing about accuracy on real micro-expressions.\n"
    )


def make_dataset(
    out: str | Path,
    subjects: int = 6,
    per_class: int = 2,
    seed: int = 0,
    frames: int = 60,
    workers: int | None = None,
    progress: bool = True,
    photos: tuple[str, ...] | None = None,
    video_like: bool = False,
    movement: str = "gaussian",
    pose: bool = False,
) -> Path:
    """Write a synthetic dataset in the CASME II layout to `out` and return `out`.

    subjects x 5 classes x per_class samples of `frames` frames (640 x 480 JPEG, 200 fps). Deterministic per seed.
    `photos`, `video_like`, `movement` and `pose`: see plan_dataset (video-like samples have their own frame
    rate, 24-200 fps).
    `workers` processes (default: one per core, at most one per subject). A folder written by an earlier
    ``mer synth`` is replaced; any other folder that already holds CASME2_RAW_selected is refused.
    """
    import pandas as pd
    from tqdm import tqdm

    if subjects < 1 or per_class < 1 or frames < MIN_FRAMES or seed < 0:
        raise InputError(
            f"mer synth needs --subjects >= 1, --per-class >= 1, --frames >= {MIN_FRAMES} and --seed >= 0 "
            f"(got {subjects}, {per_class}, {frames}, {seed})"
        )
    out = Path(out).expanduser()
    if (out / FRAMES_DIR).exists():
        readme = out / "README.txt"
        if not (readme.is_file() and readme.read_text(errors="replace").startswith("SYNTHETIC")):
            raise InputError(f"{out} already holds {FRAMES_DIR} that mer synth did not write; choose an empty folder")
        shutil.rmtree(out / FRAMES_DIR)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    jobs = plan_dataset(subjects, per_class, seed, frames, photos, video_like, movement, pose)
    for job in jobs:
        job["root"] = str(out)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(jobs), desc="synth subjects", unit="subject", disable=not progress)
    if workers > 1:
        from mer.data.workers import process_pool

        with process_pool(workers, ["mer.synth.dataset", "mer.spotting.face", "cv2"]) as pool:
            for result in pool.map(_make_subject, jobs):
                rows.extend(result)
                bar.update()
    else:
        for job in jobs:
            rows.extend(_make_subject(job))
            bar.update()
    bar.close()
    truth = pd.DataFrame(rows)
    truth.insert(0, "dataset_seed", seed)
    truth.to_csv(out / "ground_truth.csv", index=False)
    write_sheet(out / SHEET_NAME, rows)
    (out / "README.txt").write_text(_readme(subjects, per_class, seed, frames, photos, video_like))
    (out / SOURCES_NAME).write_text(json.dumps(data_sources(photos, video_like, movement), indent=2) + "\n")
    if progress:
        seconds = time.perf_counter() - started
        print(f"{len(rows)} samples x {frames} frames in {seconds:.1f} s ({workers} workers)")
    return out


EXAMPLE_CLASSES = ("happiness", "surprise", "disgust", "repression")
# Example timeline (frame indices at 200 fps): onset, apex 75 ms later, offset. No blink: a blink moves more than
# a micro-expression and today's spotter would take it for the apex (the datasets keep theirs).
EXAMPLE_TIMING = {"onset": 8, "apex": 23, "offset": 40}


def write_examples(
    out: str | Path,
    seed: int = 7,
    classes: tuple[str, ...] = EXAMPLE_CLASSES,
    fps: float = FPS,
    frames: int = 52,
    size: tuple[int, int] = (384, 288),
) -> list[Path]:
    """Short demo clips (WebM, VP8) of synthetic micro-expressions, ``synthetic_<class>.webm``; returns the paths.

    Clip i shows subject i + 1 of `seed` (the photos alternate). Frames are made at 200 fps (EXAMPLE_TIMING, 2.5 px
    at the apex, no blink) and written at `fps`, by default their true 200 fps (0.26 s): the spotter works in
    seconds, and the same frames labelled 30 fps (slow motion) stretch the expression past its 1 s baseline window,
    so it misplaces the onset or misses the movement. `size` is (W, H); the 640 x 480 frames are scaled down (the
    face stays ~150 px wide, plenty for dlib) because OpenCV's VP8 writer has no bitrate setting and 640 x 480 clips
    come out at ~1 MB.
    """
    import cv2

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if frames < 30:
        raise InputError(f"example clips need at least 30 frames (got {frames})")
    timing = dict(EXAMPLE_TIMING, offset=min(EXAMPLE_TIMING["offset"], frames - 1))
    paths = []
    for i, emotion in enumerate(classes):
        job = plan_dataset(subjects=i + 1, per_class=1, seed=seed, frames=frames)[i]
        neutral, landmarks = subject_face(job)
        plan = next(p for p in job["plans"] if p["emotion"] == emotion)
        plan.update(amplitude_px=2.5, noise=0.8, flicker=0.005, blink_closure=0.0, **timing)
        path = out / f"synthetic_{emotion}.webm"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
        if not writer.isOpened():
            raise OSError(f"this OpenCV build cannot write WebM (VP8) to {path}")
        for frame in iter_frames(neutral, landmarks, plan, frames):
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            writer.write(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        writer.release()
        paths.append(path)
    return paths
