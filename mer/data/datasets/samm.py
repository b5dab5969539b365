"""SAMM (Davison et al. 2018): the v2 FACS-code sheet -> canonical table.

Sheet: ``SAMM_Micro_FACS_Codes_v2.xlsx``, a title block, then the header (Subject, Filename, Inducement Code,
Onset Frame, Apex Frame, Offset Frame, Duration, Micro, Action Units, Estimated Emotion, Objective Classes,
Notes) on sheet row 14 (pandas' row 13); 159 micro-expressions of 29 subjects. The header row is found by its
"Subject" cell, so a .csv export works too.

Frames: ``ROOT/SAMM/006/006_1_2/006_05562.jpg`` (ROOT may also be the SAMM folder itself): subject folder
"006", sample folder as the Filename, file names "<subject>_<frame number, 5 digits>.jpg" (the pattern is read
from the folder, so other extensions or paddings work).

Emotions: the sheet's "Other" becomes "others" (the word the label maps use). With the MEGC 3-class label set,
"others" has no class and those 26 samples are left out and reported (133 remain: the composite's SAMM part).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.data.datasets.common import (
    SheetRow,
    build_table,
    choose_base,
    read_table_sheet,
    require_some,
    sheet_rows,
)

NAME = "samm"
DEFAULT_LABEL_SET = "megc_3"
SHEET_PATTERNS = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM_Micro_FACS_Codes*.csv", "SAMM*.xlsx")
SHEET_COLUMNS = {
    "subject": ("subject",),
    "sample": ("filename",),
    "onset": ("onsetframe", "onset"),
    "apex": ("apexframe", "apex"),
    "offset": ("offsetframe", "offset"),
    "aus": ("actionunits", "aus"),
    "emotion": ("estimatedemotion", "emotion"),
}
LAYOUT_HINT = "SAMM frames belong in ROOT/SAMM/006/006_1_2/006_05562.jpg (subject/sample/subject_frame.jpg)"
EMOTION_WORDS = {"other": "others"}

# Known annotation errors of the v2 sheet, fixed here: sample -> (column, value in the sheet, corrected value,
# why). A fix applies only while the sheet still holds the wrong value, so a corrected sheet is left alone.
KNOWN_ERRORS: dict[str, tuple[str, str, str, str]] = {
    # sheet row 140: apex 1143 lies after the offset 1134; MEB (tvaranka/meb) re-estimated it from the flow.
    "028_4_1": (
        "apex",
        "1143",
        "1105",
        "apex 1143 after offset 1134 in the sheet; MEB's optical-flow estimate",
    ),
    # sheet row 147: apex 1930 lies before the onset 4896 (a typo); MEB's optical-flow estimate is 4945.
    "032_3_1": (
        "apex",
        "1930",
        "4945",
        "apex 1930 before onset 4896 in the sheet; MEB's optical-flow estimate",
    ),
}


def subject_folder(cell: str) -> str:
    """The sheet's subject cell ("006", "6") -> folder name "006"."""
    text = cell.strip()
    return f"{int(text):03d}" if text.isdigit() else text


def read_rows(sheet: Path, source: str = NAME) -> list[SheetRow]:
    """The sheet's data rows, known errors fixed (each fix noted on its row)."""
    rows = []
    for number, cells in read_table_sheet(sheet, SHEET_COLUMNS):
        emotion = cells["emotion"].strip().lower()
        row = SheetRow(
            sheet_row=number,
            subject=subject_folder(cells["subject"]),
            sample=cells["sample"].strip(),
            onset=cells["onset"],
            apex=cells["apex"],
            offset=cells["offset"],
            emotion=EMOTION_WORDS.get(emotion, emotion),
            aus=cells["aus"],
            source=source,
        )
        fix = KNOWN_ERRORS.get(row.sample)
        if fix and getattr(row, fix[0]) == fix[1]:
            setattr(row, fix[0], fix[2])
            row.note = f"{fix[0]} {fix[1]} -> {fix[2]}: {fix[3]}"
        rows.append(row)
    return rows


def sample_dir(base: Path, row: SheetRow) -> Path:
    return base / row.subject / row.sample


def find_base(root: Path, rows: list[SheetRow], sheet: Path) -> Path:
    """The folder holding the subject folders (ROOT/SAMM or ROOT itself)."""
    base, found = choose_base(root, rows, sample_dir, preferred=("SAMM",))
    require_some(found, rows, root, sheet, LAYOUT_HINT)
    return base


def load(
    root: str | Path,
    sheet: str | Path | None = None,
    label_set: str | None = DEFAULT_LABEL_SET,
    skip_missing: bool = False,
) -> pd.DataFrame:
    """SAMM as the canonical table. sheet: default the ``SAMM_Micro_FACS_Codes*.xlsx`` in root or its parent.

    label_set: "megc_3" (default), "casme2_5" (anger and contempt have no class there: left out and reported),
    or None / "emotion" for the sheet's own emotion words (all 159 samples).
    """
    root = Path(root).expanduser()
    sheet_path, rows = sheet_rows(
        root, sheet, read_rows, SHEET_PATTERNS, "SAMM FACS codes", "SAMM_Micro_FACS_Codes_v2.xlsx"
    )
    base = find_base(root, rows, sheet_path)
    return build_table(
        NAME,
        rows,
        base,
        sample_dir,
        label_set=label_set,
        skip_missing=skip_missing,
        sheet=sheet_path,
        layout_hint=LAYOUT_HINT,
    )
