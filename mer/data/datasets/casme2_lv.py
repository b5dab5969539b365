"""CAS(ME)^2 long videos (Qu et al. 2018), 30 fps: the code_final sheet -> the interval table of `long_video`.

Sheets (the same intervals under three names): ``CAS(ME)^2code_final.xlsx`` / SoftNet's ``code_final.xlsx`` /
MEGC 2021's ``CASME_sq_gt.xlsx``, worksheets ``CASFEcode_final`` (no header: participant 1-22, expression name
``anger1_1``, onset, apex, offset, AUs, estimated emotion, ``macro-expression`` / ``micro-expression``, self-report),
``naming rule1`` (a row per expression: subject number, folder ``s15``, participant) and ``naming rule2`` (video
code ``0401`` -> name prefix ``anger1``); or MEGC 2024's ``CAS(ME)^2code_final(Updated).csv``, the same nine
columns plus offset-onset and the frame folder (``s15/15_0401girlcrashing``). 357 intervals: 300 macro, 57 micro,
95 videos of 22 subjects.

Frames: ``ROOT/rawpic/s15/15_0401girlcrashing/img1.jpg`` (ROOT may be the rawpic folder itself), numbered from 1
as the sheet counts them. A video's id is its folder under rawpic, ``s15/15_0401girlcrashing``; the xlsx names a
video only by its code, so its folder is found on disk as ``s15/15_0401*`` (a spotted CSV may give either).

Quirks, each kept and said in the row's ``note``: offset 0 (44 macro rows: no offset annotated): the apex is
taken as the offset, as SoftNet's and the MEGC baselines' loaders do; apex 0 (one row): not annotated (-1);
an apex after the offset (three rows) is kept as the sheet gives it (scoring reads onset and offset only).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.data.datasets.long_video import (
    APEX_UNKNOWN,
    LongVideoDataset,
    frame_number,
    interval_table,
    read_book,
    video_code,
)
from mer.errors import InputError

NAME = "casme2-lv"
FPS = 30.0
LAYOUT = "rawpic"
MAIN_SHEET = "CASFEcode_final"


def _naming(book: dict[str, list[list[str]]], path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(participant -> subject folder "s15", name prefix "anger1" -> video code "0401") from the naming sheets."""
    rule1, rule2 = book.get("naming rule1"), book.get("naming rule2")
    if rule1 is None or rule2 is None:
        raise InputError(
            f"{path} lacks the worksheets 'naming rule1' and 'naming rule2' that name each video's folder; use the "
            "whole CAS(ME)^2code_final workbook, or the CSV whose last column gives the folder (s15/15_0401...)"
        )
    subjects = {r[2]: r[1] for r in rule1 if len(r) > 2 and r[1]}
    codes = {r[1]: f"{int(float(r[0])):04d}" for r in rule2 if len(r) > 1 and r[0]}
    return subjects, codes


def read_intervals(path: Path) -> pd.DataFrame:
    """The sheet's intervals (long_video.INTERVAL_COLUMNS); quirks fixed as the module docstring says."""
    path = Path(path)
    book = read_book(path)
    grid = book.get(MAIN_SHEET) or next(iter(book.values()))
    naming = _naming(book, path) if path.suffix.lower() != ".csv" else None
    records = []
    for i, cells in enumerate(grid):
        if not any(cells) or not cells[0].strip().isdigit():  # blank rows, a header a user may have added
            continue
        if len(cells) < 8:
            raise InputError(f"{path} row {i + 1}: expected at least 8 columns (participant ... expression type)")
        participant, name = cells[0].strip(), cells[1].strip()
        (onset, _), (apex, _), (offset, _) = (frame_number(c) for c in cells[2:5])
        if None in (onset, apex, offset):
            raise InputError(f"{path} row {i + 1} ({name}): onset, apex and offset must be numbers")
        notes = []
        if apex == 0:
            notes.append("apex 0 in the sheet: not annotated")
            apex = APEX_UNKNOWN
        if offset == 0:
            notes.append("offset 0 in the sheet (none annotated): the apex is taken as the offset")
            offset = apex
        elif apex > offset:
            notes.append(f"apex {apex} after the offset {offset} in the sheet; kept")
        video = _video(cells, naming, participant, name, path, i)
        records.append({
            "dataset": NAME, "video": video, "subject": video.split("/")[0], "onset": onset, "apex": apex,
            "offset": offset, "kind": cells[7].strip().lower().split("-")[0], "aus": _aus(cells[5]),
            "sheet_row": i + 1, "note": "; ".join(notes),
        })  # fmt: skip
    return interval_table(records)


def _aus(cell: str) -> str:
    return "" if cell.strip().lower() == "null" else cell.strip()


def _video(cells: list[str], naming, participant: str, name: str, path: Path, row: int) -> str:
    """The video's id: the CSV's folder column, else "s15/15_0401" from the naming sheets."""
    if naming is None:
        folder = cells[10].strip() if len(cells) > 10 else ""
        if "/" not in folder:
            raise InputError(f"{path} row {row + 1}: the 11th column should give the frame folder (s15/15_0401...)")
        return folder
    subjects, codes = naming
    subject, prefix = subjects.get(participant), name.split("_")[0]
    if subject is None or prefix not in codes:
        raise InputError(f"{path} row {row + 1}: participant {participant} or video '{prefix}' is not in the naming "
                         "sheets")  # fmt: skip
    return f"{subject}/{subject.removeprefix('s')}_{codes[prefix]}"


def video_folder(base: Path, video: str) -> Path | None:
    """The folder of ``s15/15_0401girlcrashing``, or of the code ``s15/15_0401`` (its one match on disk)."""
    exact = base / video
    if exact.is_dir():
        return exact
    subject, _, code = video_code(video).partition("/")
    found = sorted(p for p in (base / subject).glob(f"{code}*") if p.is_dir()) if (base / subject).is_dir() else []
    return found[0] if len(found) == 1 else None


DATASET = LongVideoDataset(
    name=NAME,
    fps=FPS,
    sheet_patterns=("CAS(ME)^2code_final*.xlsx", "code_final.xlsx", "CASME_sq_gt.xlsx", "CAS(ME)^2code_final*.csv"),
    sheet_example="CAS(ME)^2code_final.xlsx",
    layout=LAYOUT,
    layout_hint="CAS(ME)^2 frames belong in ROOT/rawpic/s15/15_0101disgustingteeth/img1.jpg",
    read_intervals=read_intervals,
    video_folder=video_folder,
    video_key=video_code,
)
