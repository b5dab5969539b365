"""CAS(ME)^3 part A (Li et al. 2022), 30 fps: the part A sheet -> the interval table of `long_video`.

Sheets: ``CAS(ME)3_part_A_v2.xls`` (preferred: 4,206 intervals, 3,346 macro + 860 micro, 956 videos of 98
subjects) or ``CAS(ME)3_part_A_v1.xls`` (the same rows, 921 micro); worksheet ``AU+Emotion``: Subject
(``spNO.1``), Filename (``a`` ... ``m``), Onset, Apex, Offset, AU, Expression type (``Macro-expression`` /
``Micro-expression``), Objective class. An .xls needs the package xlrd; an .xlsx or .csv export works too.

Frames: ``ROOT/part_A/data/part_A/spNO.1/a/color/123.jpg`` (the database's own layout; ROOT may be any folder
above ``part_A``, or the inner ``part_A`` itself), file names the frame numbers the sheet uses (some videos start
above 0 and some drop frames: the numbers present are kept as they are). A video's id is ``spNO.1/a``.

Quirks: Filenames written in capitals are the lower-case folders (as the database's users read them); an apex
outside onset..offset is kept as -1 (not annotated) with a note. Frames count from 0 here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.data.datasets.common import normalise_header
from mer.data.datasets.long_video import APEX_UNKNOWN, LongVideoDataset, frame_number, interval_table, read_book
from mer.errors import InputError

NAME = "casme3"
FPS = 30.0
LAYOUT = "part_A"
MAIN_SHEET = "AU+Emotion"
COLUMNS = {"subject": "subject", "sample": "filename", "onset": "onset", "apex": "apex", "offset": "offset",
           "aus": "au", "type": "expressiontype"}  # fmt: skip


def read_intervals(path: Path) -> pd.DataFrame:
    """The sheet's intervals (long_video.INTERVAL_COLUMNS); quirks handled as the module docstring says."""
    path = Path(path)
    book = read_book(path)
    grid = book.get(MAIN_SHEET) or next(iter(book.values()))
    at = next((i for i, r in enumerate(grid) if r and normalise_header(r[0]) == "subject"), None)
    if at is None:
        raise InputError(f"no header row starting with 'Subject' in {path}; is this the CAS(ME)^3 part A sheet?")
    names = [normalise_header(c) for c in grid[at]]
    missing = [c for c in COLUMNS.values() if c not in names]
    if missing:
        raise InputError(f"{path} (header on row {at + 1}) lacks the column(s) {', '.join(missing)}")
    col = {key: names.index(name) for key, name in COLUMNS.items()}
    records = []
    for i in range(at + 1, len(grid)):
        cells = grid[i] + [""] * (len(names) - len(grid[i]))
        if not any(cells):
            continue
        subject, sample = cells[col["subject"]].strip(), cells[col["sample"]].strip()
        sample = sample.lower() if sample.isupper() else sample
        (onset, _), (apex, _), (offset, _) = (frame_number(cells[col[k]]) for k in ("onset", "apex", "offset"))
        if None in (onset, offset):
            raise InputError(f"{path} row {i + 1} ({subject}/{sample}): onset and offset must be numbers")
        note = ""
        if apex is None or not onset <= apex <= offset:
            note = f"apex '{cells[col['apex']]}' in the sheet is not within onset..offset: not annotated"
            apex = APEX_UNKNOWN
        kind = cells[col["type"]].strip().lower().split("-")[0]
        records.append({
            "dataset": NAME, "video": f"{subject}/{sample}", "subject": subject, "onset": onset, "apex": apex,
            "offset": offset, "kind": kind, "aus": cells[col["aus"]], "sheet_row": i + 1, "note": note,
        })  # fmt: skip
    return interval_table(records)


def video_folder(base: Path, video: str) -> Path | None:
    """``spNO.1/a/color`` (the database's layout), or ``spNO.1/a`` when it holds the frames itself."""
    for folder in (base / video / "color", base / video):
        if folder.is_dir():
            return folder
    return None


DATASET = LongVideoDataset(
    name=NAME,
    fps=FPS,
    sheet_patterns=("CAS(ME)3_part_A_v2.*", "CAS(ME)3_part_A*.xls", "CAS(ME)3_part_A*.xlsx", "CAS(ME)3_part_A*.csv"),
    sheet_example="CAS(ME)3_part_A_v2.xls",
    layout=LAYOUT,
    layout_hint="CAS(ME)^3 part A frames belong in ROOT/part_A/data/part_A/spNO.1/a/color/0.jpg",
    read_intervals=read_intervals,
    video_folder=video_folder,
)
