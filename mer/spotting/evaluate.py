"""Spotting scored the MEGC way: intervals against the truth of long videos, per video and pooled.

A spotted interval W is a true positive when |W n G| / |W u G| >= 0.5 for a truth interval G of the same kind
(frames inclusive, as the sheets count them); pairs are taken best IoU first, so each truth is matched at most once
and each spotted interval at most once. Recall = TP / truths, precision = TP / spotted, F1 from both; micro and
macro separately, ``overall`` their sums (MEGC 2019-2023). False positives per minute divide by the length of the
videos scored.

    score = evaluate(truth, spotted, minutes)      # DataFrames with video, onset, offset, kind
    score.micro.f1, score.per_video, score.to_json()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mer.errors import InputError

IOU_THRESHOLD = 0.5
KINDS = ("micro", "macro")
INTERVAL_FIELDS = ("video", "onset", "offset", "kind")  # what a spotted CSV must hold
PER_VIDEO_COLUMNS = ("video", "kind", "truths", "spotted", "tp", "fp", "fn", "recall", "precision", "f1", "minutes",
                     "fp_per_minute")  # fmt: skip


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    union = max(a[1], b[1]) - min(a[0], b[0]) + 1
    return max(inter, 0) / union if union > 0 else 0.0


def match(
    truths: list[tuple[int, int]], spotted: list[tuple[int, int]], threshold: float = IOU_THRESHOLD
) -> dict[int, int]:
    """Truth index -> spotted index, each used at most once: pairs taken in order of decreasing IoU (>= threshold)."""
    pairs = sorted(((iou(t, s), i, j) for i, t in enumerate(truths) for j, s in enumerate(spotted)),
                   key=lambda p: (-p[0], p[1], p[2]))  # fmt: skip
    out: dict[int, int] = {}
    used: set[int] = set()
    for value, i, j in pairs:
        if value < threshold:
            break
        if i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


@dataclass(frozen=True)
class Counts:
    """True positives, false positives, false negatives of one kind over some videos, and their length."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    minutes: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.minutes + other.minutes)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def f1(self) -> float:
        r, p = self.recall, self.precision
        return 2 * r * p / (r + p) if r + p else 0.0

    @property
    def fp_per_minute(self) -> float:
        return self.fp / self.minutes if self.minutes else float("nan")

    def to_json(self) -> dict[str, Any]:
        """tp, fp, fn, recall, precision, f1, fp_per_minute (rounded to 6 places)."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "recall": round(self.recall, 6),
                "precision": round(self.precision, 6), "f1": round(self.f1, 6),
                "fp_per_minute": round(self.fp_per_minute, 6) if self.minutes else None}  # fmt: skip


@dataclass
class SpotScore:
    """The scores of a spotting run: micro, macro and overall counts pooled over the videos scored, and a row per
    video and kind (PER_VIDEO_COLUMNS); minutes: the videos' total length."""

    micro: Counts
    macro: Counts
    per_video: pd.DataFrame
    minutes: float

    @property
    def overall(self) -> Counts:
        return Counts(self.micro.tp + self.macro.tp, self.micro.fp + self.macro.fp, self.micro.fn + self.macro.fn,
                      self.minutes)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """micro, macro, overall (each tp, fp, fn, recall, precision, f1, fp_per_minute), fp_per_minute (overall),
        minutes, videos, the IoU threshold."""
        overall = self.overall
        return {"micro": self.micro.to_json(), "macro": self.macro.to_json(), "overall": overall.to_json(),
                "fp_per_minute": overall.to_json()["fp_per_minute"], "minutes": round(self.minutes, 4),
                "videos": int(self.per_video["video"].nunique()), "iou_threshold": IOU_THRESHOLD}  # fmt: skip


def score_video(truth: pd.DataFrame, spotted: pd.DataFrame, kind: str, minutes: float) -> Counts:
    """Counts of one kind in one video (both frames with onset, offset and kind columns)."""
    t = truth[truth["kind"] == kind]
    s = spotted[spotted["kind"] == kind]
    pairs = match(list(zip(t["onset"], t["offset"], strict=True)), list(zip(s["onset"], s["offset"], strict=True)))
    return Counts(len(pairs), len(s) - len(pairs), len(t) - len(pairs), minutes)


def evaluate(truth: pd.DataFrame, spotted: pd.DataFrame, minutes: dict[str, float]) -> SpotScore:
    """Score ``spotted`` against ``truth`` on the videos of ``minutes`` (video id -> length in minutes).

    truth, spotted: DataFrames with columns video, onset, offset, kind (micro | macro), frame numbers in one
    convention. Intervals of videos not in ``minutes`` are left out (the caller lists them).
    """
    rows = []
    pooled = {kind: Counts() for kind in KINDS}
    by_truth, by_spotted = dict(tuple(truth.groupby("video"))), dict(tuple(spotted.groupby("video")))
    empty = pd.DataFrame(columns=list(INTERVAL_FIELDS))
    for video, length in minutes.items():
        t, s = by_truth.get(video, empty), by_spotted.get(video, empty)
        for kind in KINDS:
            counts = score_video(t, s, kind, length)
            pooled[kind] = pooled[kind] + counts
            rows.append({"video": video, "kind": kind, "truths": counts.tp + counts.fn,
                         "spotted": counts.tp + counts.fp, "tp": counts.tp, "fp": counts.fp, "fn": counts.fn,
                         "recall": round(counts.recall, 6), "precision": round(counts.precision, 6),
                         "f1": round(counts.f1, 6), "minutes": round(length, 6),
                         "fp_per_minute": round(counts.fp_per_minute, 6)})  # fmt: skip
    total = float(sum(minutes.values()))
    micro = Counts(pooled["micro"].tp, pooled["micro"].fp, pooled["micro"].fn, total)
    macro = Counts(pooled["macro"].tp, pooled["macro"].fp, pooled["macro"].fn, total)
    return SpotScore(micro, macro, pd.DataFrame(rows, columns=list(PER_VIDEO_COLUMNS)), total)


def read_spotted(path: str | Path) -> pd.DataFrame:
    """A CSV of spotted intervals (columns video, onset, offset, kind; others ignored), validated.

    Raises InputError listing the missing columns, or the rows whose frames are not whole numbers with onset <=
    offset or whose kind is not micro or macro.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"the spotted-intervals CSV {path} does not exist; give a CSV with columns "
                         f"{', '.join(INTERVAL_FIELDS)}")  # fmt: skip
    try:
        table = pd.read_csv(path, dtype={"video": str, "kind": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path} as CSV: {err}") from err
    missing = [c for c in INTERVAL_FIELDS if c not in table.columns]
    if missing:
        raise InputError(f"{path} lacks the column(s) {', '.join(missing)}; it needs {', '.join(INTERVAL_FIELDS)} "
                         "(frame numbers as the sheet counts them, kind micro or macro)")  # fmt: skip
    table = table[list(INTERVAL_FIELDS)].copy()
    table["kind"] = table["kind"].astype(str).str.strip().str.lower()
    frames = table[["onset", "offset"]].apply(pd.to_numeric, errors="coerce")
    bad = (frames.isna().any(axis=1) | (frames % 1 != 0).any(axis=1) | (frames["onset"] > frames["offset"])
           | ~table["kind"].isin(KINDS))  # fmt: skip
    if bad.any():
        shown = table[bad].head(20)
        lines = [f"  line {i + 2}: {r.video}, {r.onset}, {r.offset}, {r.kind}" for i, r in shown.iterrows()]
        raise InputError(f"{path}: {int(bad.sum())} row(s) are not whole frame numbers with onset <= offset and kind "
                         "micro or macro:\n" + "\n".join(lines))  # fmt: skip
    table[["onset", "offset"]] = frames.astype("int64")
    table["video"] = table["video"].astype(str).str.strip()
    return table
