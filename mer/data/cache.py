"""Preprocess once: a dataset's samples -> model inputs on disk, keyed by the settings that shape them.

    mer preprocess --dataset casme2 --root /data/CASME2 --out cache/casme2_flow

Per sample: read the onset and apex frames (apex -1: read onset..offset and spot the apex from the motion),
find the face and its landmarks on the onset frame and align both frames with that one similarity transform
(`mer.data.face`), build the (4, 282, 231) input (`mer.data.inputs.build_input`), save it as float16.

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
from mer.spec import CROP_HW, LABEL_SETS

FORMAT = 1
STAGES = ("read", "spot", "align", "flow", "write")
# Frame rates of the databases (frames per second), for spotting an unknown apex.
FPS = {"casme2": 200.0, "samm": 200.0, "smic": 100.0}
OWN_FILES = ("settings.json", "index.csv", "samples.jsonl", "skipped.csv", "timings.json")
OWN_FOLDERS = ("inputs", "apex")
INDEX_COLUMNS = (
    "subject", "sample", "label", "emotion", "onset", "apex", "offset", "input",
    "source", "apex_source", "apex_image", "faces_found", "notes",
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


def _write_atomic(path: Path, write) -> None:
    """write(tmp_path) then rename: a reader never sees half a file, an interrupted run leaves only a .tmp."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to the temporary name
        np.save(f, array)


def _spot_apex(frames: np.ndarray, landmarks: np.ndarray, fps: float) -> tuple[int, str]:
    """Index of the apex in aligned frames (onset first), from the motion curve over the AU regions."""
    from mer.data import face, motion

    curve = motion.motion_curve(frames, mask=face.spotting_mask(landmarks), fps=fps)
    spotted = motion.spot(curve, fps)
    return int(spotted.apex), spotted.note


def preprocess_sample(task: dict[str, Any]) -> SampleResult:
    """Read, align, build and write one sample's input. `task`: a table row plus out, modality, flow, fps.

    Never raises for a bad sample: the error text is returned, so one bad sample does not stop the others.
    """
    import cv2

    from mer.data.face import FaceAligner
    from mer.data.inputs import build_input

    name = f"{task['subject']}/{task['sample']}"
    result = SampleResult(task["file"], task["key"], task["subject"], task["sample"])
    seconds = dict.fromkeys(STAGES, 0.0)
    cpu = time.process_time()
    try:
        start = time.perf_counter()
        onset, apex, offset = int(task["onset"]), int(task["apex"]), int(task["offset"])
        if apex >= 0:
            numbers = [onset, apex]
        else:  # no apex in the sheet: every frame from onset to offset, for spotting
            numbers = [n for n in range(onset, offset + 1) if frame_path(task, n).is_file()]
        frames = [_read_rgb(frame_path(task, n), name) for n in numbers]
        seconds["read"] = time.perf_counter() - start

        start = time.perf_counter()
        clip = FaceAligner().align(frames, ref=0, name=f"{name} onset frame {onset}")
        seconds["align"] = time.perf_counter() - start
        result.faces_found, result.notes = int(clip.faces_found), list(clip.notes)

        if apex >= 0:
            apex_index, result.apex_used = 1, apex
        else:
            start = time.perf_counter()
            apex_index, note = _spot_apex(clip.frames, clip.landmarks, task["fps"])
            apex_index = min(max(apex_index, 1), len(numbers) - 1)  # never the onset itself
            result.apex_used, result.apex_source = numbers[apex_index], "spotted"
            result.notes.append(f"apex spotted at frame {result.apex_used}" + (f" ({note})" if note else ""))
            seconds["spot"] = time.perf_counter() - start

        start = time.perf_counter()
        x = build_input(
            clip.frames[0],
            clip.frames[apex_index],
            clip.landmarks,
            modality=task["modality"],
            flow=task["flow"],
        )
        seconds["flow"] = time.perf_counter() - start

        start = time.perf_counter()
        out = Path(task["out"])
        _write_atomic(out / task["file"], lambda p: _save_npy(p, x.astype(np.float16)))
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(clip.frames[apex_index], cv2.COLOR_RGB2BGR))
        if ok:
            _write_atomic(out / task["apex_image"], lambda p: p.write_bytes(jpg.tobytes()))
        seconds["write"] = time.perf_counter() - start
    except InputError as err:
        result.error = str(err)
    seconds["cpu"] = time.process_time() - cpu  # this worker's own CPU time: what load from others cannot inflate
    result.seconds = seconds
    return result


# -------------------------------------------------------------------------------------------------- the cache


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


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
    previous = _read_json(out / "settings.json")
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

    Raises InputError for a bad dataset (every problem listed) or, after finishing every other sample, for
    samples that failed (no face, unreadable frame), unless skip_missing, which lists them in skipped.csv.
    workers > 1 starts processes the way `multiprocessing` does, so a script calling this needs the usual
    ``if __name__ == "__main__":`` guard.
    """
    from mer.data.inputs import MODALITIES
    from mer.data.motion import FLOWS

    wall = time.perf_counter()
    if modality not in MODALITIES:
        raise InputError(f"unknown modality '{modality}'; choose one of {', '.join(MODALITIES)}")
    if flow not in FLOWS:
        raise InputError(f"unknown optical flow '{flow}'; choose one of {', '.join(FLOWS)}")
    label_set = label_set or default_label_set(dataset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_dataset(dataset, root, sheet=sheet, label_set=label_set, skip_missing=skip_missing)
    dataset_notes = [str(w.message) for w in caught]
    for message in dataset_notes:
        print(f"note: {message}")
    if table.empty:
        raise InputError(f"no samples left to preprocess in {root} (see the notes above)")

    out = Path(out).expanduser()
    shape_settings = input_settings(modality, flow)
    settings_hash = _digest(shape_settings)
    state = _prepare(out, settings_hash, shape_settings)
    if state.startswith("rebuilt"):
        print(f"settings changed ({state.removeprefix('rebuilt: ')}): cleared {out} and rebuilding")

    modality_info = MODALITIES[modality]
    settings: dict[str, Any] = {
        **shape_settings,
        "settings_hash": settings_hash,
        "complete": False,
        "dataset": table["dataset"].iloc[0],
        "root": str(Path(root).expanduser().resolve()),
        "frames_base": table.attrs.get("base", ""),
        "sheet": table.attrs.get("sheet", ""),
        "label_set": label_set,
        "class_names": _class_names(label_set, table),
        "channels": list(modality_info.channels),
        "mean": [float(v) for v in modality_info.mean],
        "std": [float(v) for v in modality_info.std],
        "input_shape": [len(modality_info.channels), *shape_settings["crop_size"]],
    }
    _write_atomic(out / "settings.json", lambda p: p.write_text(json.dumps(settings, indent=2)))

    records = _read_records(out / "samples.jsonl")
    tasks, reused = [], []
    for row in table.to_dict("records"):
        stem = sample_stem(row)
        task = {
            **row,
            "file": f"inputs/{stem}.npy",
            "apex_image": f"apex/{stem}.jpg",
            "key": sample_key(row),
            "out": str(out),
            "modality": modality,
            "flow": flow,
            "fps": FPS.get(row["source"], 200.0),
        }
        done = records.get(task["file"])
        if done and done.get("key") == task["key"] and not done.get("error") and (out / task["file"]).is_file():
            reused.append(done)
        else:
            tasks.append(task)

    workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(tasks) or 1))
    results = _run(tasks, workers, out / "samples.jsonl", progress)

    failed = [r for r in results if r.error]
    # keep the records of samples outside this table too (another label set may want them back)
    kept = {f: r for f, r in records.items() if (out / f).is_file() and not r.get("error")}
    done_records = kept | {r["file"]: r for r in reused} | {r.file: asdict(r) for r in results if not r.error}
    _write_atomic(
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
    index = _index_table(
        table[[k not in failed_keys for k in zip(table["subject"], table["sample"], strict=True)]],
        done_records,
    )
    _write_atomic(out / "index.csv", lambda p: index.to_csv(p, index=False))
    skipped = _skipped_table(table, failed)
    _write_atomic(out / "skipped.csv", lambda p: skipped.to_csv(p, index=False))

    timings = {stage: round(sum(r.seconds.get(stage, 0.0) for r in results), 3) for stage in (*STAGES, "cpu")}
    timings |= {
        "wall": round(time.perf_counter() - wall, 3),
        "workers": workers,
        "computed": len(results) - len(failed),
        "reused": len(reused),
    }
    settings |= {
        "complete": True,
        "state": state,
        "samples": len(index),
        "skipped": len(skipped),
        "timings": timings,
        "dataset_notes": dataset_notes,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    _write_atomic(out / "timings.json", lambda p: p.write_text(json.dumps(timings, indent=2)))
    _write_atomic(out / "settings.json", lambda p: p.write_text(json.dumps(settings, indent=2)))
    return settings


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
                preload = ["mer.data.cache", "mer.data.face", "mer.data.inputs", "cv2"]
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


def open_cache(cache: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(index, settings) of a finished cache; `index["input"]` paths are relative to `cache`."""
    cache = Path(cache).expanduser()
    settings = _read_json(cache / "settings.json")
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
