"""Preprocess once: a dataset's samples -> model inputs on disk, keyed by the settings that shape them.

    mer preprocess --dataset casme2 --root /data/CASME2 --out cache/casme2_flow

Per sample: read the onset and apex frames (apex -1: read onset..offset and spot the apex from the motion),
find the face and its landmarks on the onset frame and align both frames with that one similarity transform
(`mer.spotting.face`), build the (4, 282, 231) input (`mer.data.inputs.build_input`), save it as float16.

CACHE layout::

    settings.json   modality, channels, mean, std, flow, label_set, class_names, dataset, root, sheet,
                    settings_hash, complete, counts, timings
    index.csv       subject, sample, label, emotion, onset, apex, offset, input (+ source, apex_source,
                    apex_image, faces_found, notes): one row per sample
    inputs/<subject>_<sample>.npy   (4, 282, 231) float16, unnormalised
    apex/<subject>_<sample>.jpg     the aligned apex frame, for a look
    samples.jsonl   per sample: its key, the apex used, notes, seconds (what makes reruns and resuming cheap)
    skipped.csv     samples left out (--skip-missing, or outside the label set), with the reason
    timings.json    seconds per stage (read, spot, align, flow, write), summed over workers, and wall time

Reuse: `settings_hash` covers what changes every input (modality, flow, crop size, format); a different one
clears the cache's own files and rebuilds. Each sample also has a key (frame folder, pattern, onset, apex,
offset), so an edited sheet recomputes only the rows it changed; the label set only rewrites index.csv.
Each file is written to a temporary name and renamed, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mer.data.datasets import (
    SKIPPED_COLUMNS,
    default_label_set,
    frame_path,
    load_dataset,
)
from mer.data.workers import process_pool
from mer.errors import InputError
from mer.io import read_json, write_atomic
from mer.spec import CLIP_FRAMES, CROP_HW, DERIVED_FROM, LABEL_SETS, MODALITY_CFGS, input_size

FORMAT = 1
PREPROCESS_STAGES = ("read", "spot", "align", "flow", "write")
# Frame rates of the databases (frames per second), for spotting an unknown apex.
FPS = {"casme2": 200.0, "samm": 200.0, "smic": 100.0}
OWN_FILES = ("settings.json", "index.csv", "samples.jsonl", "skipped.csv", "timings.json")
OWN_FOLDERS = ("inputs", "apex", "clips", "derived")
INDEX_COLUMNS = (
    "subject", "sample", "label", "emotion", "onset", "apex", "offset", "input",
    "source", "apex_source", "apex_image", "faces_found", "notes", "clip",
)  # fmt: skip


@dataclass
class SampleResult:
    """What one sample's preprocessing did (one line of samples.jsonl)."""

    file: str  # inputs/<subject>_<sample>.npy, relative to the cache
    key: str
    subject: str
    sample: str
    apex_used: int = -1
    apex_source: str = "sheet"  # "sheet" or "spotted"
    faces_found: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""


# ---------------------------------------------------------------------------------------------------- keys


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def input_settings(modality: str, flow: str) -> dict[str, Any]:
    """The settings every input depends on; their hash keys the cache."""
    from mer.data.inputs import preprocessing_settings

    # alignment geometry, AU-region version and flow parameters: a change to any of them rebuilds the cache
    return {
        "format": FORMAT,
        "modality": modality,
        "flow": flow,
        "crop_size": list(CROP_HW),
        "dtype": "float16",
        "inputs": preprocessing_settings(),
    }


def sample_key(row: pd.Series | dict) -> str:
    """What one sample's input depends on besides the settings: its frames and frame numbers."""
    return _digest(
        [
            str(row["frame_dir"]),
            str(row["frame_pattern"]),
            *(int(row[k]) for k in ("onset", "apex", "offset")),
        ]
    )


def sample_stem(row: pd.Series | dict) -> str:
    return f"{row['subject']}_{row['sample']}"


# ------------------------------------------------------------------------------------------------- one sample


def _read_rgb(path: Path, name: str) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{name}: cannot read the frame {path}; the file is damaged or not an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to the temporary name
        np.save(f, array)


def _spot_apex(frames: np.ndarray, landmarks: np.ndarray, fps: float) -> tuple[int, str]:
    """Index of the apex in aligned frames (onset first), by the one spotting rule the Predictor uses
    (:func:`mer.spotting.spot.sample_apex`)."""
    from mer.spotting.spot import sample_apex

    return sample_apex(np.asarray(frames), landmarks, fps)


def clip_numbers(task: dict[str, Any], count: int = CLIP_FRAMES) -> list[int]:
    """``count`` frame numbers sampled evenly from onset to offset among the frames that exist (repeats when
    the clip is shorter); onset and offset are always in."""
    onset, offset = int(task["onset"]), int(task["offset"])
    present = [n for n in range(onset, max(onset, offset) + 1) if frame_path(task, n).is_file()] or [onset]
    picks = np.linspace(0, len(present) - 1, count).round().astype(int)
    return [present[i] for i in picks]


def _frame_landmarks(frames_rgb: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """68 landmarks on each aligned frame: dlib's shape predictor in the reference face's box (no detection;
    the aligned face stays in place). (N, H, W, 3) uint8 -> (N, 68, 2) float32 crop pixels."""
    import dlib

    from mer.spotting.face import _dlib_models

    _, predictor = _dlib_models()
    (left, top), (right, bottom) = reference.min(0), reference.max(0)
    pad = 0.1 * (right - left)
    box = dlib.rectangle(int(left - pad), int(top - pad), int(right + pad), int(bottom + pad))
    return np.stack([np.array([(p.x, p.y) for p in predictor(f, box).parts()], dtype=np.float32) for f in frames_rgb])


def _save_clip(path: Path, frames_rgb: np.ndarray, reference: np.ndarray, numbers: list[int]) -> None:
    """The aligned clip kept for sequence models: grey frames (N, 282, 231) uint8, their landmarks, numbers."""
    import cv2

    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames_rgb])
    landmarks = _frame_landmarks(frames_rgb, reference)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, frames=grey, landmarks=landmarks, numbers=np.asarray(numbers))

    write_atomic(path, write)


def _load_frames(task: dict[str, Any], name: str, timer: dict[str, float]) -> tuple[list[int], list[np.ndarray], int]:
    """Frame numbers (the pair or onset..offset for spotting, then the clip's), the RGB frames, pair count."""
    start = time.perf_counter()
    onset, apex, offset = int(task["onset"]), int(task["apex"]), int(task["offset"])
    if apex >= 0:
        numbers = [onset, apex]
    else:  # no apex in the sheet: every frame from onset to offset, for spotting
        numbers = [n for n in range(onset, offset + 1) if frame_path(task, n).is_file()]
    head = len(numbers)
    numbers += clip_numbers(task)
    cache: dict[int, np.ndarray] = {}
    frames = [cache[n] if n in cache else cache.setdefault(n, _read_rgb(frame_path(task, n), name)) for n in numbers]
    timer["read"] = time.perf_counter() - start
    return numbers, frames, head


def preprocess_sample(task: dict[str, Any]) -> SampleResult:
    """Read, align, build and write one sample's input and clip. `task`: a table row plus out, modality, flow, fps.

    Never raises for a bad sample: the error text is returned (a person's bad input, or OpenCV failing on a
    frame), so one bad sample does not stop the others.
    """
    import cv2

    from mer.data.inputs import build_input
    from mer.spotting.face import FaceAligner

    name = f"{task['subject']}/{task['sample']}"
    result = SampleResult(task["file"], task["key"], task["subject"], task["sample"])
    seconds = dict.fromkeys(PREPROCESS_STAGES, 0.0)
    cpu = time.process_time()
    try:
        numbers, frames, head = _load_frames(task, name, seconds)
        start = time.perf_counter()
        clip = FaceAligner().align(frames, ref=0, name=f"{name} onset frame {numbers[0]}")
        seconds["align"] = time.perf_counter() - start
        result.faces_found, result.notes = int(clip.faces_found), list(clip.notes)

        if int(task["apex"]) >= 0:
            apex_index, result.apex_used = 1, int(task["apex"])
        else:
            start = time.perf_counter()
            apex_index, note = _spot_apex(clip.frames[:head], clip.landmarks, task["fps"])
            apex_index = min(max(apex_index, 1), head - 1)  # never the onset itself
            result.apex_used, result.apex_source = numbers[apex_index], "spotted"
            result.notes.append(f"apex spotted at frame {result.apex_used}" + (f" ({note})" if note else ""))
            seconds["spot"] = time.perf_counter() - start

        start = time.perf_counter()
        x = build_input(
            clip.frames[0], clip.frames[apex_index], clip.landmarks, modality=task["modality"], flow=task["flow"]
        )
        seconds["flow"] = time.perf_counter() - start

        start = time.perf_counter()
        out = Path(task["out"])
        write_atomic(out / task["file"], lambda p: _save_npy(p, x.astype(np.float16)))
        _save_clip(out / task["clip"], clip.frames[head:], clip.landmarks, numbers[head:])
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(clip.frames[apex_index], cv2.COLOR_RGB2BGR))
        if ok:
            write_atomic(out / task["apex_image"], lambda p: p.write_bytes(jpg.tobytes()))
        seconds["write"] = time.perf_counter() - start
    except (InputError, cv2.error, OSError, ValueError) as err:
        result.error = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}"
    seconds["cpu"] = time.process_time() - cpu  # this worker's own CPU time: what load from others cannot inflate
    result.seconds = seconds
    return result


# -------------------------------------------------------------------------------------------------- the cache


def _read_records(path: Path) -> dict[str, dict[str, Any]]:
    """samples.jsonl -> {file: record}; a line cut short by an interruption is ignored."""
    records: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
                records[record["file"]] = record
            except (ValueError, KeyError, TypeError):
                continue
    return records


def _prepare(out: Path, settings_hash: str, described: dict[str, Any]) -> str:
    """Make `out` a cache for these settings. Returns "new", "reuse" or "rebuilt: <what changed>"."""
    previous = read_json(out / "settings.json", damaged_ok=True)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the cache")
    if out.is_dir() and previous is None:
        foreign = [p.name for p in out.iterdir() if p.name not in (*OWN_FILES, *OWN_FOLDERS)]
        if foreign:
            raise InputError(
                f"--out {out} holds other files ({', '.join(sorted(foreign)[:5])}) and is not a mer cache; "
                "give an empty or new folder"
            )
    state = "new"
    if previous is not None:
        if previous.get("settings_hash") == settings_hash:
            state = "reuse"
        else:
            changed = [f"{k}: {previous.get(k)} -> {v}" for k, v in described.items() if previous.get(k) != v] or [
                "format"
            ]
            state = "rebuilt: " + ", ".join(changed)
            for name in OWN_FILES:
                (out / name).unlink(missing_ok=True)
            for name in OWN_FOLDERS:
                shutil.rmtree(out / name, ignore_errors=True)
    for name in OWN_FOLDERS:
        (out / name).mkdir(parents=True, exist_ok=True)
        for stale in (out / name).glob("*.tmp-*"):  # left by an interrupted run
            stale.unlink(missing_ok=True)
    return state


def _class_names(label_set: str, table: pd.DataFrame) -> list[str]:
    if label_set in LABEL_SETS:
        return list(LABEL_SETS[label_set])
    return sorted(set(table["label"]))


def preprocess(
    dataset: str,
    root: str | Path,
    out: str | Path,
    sheet: str | Path | None = None,
    modality: str = "flow",
    flow: str = "tvl1",
    label_set: str | None = None,
    skip_missing: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Preprocess a dataset into the cache `out`; returns the settings written to settings.json.

    Every sample gets its input (`modality`) and its aligned clip (``clips/``), from which the other models'
    inputs are derived on demand (:func:`ensure_modality`). Raises InputError for a bad dataset (every problem
    listed) or, after finishing every other sample, for samples that failed (no face, unreadable frame), unless
    skip_missing, which lists them in skipped.csv. workers > 1 starts processes the way `multiprocessing` does,
    so a script calling this needs the usual ``if __name__ == "__main__":`` guard.
    """
    wall = time.perf_counter()
    _check_options(modality, flow)
    label_set = label_set or default_label_set(dataset)
    table, dataset_notes = _load_table(dataset, root, sheet, label_set, skip_missing)
    out = Path(out).expanduser()
    shape_settings = input_settings(modality, flow)
    settings_hash = _digest(shape_settings)
    state = _prepare(out, settings_hash, shape_settings)
    if state.startswith("rebuilt"):
        print(f"settings changed ({state.removeprefix('rebuilt: ')}): cleared {out} and rebuilding")
    settings = _base_settings(shape_settings, settings_hash, table, root, label_set)
    write_atomic(out / "settings.json", lambda p: p.write_text(json.dumps(settings, indent=2)))

    records = _read_records(out / "samples.jsonl")
    tasks, reused = _plan_tasks(table, records, out, modality, flow)
    workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(tasks) or 1))
    results = _run(tasks, workers, out / "samples.jsonl", progress)

    failed = [r for r in results if r.error]
    # keep the records of samples outside this table too (another label set may want them back)
    kept = {f: r for f, r in records.items() if (out / f).is_file() and not r.get("error")}
    done_records = kept | {r["file"]: r for r in reused} | {r.file: asdict(r) for r in results if not r.error}
    write_atomic(
        out / "samples.jsonl",
        lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in done_records.values())),
    )
    if failed and not skip_missing:
        raise InputError(
            f"{len(failed)} of {len(table)} samples could not be preprocessed "
            f"(the other {len(table) - len(failed)} are saved in {out}):\n"
            + "\n".join(f"  {r.subject}/{r.sample}: {r.error}" for r in failed)
            + "\nfix the frames, or leave these samples out with --skip-missing"
        )
    failed_keys = {(r.subject, r.sample) for r in failed}
    keep = [k not in failed_keys for k in zip(table["subject"], table["sample"], strict=True)]
    index = _index_table(table[keep], done_records)
    write_atomic(out / "index.csv", lambda p: index.to_csv(p, index=False))
    skipped = _skipped_table(table, failed)
    write_atomic(out / "skipped.csv", lambda p: skipped.to_csv(p, index=False))
    timings = _timings(results, failed, reused, workers, wall)
    settings |= {
        "complete": True,
        "state": state,
        "samples": len(index),
        "skipped": len(skipped),
        "timings": timings,
        "dataset_notes": dataset_notes,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_atomic(out / "timings.json", lambda p: p.write_text(json.dumps(timings, indent=2)))
    write_atomic(out / "settings.json", lambda p: p.write_text(json.dumps(settings, indent=2)))
    return settings


def _check_options(modality: str, flow: str) -> None:
    from mer.data.inputs import MODALITIES
    from mer.spotting.motion import FLOWS

    primary = [m for m in MODALITIES if m not in DERIVED_FROM]
    if modality not in primary:
        hint = f" ({modality} is derived from every cache by `mer train`)" if modality in DERIVED_FROM else ""
        raise InputError(f"unknown modality '{modality}'{hint}; choose one of {', '.join(primary)}")
    if flow not in FLOWS:
        raise InputError(f"unknown optical flow '{flow}'; choose one of {', '.join(FLOWS)}")


def _load_table(
    dataset: str, root: str | Path, sheet: str | Path | None, label_set: str, skip_missing: bool
) -> tuple[pd.DataFrame, list[str]]:
    """The dataset's canonical table and the notes its loader warned (printed here)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_dataset(dataset, root, sheet=sheet, label_set=label_set, skip_missing=skip_missing)
    notes = [str(w.message) for w in caught]
    for message in notes:
        print(f"note: {message}")
    if table.empty:
        raise InputError(f"no samples left to preprocess in {root} (see the notes above)")
    return table, notes


def _base_settings(
    shape_settings: dict[str, Any], settings_hash: str, table: pd.DataFrame, root: str | Path, label_set: str
) -> dict[str, Any]:
    from mer.data.inputs import MODALITIES

    info = MODALITIES[shape_settings["modality"]]
    return {
        **shape_settings,
        "settings_hash": settings_hash,
        "complete": False,
        "dataset": table["dataset"].iloc[0],
        "root": str(Path(root).expanduser().resolve()),
        "frames_base": table.attrs.get("base", ""),
        "sheet": table.attrs.get("sheet", ""),
        "label_set": label_set,
        "class_names": _class_names(label_set, table),
        "channels": list(info.channels),
        "mean": [float(v) for v in info.mean],
        "std": [float(v) for v in info.std],
        "input_shape": [len(info.channels), *shape_settings["crop_size"]],
        "clip_frames": CLIP_FRAMES,
    }


def _plan_tasks(
    table: pd.DataFrame, records: dict[str, dict[str, Any]], out: Path, modality: str, flow: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(samples to compute, records of samples already done with the same key and files present)."""
    tasks, reused = [], []
    for row in table.to_dict("records"):
        stem = sample_stem(row)
        task = {
            **row,
            "file": f"inputs/{stem}.npy",
            "clip": f"clips/{stem}.npz",
            "apex_image": f"apex/{stem}.jpg",
            "key": sample_key(row),
            "out": str(out),
            "modality": modality,
            "flow": flow,
            "fps": FPS.get(row["source"], 200.0),
        }
        done = records.get(task["file"])
        files = (out / task["file"]).is_file() and (out / task["clip"]).is_file()
        if done and done.get("key") == task["key"] and not done.get("error") and files:
            reused.append(done)
        else:
            tasks.append(task)
    return tasks, reused


def _timings(
    results: list[SampleResult], failed: list[SampleResult], reused: list, workers: int, wall: float
) -> dict[str, Any]:
    timings: dict[str, Any] = {
        stage: round(sum(r.seconds.get(stage, 0.0) for r in results), 3) for stage in (*PREPROCESS_STAGES, "cpu")
    }
    return timings | {
        "wall": round(time.perf_counter() - wall, 3),
        "workers": workers,
        "computed": len(results) - len(failed),
        "reused": len(reused),
    }


def _index_table(table: pd.DataFrame, records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """index.csv: one row per preprocessed sample, with the apex actually used."""
    rows = []
    for row in table.to_dict("records"):
        stem = sample_stem(row)
        record = records[f"inputs/{stem}.npy"]
        notes = [row["note"]] if row["note"] else []
        rows.append(
            {
                **{k: row[k] for k in ("subject", "sample", "label", "emotion", "onset", "offset", "source")},
                "apex": record["apex_used"],
                "input": f"inputs/{stem}.npy",
                "apex_source": record["apex_source"],
                "apex_image": f"apex/{stem}.jpg",
                "clip": f"clips/{stem}.npz",
                "faces_found": record["faces_found"],
                "notes": "; ".join([*notes, *record["notes"]]),
            }
        )
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def _skipped_table(table: pd.DataFrame, failed: list[SampleResult]) -> pd.DataFrame:
    """skipped.csv: rows left out by --skip-missing, by the label set, or failed in preprocessing."""
    parts = [table.attrs.get("skipped"), table.attrs.get("excluded")]
    sheet_rows = table.set_index(["subject", "sample"])["sheet_row"]
    failures = [
        (r.subject, r.sample, int(sheet_rows.loc[(r.subject, r.sample)]), f"preprocessing failed: {r.error}")
        for r in failed
    ]
    parts.append(pd.DataFrame(failures, columns=list(SKIPPED_COLUMNS)))
    parts = [p[list(SKIPPED_COLUMNS)] for p in parts if p is not None and len(p)]
    if not parts:
        return pd.DataFrame(columns=list(SKIPPED_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _run(tasks: list[dict[str, Any]], workers: int, journal: Path, progress: bool) -> list[SampleResult]:
    """Preprocess `tasks` on `workers` processes; each finished sample is journaled at once (resumable)."""
    from tqdm import tqdm

    results: list[SampleResult] = []
    if not tasks:
        return results
    bar = tqdm(total=len(tasks), desc="preprocess", unit="sample", disable=not progress)
    with open(journal, "a") as log:

        def finish(result: SampleResult) -> None:
            results.append(result)
            if not result.error:
                log.write(json.dumps(asdict(result)) + "\n")
                log.flush()
            bar.update(1)

        try:
            if workers == 1:
                for task in tasks:
                    finish(preprocess_sample(task))
            else:
                preload = ["mer.data.cache", "mer.spotting.face", "mer.data.inputs", "cv2"]
                with process_pool(workers, preload) as pool:
                    futures = [pool.submit(preprocess_sample, task) for task in tasks]
                    try:
                        for future in as_completed(futures):
                            finish(future.result())
                    except BaseException:
                        for future in futures:
                            future.cancel()
                        raise
        except KeyboardInterrupt:
            bar.close()
            print(f"interrupted: {len(results)} samples done are kept; run the same command again to resume")
            raise
        finally:
            bar.close()
    return results


def read_cache(cache: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(index, settings) of a finished cache; `index["input"]` paths are relative to `cache`."""
    cache = Path(cache).expanduser()
    settings = read_json(cache / "settings.json", damaged_ok=True)
    if settings is None:
        raise InputError(f"{cache} is not a preprocessed cache (no settings.json); make one with `mer preprocess`")
    if not settings.get("complete"):
        raise InputError(f"the cache {cache} is incomplete (interrupted?); run the same `mer preprocess` again")
    if not (cache / "index.csv").is_file():
        raise InputError(f"{cache} is not a preprocessed cache (no index.csv); make one with `mer preprocess`")
    text = {"subject": str, "sample": str, "label": str, "emotion": str, "input": str, "notes": str}
    index = pd.read_csv(cache / "index.csv", dtype=text, keep_default_na=False)
    return index, settings


def load_input(cache: str | Path, row: pd.Series | dict) -> np.ndarray:
    """One cached input as float32 (4, 282, 231), unnormalised."""
    return np.load(Path(cache) / row["input"]).astype(np.float32)


# ------------------------------------------------------------------------------------------ derived inputs
DERIVE_VERSION = 1
SQUARE_TOP = (CROP_HW[0] - CROP_HW[1]) // 2  # the central square of the crop: rows SQUARE_TOP .. +CROP_HW[1]


def derived_path(stem: str, modality: str, part: str = "input") -> str:
    """Relative path of a derived input (``part="input"``, .npy) or of its training targets (``"targets"``, .npz)."""
    return f"derived/{modality}/{stem}.npy" if part == "input" else f"derived/{modality}/{stem}.targets.npz"


def frames8_from_clip(clip: dict[str, np.ndarray], flow: str = "tvl1") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """MOL's input and targets from a stored clip: the central square of each grey frame resized to 128 x 128.

    Returns (8, 128, 128) float32 in [0, 1] and ``{"flow": (7, 2, 128, 128) float16 flow between consecutive
    frames (pixels of the 128 grid), "landmarks": (8, 68, 2) float32 in 128-pixel coordinates}``.
    """
    import cv2

    from mer.spotting.motion import optical_flow

    side = CROP_HW[1]
    size = input_size("frames8")[1]
    squares = clip["frames"][:, SQUARE_TOP : SQUARE_TOP + side]
    small = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in squares])
    flows = np.stack([np.moveaxis(optical_flow(a, b, flow), -1, 0) for a, b in zip(small[:-1], small[1:], strict=True)])
    marks = (clip["landmarks"] - np.array([0.0, SQUARE_TOP], dtype=np.float32)) * (size / side)
    targets = {"flow": flows.astype(np.float16), "landmarks": marks.astype(np.float32)}
    return small.astype(np.float32) / 255.0, targets


def flow_uv28_from_input(x: np.ndarray) -> np.ndarray:
    """FR's input from a cached flow input (4, 282, 231): u and v averaged onto 28 x 28 (crop pixels)."""
    import cv2

    h, w = input_size("flow_uv28")[1:]
    return np.stack([cv2.resize(np.asarray(c, np.float32), (w, h), interpolation=cv2.INTER_AREA) for c in x[:2]])


def _derive_one(root: Path, row: dict[str, Any], modality: str, settings: dict[str, Any]) -> None:
    stem = Path(row["input"]).stem
    if modality == "flow_uv28":
        x, targets = flow_uv28_from_input(np.load(root / row["input"])), None
    else:
        with np.load(root / row["clip"]) as z:
            x, targets = frames8_from_clip(dict(z), settings.get("flow", "tvl1"))
    if targets is not None:

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **targets)

        write_atomic(root / derived_path(stem, modality, "targets"), write)
    write_atomic(root / derived_path(stem, modality), lambda p: _save_npy(p, x.astype(np.float16)))


def _derivable(root: Path, index: pd.DataFrame, settings: dict[str, Any], modality: str) -> None:
    """InputError naming the command to run when the cache lacks what ``modality`` is derived from."""
    source = DERIVED_FROM[modality]
    if source == "flow" and settings.get("modality") != "flow":
        raise InputError(
            f"{modality} is derived from the flow input, but {root} holds '{settings.get('modality')}' inputs; "
            f"make a flow cache with `mer preprocess --modality flow ...` and train on that"
        )
    if source == "clip":
        missing = "clip" not in index or any(not (root / str(p)).is_file() for p in index["clip"])
        if missing:
            raise InputError(
                f"{modality} is derived from the aligned clips, and {root} has none (made by an older mer); "
                "run the same `mer preprocess` command again to add them"
            )


def ensure_modality(cache: str | Path, modality: str, progress: bool = True) -> Path:
    """Make sure every sample of the cache has its ``modality`` input; derive what is missing, once.

    The cache's own modality needs nothing. A derived one (``mer.spec.DERIVED_FROM``) is written under
    ``derived/<modality>/`` with a ``done.json`` marker; concurrent callers write the same files atomically.
    Returns the folder holding the inputs. Raises InputError naming the command that makes a missing source.
    """
    from tqdm.auto import tqdm

    root = Path(cache).expanduser()
    index, settings = read_cache(root)
    if modality == settings.get("modality"):
        return root
    if modality not in DERIVED_FROM:
        raise InputError(
            f"{root} holds '{settings.get('modality')}' inputs and {modality} cannot be derived from them; "
            f"make a cache with `mer preprocess --modality {modality} ...`"
        )
    folder = root / "derived" / modality
    marker = {"version": DERIVE_VERSION, "settings_hash": settings.get("settings_hash"), "samples": len(index)}
    if read_json(folder / "done.json", damaged_ok=True) == marker:
        return folder
    _derivable(root, index, settings, modality)
    folder.mkdir(parents=True, exist_ok=True)
    rows = index.to_dict("records")
    for row in tqdm(rows, desc=f"derive {modality}", unit="sample", disable=not progress, leave=False):
        _derive_one(root, row, modality, settings)
    write_atomic(folder / "done.json", lambda p: p.write_text(json.dumps(marker)))
    return folder


def modality_cfg(modality: str) -> dict[str, Any]:
    """Channels, mean and std of a modality (``mer.spec.MODALITY_CFGS``) with its (C, H, W)."""
    return {**MODALITY_CFGS[modality], "input_size": input_size(modality)}
