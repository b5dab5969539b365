"""Long-video databases (SAMM Long Videos, CAS(ME)^2, CAS(ME)^3 part A): a sheet of intervals, a folder per video.

Each database module turns its sheet into one interval table (:data:`INTERVAL_COLUMNS`: a row per annotated
movement, frame numbers as the sheet counts them, ``kind`` micro or macro, what was decided for the row in
``note``) and says where a video's frames lie; :func:`load` finds the frames of every video the sheet names under
a user's copy and returns a :class:`LongVideos`: the intervals, the frame files of each video present, and the
videos whose frames are absent (listed, never silently dropped).

    videos = load(samm_lv.DATASET, "/data/SAMM_LV")
    videos.intervals            # 502 rows: video, onset, apex, offset, kind, ...
    videos.frames["006_1"]      # VideoFrames: folder, file name pattern, frame numbers present
    videos.skipped              # [{"video": "037_7", "problem": "missing folder: ..."}]
"""

from __future__ import annotations

import csv
import glob
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mer.data.datasets.common import cell_text, find_sheet, scan_frame_folder
from mer.errors import InputError

INTERVAL_COLUMNS: tuple[str, ...] = (
    "dataset",  # samm-lv | casme2-lv | casme3
    "video",  # the video's id: its folder under the layout folder ("006_1", "s15/15_0101disgustingteeth")
    "subject",  # the subject's folder ("006", "s15", "spNO.1")
    "onset",
    "apex",  # -1 when the sheet gives none
    "offset",  # frame numbers as the sheet (and the frame file names) count them
    "kind",  # micro | macro
    "aus",  # action units as written in the sheet
    "sheet_row",  # the row as a spreadsheet shows it (1-based)
    "note",  # what was decided for this row ("" when nothing)
)
KINDS = ("micro", "macro")
APEX_UNKNOWN = -1


@dataclass(frozen=True)
class VideoFrames:
    """The frame files of one video: its folder, the file name pattern ("img{}.jpg") and the numbers present."""

    folder: Path
    pattern: str
    numbers: tuple[int, ...]  # sorted

    def paths(self) -> list[Path]:
        """Every frame file, in frame-number order."""
        return [self.folder / self.pattern.format(n) for n in self.numbers]

    def minutes(self, fps: float) -> float:
        """The video's length in minutes (frames present / fps)."""
        return len(self.numbers) / fps / 60.0


@dataclass(frozen=True)
class LongVideoDataset:
    """What differs between long-video databases; finding the sheet and the frames is shared.

    Args:
        name: the dataset's name on the command line ("samm-lv").
        fps: the recording's frame rate.
        sheet_patterns: glob patterns for the sheet in the root or its parent, preferred first.
        sheet_example: the sheet's usual file name, for messages.
        layout: the folder under the root that holds the video folders ("SAMM_longvideos").
        layout_hint: where the frames belong, for messages.
        read_intervals: sheet path -> the interval table (INTERVAL_COLUMNS), frames not looked at.
        video_folder: (layout folder, video id) -> the folder holding that video's frames, or None.
    """

    name: str
    fps: float
    sheet_patterns: tuple[str, ...]
    sheet_example: str
    layout: str
    layout_hint: str
    read_intervals: Callable[[Path], pd.DataFrame]
    video_folder: Callable[[Path, str], Path | None]
    video_key: Callable[[str], str] = str  # an id as a spotted CSV may write it -> the id the sheet knows


@dataclass
class LongVideos:
    """A long-video database as found on disk.

    intervals: every interval of the sheet (INTERVAL_COLUMNS), videos present or not; frames: video id -> its
    frame files, for the videos present; skipped: {"video", "problem"} for each video of the sheet whose frames
    are absent; sheet, base: the sheet read and the folder holding the video folders.
    """

    dataset: LongVideoDataset
    intervals: pd.DataFrame
    frames: dict[str, VideoFrames]
    skipped: list[dict[str, str]] = field(default_factory=list)
    sheet: Path | None = None
    base: Path | None = None

    @property
    def fps(self) -> float:
        return self.dataset.fps

    def present(self) -> pd.DataFrame:
        """The intervals of the videos whose frames are present."""
        return self.intervals[self.intervals["video"].isin(self.frames)].reset_index(drop=True)

    def minutes(self) -> dict[str, float]:
        """Video id -> length in minutes, for the videos present."""
        return {video: frames.minutes(self.fps) for video, frames in self.frames.items()}


# ---------------------------------------------------------------------------------------------------- sheets


def read_book(path: Path) -> dict[str, list[list[str]]]:
    """Every worksheet of an .xlsx, .xls or .csv (one sheet, named by the file) as text cells, one list per row."""
    if not path.is_file():
        raise InputError(f"the sheet {path} does not exist; give the path of the annotation sheet with --sheet")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                return {ws.title: [[cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)] for ws in
                        book.worksheets}  # fmt: skip
            finally:
                book.close()
        if suffix == ".xls":
            import xlrd

            book = xlrd.open_workbook(str(path))
            return {s.name: [[cell_text(v) for v in s.row_values(i)] for i in range(s.nrows)] for s in book.sheets()}
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as f:
                return {path.stem: [[cell_text(v) for v in row] for row in csv.reader(f)]}
    except ImportError as err:
        raise InputError(f"reading {path.name} needs the package {err.name}: pip install {err.name}") from err
    except InputError:
        raise
    except Exception as err:  # openpyxl and xlrd raise many types for a broken file
        raise InputError(f"cannot read the sheet {path}: {err}; save it again as .xlsx or .csv") from err
    raise InputError(f"the sheet {path} is not .xlsx, .xls or .csv; save it as one of those (Excel: Save As)")


def frame_number(text: str) -> tuple[int | None, bool]:
    """A frame cell -> (whole frame number, whether it was fractional and rounded); (None, False) if not a number.

    SAMM-LV writes 143 Macro rows' frames with a decimal (566.4); the MEGC CSV export rounds them to the nearest
    frame, and so do we (halves up).
    """
    try:
        value = float(text)
    except ValueError:
        return None, False
    if not math.isfinite(value):
        return None, False
    whole = int(math.floor(value + 0.5))
    return whole, abs(value - whole) > 1e-9


def interval_table(records: list[dict]) -> pd.DataFrame:
    """The interval table (INTERVAL_COLUMNS, frame columns as integers) from row dicts."""
    table = pd.DataFrame(records, columns=list(INTERVAL_COLUMNS))
    for name in ("onset", "apex", "offset", "sheet_row"):
        table[name] = table[name].astype("int64")
    return table


def check_rows(table: pd.DataFrame, sheet: Path) -> None:
    """One InputError listing every row whose onset is not before its offset or whose kind is unknown."""
    bad = table[(table["onset"] > table["offset"]) | ~table["kind"].isin(KINDS)]
    if len(bad):
        lines = [f"  sheet row {r.sheet_row} ({r.video}): onset {r.onset}, offset {r.offset}, kind '{r.kind}'"
                 for r in bad.itertuples()]  # fmt: skip
        raise InputError(f"{sheet}: {len(bad)} malformed row(s):\n" + "\n".join(lines) + "\nfix them in the sheet")


def find_long_sheet(root: Path, dataset: LongVideoDataset) -> Path:
    """The sheet in the root (or its parent or sub-folders), trying the dataset's patterns in order."""
    for pattern in dataset.sheet_patterns:
        try:
            return find_sheet(root, (glob.escape(pattern).replace(r"[*]", "*"),), dataset.name, dataset.sheet_example)
        except InputError as err:
            if "several" in str(err):
                raise
    example = dataset.sheet_example
    raise InputError(f"no {dataset.name} sheet found in {root}; pass it with --sheet FILE (e.g. {example})")


# ---------------------------------------------------------------------------------------------------- frames


def layout_folder(root: Path, dataset: LongVideoDataset, videos: Sequence[str]) -> Path:
    """The folder holding the video folders: the root itself, or a folder named ``dataset.layout`` up to three
    levels under it (CAS(ME)^3 ships ``part_A/data/part_A``), whichever holds the most of ``videos``."""
    if not root.is_dir():
        raise InputError(f"the dataset folder {root} does not exist; give the folder holding the frames with --root")
    patterns = ["/".join(["*"] * depth + [dataset.layout]) for depth in range(4)]
    candidates = [root] + [p for pattern in patterns for p in sorted(root.glob(pattern)) if p.is_dir()]
    probe = list(videos)
    counts = [(sum(dataset.video_folder(c, v) is not None for v in probe), -i, c) for i, c in enumerate(candidates)]
    return max(counts)[2]


def load(dataset: LongVideoDataset, root: str | Path, sheet: str | Path | None = None) -> LongVideos:
    """The database under ``root`` (a user's copy of the frames) with its sheet (default: found by its usual name).

    Videos of the sheet whose folder is missing or holds no frame images are listed in ``skipped``. Raises
    InputError when the sheet cannot be read or has malformed rows; that no video is present is for the caller
    to judge (scoring a CSV needs the lengths, so `mer spot-eval` refuses then).
    """
    root = Path(root).expanduser()
    sheet_path = Path(sheet).expanduser() if sheet else find_long_sheet(root, dataset)
    intervals = dataset.read_intervals(sheet_path)
    if intervals.empty:
        raise InputError(f"the sheet {sheet_path} has no intervals")
    check_rows(intervals, sheet_path)
    videos = list(dict.fromkeys(intervals["video"]))
    base = layout_folder(root, dataset, videos)
    frames: dict[str, VideoFrames] = {}
    skipped: list[dict[str, str]] = []
    renamed: dict[str, str] = {}
    for video in videos:
        folder = dataset.video_folder(base, video)
        found = scan_frame_folder(folder) if folder is not None else None
        if found is None:
            where = folder if folder is not None else base / video
            problem = "no frame images in folder" if folder is not None else "missing folder"
            skipped.append({"video": video, "problem": f"{problem}: {where}"})
            continue
        # CAS(ME)^2's xlsx names a video by its code ("s15/15_0401"); the folder on disk gives its full name
        full = folder.relative_to(base).as_posix().removesuffix("/color")
        renamed[video] = full
        frames[full] = VideoFrames(folder, found.pattern, tuple(sorted(found.numbers)))
    intervals = intervals.assign(video=intervals["video"].map(lambda v: renamed.get(v, v)))
    return LongVideos(dataset, intervals, frames, skipped, sheet_path, base)


def video_code(video: str) -> str:
    """CAS(ME)^2's "s15/15_0401girlcrashing" -> "s15/15_0401" (the part the sheet's codes give); else the id."""
    match = re.match(r"^(s\d+/\d+_\d{4})", video)
    return match.group(1) if match else video
