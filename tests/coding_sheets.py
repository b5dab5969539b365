"""Coding sheets in the exact layout of the real CASME II, SAMM and MEGC 2019 files, with made-up rows.

The real sheets are licensed labels: they are never shipped or copied into the repository. Tests write these
stand-ins at test time (same sheets, header rows, columns and cell types as the real files; the rows are invented)
and read the real files, where a user has them, from ../shared/annotations or $MER_ANNOTATIONS (`real_sheet`).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import openpyxl

# Beside the repository, as tests/test_long_datasets.py reads it; $MER_ANNOTATIONS points elsewhere.
ANNOTATIONS = Path(os.environ.get("MER_ANNOTATIONS", Path(__file__).resolve().parents[1].parent / "shared/annotations"))

# CASME2-coding-20140508.xlsx, sheet "Sheet1" (then two empty sheets): header on row 1, two unnamed blank columns.
CASME2_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion")  # fmt: skip
# Made-up rows: subject as text, frames as numbers, one apex written "/", AUs a number or text.
CASME2_ROWS = (
    ("01", "EP01_01f", 11, 25, 40, 12, "happiness"),
    ("01", "EP03_02", 131, 139, 161, 18, "others"),
    ("01", "EP05_03f", 21, 44, 70, "4+L10", "disgust"),
    ("02", "EP02_04f", 31, 79, 141, "12+15", "repression"),
    ("02", "EP07_01", 5, 30, 62, "1+2", "surprise"),
    ("04", "EP12_01f", 51, "/", 97, "4+7", "disgust"),  # sheet row 7: no apex, as sub04 EP12_01f in the real one
    ("04", "EP13_02", 61, 70, 93, 17, "fear"),
    ("05", "EP03_01", 16, 40, 81, 14, "sadness"),
    ("05", "EP09_05", 101, 120, 150, 4, "others"),
)
# CASME2-coding-20190701.xlsx adds "Objective Classes"; here, as there, it re-codes a sadness row to surprise.
CASME2_2019_RECODED = {"EP03_01": "surprise"}

# SAMM_Micro_FACS_Codes_v2.xlsx, sheet "MICRO_ONLY": a title block on rows 1-12 (text in these cells), row 13
# empty, the header on row 14, Duration an Excel formula.
SAMM_TITLE = {1: ("A", "E"), 3: ("A", "I"), 4: ("E",), 6: ("A",), 7: ("A",), 8: ("A",), 10: ("A",), 11: ("A",),
              12: ("A",)}  # fmt: skip
SAMM_HEADER = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes")  # fmt: skip
SAMM_ROWS = (
    ("006", "006_1_1", 1, 1201, 1230, 1262, "4+7", "Anger", None),
    ("006", "006_5_3", 5, 820, 841, 870, 12, "Happiness", "While blinking"),
    ("011", "011_2_4", 2, 300, 330, 352, "R14", "Other", None),
    # the two known errors of the real sheet (mer.data.datasets.samm.KNOWN_ERRORS), with their wrong values
    ("028", "028_4_1", 4, 1071, 1143, 1134, "A14C", "Contempt", "Blinks"),
    ("032", "032_3_1", 3, 4896, 1930, 4970, "4A", "Surprise", None),
    ("037", "037_4_1", 4, 1488, 1529, 1577, 24, "Other", None),
)

# combined_3class_gt.csv: no header; source, subject, sample, class (0 negative, 1 positive, 2 surprise), in the
# real file's order (CASME II, SMIC, SAMM) and spelling (CASME II "sub01", SMIC "s01", SAMM "6").
MEGC_ROWS = (
    ("casme2", "sub01", "EP01_01f", 1),
    ("casme2", "sub01", "EP05_03f", 0),
    ("casme2", "sub02", "EP07_01", 2),
    ("casme2", "sub05", "EP03_01", 0),
    ("smic", "s01", "s01_ne_01", 0),
    ("smic", "s01", "s01_po_02", 1),
    ("smic", "s12", "s12_sur_01", 2),
    ("samm", "6", "006_1_1", 0),
    ("samm", "6", "006_5_3", 1),
    ("samm", "32", "032_3_1", 2),
)


def real_sheet(name: str) -> Path | None:
    """The real sheet `name` where a user's copy is (../shared/annotations or $MER_ANNOTATIONS), else None."""
    path = ANNOTATIONS / name
    return path if path.is_file() else None


def write_casme2_sheet(path: Path, revision: str = "20140508", rows=CASME2_ROWS) -> Path:
    """A CASME II coding sheet like CASME2-coding-<revision>.xlsx (20140508, or 20190701 with Objective Classes)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    header = list(CASME2_HEADER) + (["Objective Classes"] if revision == "20190701" else [])
    sheet.append(header)
    for subject, sample, onset, apex, offset, aus, emotion in rows:
        if revision == "20190701":
            emotion = CASME2_2019_RECODED.get(sample, emotion)
        cells = [subject, sample, None, onset, apex, offset, None, aus, emotion]
        sheet.append(cells + ([1] if revision == "20190701" else []))
    for cell in sheet["A"]:
        cell.number_format = "@"  # the subject column is text ("01")
    book.create_sheet("Sheet2")
    book.create_sheet("Sheet3")
    book.save(path)
    return path


def write_casme2_csv(path: Path, rows=CASME2_ROWS) -> Path:
    """A CASME II sheet as Excel's .csv export writes it (20190701 columns, the rows' own emotions): the subject as
    a number ("5"), blank header cells."""
    header = [name or "" for name in CASME2_HEADER] + ["Objective Classes"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for subject, sample, onset, apex, offset, aus, emotion in rows:
            writer.writerow([int(subject), sample, "", onset, apex, offset, "", aus, emotion, 1])
    return path


def write_samm_sheet(path: Path, rows=SAMM_ROWS) -> Path:
    """A SAMM sheet like SAMM_Micro_FACS_Codes_v2.xlsx: title block, header on row 14, a Duration formula."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "MICRO_ONLY"
    for row, columns in SAMM_TITLE.items():
        for column in columns:
            sheet[f"{column}{row}"] = f"title block text {row}{column}"
    for column, name in zip("ABCDEFGHIJKL", SAMM_HEADER, strict=True):
        sheet[f"{column}14"] = name
    for n, (subject, sample, code, onset, apex, offset, aus, emotion, notes) in enumerate(rows, start=15):
        values = (subject, sample, code, onset, apex, offset, f"=SUM(F{n}-D{n})+1", "Micro - 1/2", aus, emotion, 3,
                  notes)  # fmt: skip
        for column, value in zip("ABCDEFGHIJKL", values, strict=True):
            sheet[f"{column}{n}"] = value
    book.save(path)
    return path


def write_megc_list(path: Path, rows=MEGC_ROWS) -> Path:
    """A composite list like combined_3class_gt.csv (no header line)."""
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path
