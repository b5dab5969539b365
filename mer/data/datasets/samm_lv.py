"""SAMM Long Videos (Yap et al. 2020), 200 fps: the FACS-code sheet -> the interval table of `long_video`.

Sheet: ``SAMM_LongVideos_V2_Release.xlsx``, one worksheet (``FACS_Movement_Only``): a title block (rows 1-9, with
the note "Apex not annotated = -1"), the header on row 10 (Subject, Filename, Inducement Code, Onset, Apex,
Offset, Duration, Type, Action Units, Notes), then 502 intervals (343 ``Macro``, 159 ``Micro - 1/2``) over 147
videos of 30 subjects. The header row is found by its "Subject" cell, so a .csv export works too. Filename is
``<subject>_<inducement>_<n>``: the video is ``006_1``.

Frames: ``ROOT/SAMM_longvideos/006_1/006_1_00001.jpg`` (ROOT may be the SAMM_longvideos folder itself), numbered
from 1 as the sheet counts them; the file name pattern is read from the folder.

Quirks, each kept and said in the row's ``note``: apex -1 (6 rows: not annotated); frame numbers with a decimal
(Macro rows such as 006_1_1, 566.4 / 647.6 / 743.2: rounded to the nearest frame, as the MEGC CSV export does);
onset 0 (10 Macro rows: the movement was under way when the recording began; the interval starts at frame 1).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.data.datasets.common import normalise_header
from mer.data.datasets.long_video import APEX_UNKNOWN, LongVideoDataset, frame_number, interval_table, read_book
from mer.errors import InputError

NAME = "samm-lv"
FPS = 200.0
LAYOUT = "SAMM_longvideos"
FIRST_FRAME = 1


def _header(grid: list[list[str]], path: Path) -> tuple[int, dict[str, int]]:
    for i, row in enumerate(grid):
        names = [normalise_header(c) for c in row]
        if names[:1] == ["subject"] and "filename" in names:
            wanted = {"subject": "subject", "sample": "filename", "onset": "onset", "apex": "apex",
                      "offset": "offset", "type": "type", "aus": "actionunits"}  # fmt: skip
            missing = [w for w in wanted.values() if w not in names]
            if missing:
                raise InputError(f"{path} (header on row {i + 1}) lacks the column(s) {', '.join(missing)}")
            return i, {key: names.index(name) for key, name in wanted.items()}
    raise InputError(f"no header row starting with 'Subject' in {path}; is this the SAMM Long Videos sheet?")


def read_intervals(path: Path) -> pd.DataFrame:
    """The sheet's intervals (long_video.INTERVAL_COLUMNS); quirks fixed as the module docstring says."""
    grid = next(iter(read_book(Path(path)).values()))
    at, col = _header(grid, Path(path))
    records = []
    for i in range(at + 1, len(grid)):
        cells = grid[i] + [""] * (max(col.values()) + 1 - len(grid[i]))
        if not any(cells):
            continue
        sample = cells[col["sample"]].strip()
        kind = cells[col["type"]].strip().lower()
        kind = "micro" if kind.startswith("micro") else "macro" if kind.startswith("macro") else kind
        (onset, f_on), (apex, f_apex), (offset, f_off) = (frame_number(cells[col[k]]) for k in ("onset", "apex",
                                                                                               "offset"))  # fmt: skip
        if None in (onset, apex, offset):
            raise InputError(f"{path} row {i + 1} ({sample}): onset, apex and offset must be numbers")
        notes = []
        if f_on or f_apex or f_off:
            given = "/".join(f"{float(cells[col[k]]):.6g}" for k in ("onset", "apex", "offset"))
            notes.append(f"fractional frames in the sheet ({given}) rounded to the nearest frame")
        if apex == APEX_UNKNOWN:
            notes.append("apex not annotated (-1 in the sheet)")
        if onset < FIRST_FRAME:
            notes.append(f"onset {onset} in the sheet: under way when the recording began; starts at frame 1")
            onset = FIRST_FRAME
        records.append({
            "dataset": NAME, "video": "_".join(sample.split("_")[:2]), "subject": sample.split("_")[0],
            "onset": onset, "apex": apex, "offset": offset, "kind": kind, "aus": cells[col["aus"]],
            "sheet_row": i + 1, "note": "; ".join(notes),
        })  # fmt: skip
    return interval_table(records)


def video_folder(base: Path, video: str) -> Path | None:
    folder = base / video
    return folder if folder.is_dir() else None


DATASET = LongVideoDataset(
    name=NAME,
    fps=FPS,
    sheet_patterns=("SAMM_LongVideos*.xlsx", "SAMM_LongVideos*.csv", "SAMMLV*.xlsx"),
    sheet_example="SAMM_LongVideos_V2_Release.xlsx",
    layout=LAYOUT,
    layout_hint="SAMM Long Videos frames belong in ROOT/SAMM_longvideos/006_1/006_1_00001.jpg",
    read_intervals=read_intervals,
    video_folder=video_folder,
)
