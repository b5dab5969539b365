"""CASME II (Yan et al. 2014): coding sheet -> canonical table.

Sheets: ``CASME2-coding-20140508.xlsx`` (columns Subject, Filename, a blank, OnsetFrame, ApexFrame,
OffsetFrame, a blank, Action Units, Estimated Emotion) and ``CASME2-coding-20190701.xlsx`` (the same plus
Objective Classes), as .xlsx or .csv. Both have 255 rows and 26 subjects and agree on every frame number; the
2019 revision re-codes the action units of 57 rows and the emotion of three (sub24 EP07_01, EP07_04f, EP10_03:
sadness -> surprise), so its 5-class counts differ (others 105, surprise 28) from the paper's (others 108,
surprise 25; 20140508).

Frames, either layout (detected; when both are present the raw one is used):
``ROOT/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` or ``ROOT/Cropped/sub01/EP02_01f/reg_img46.jpg``
(ROOT may also be the layout folder itself). The sheet's subject "01" is folder "sub01".

Rule for the one apex written "/" (sub04 EP12_01f, sheet row 31 in both revisions): the sample is kept with
apex = -1, meaning "not annotated": `mer preprocess` spots the apex from the motion between onset and offset
(`mer.data.motion`) and records the spotted frame in the cache's index. The loader warns about it and the
row's ``note`` says so. So the sheet gives 255 samples.
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

NAME = "casme2"
DEFAULT_LABEL_SET = "casme2_5"
LAYOUTS = ("CASME2_RAW_selected", "Cropped")
SHEET_PATTERNS = ("CASME2-coding*.xlsx", "CASME2-coding*.csv", "CASME2*coding*.xlsx", "CASME2*coding*.csv")
# our field -> normalised header names of the sheet revisions
SHEET_COLUMNS = {
    "subject": ("subject",),
    "sample": ("filename", "sample"),
    "onset": ("onsetframe", "onset"),
    "apex": ("apexframe", "apex", "apexframe1"),
    "offset": ("offsetframe", "offset"),
    "aus": ("actionunits", "aus", "au"),
    "emotion": ("estimatedemotion", "emotion"),
}
LAYOUT_HINT = (
    "CASME II frames belong in ROOT/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg "
    "or ROOT/Cropped/sub01/EP02_01f/reg_img46.jpg"
)


def subject_folder(cell: str) -> str:
    """The sheet's subject cell ("01", "1", "sub01") -> folder name "sub01"."""
    text = cell.strip().lower().removeprefix("sub")
    return f"sub{int(text):02d}" if text.isdigit() else cell.strip()


def read_rows(sheet: Path, source: str = NAME) -> list[SheetRow]:
    """The sheet's data rows with the subject as its folder name."""
    return [
        SheetRow(
            sheet_row=number,
            subject=subject_folder(cells["subject"]),
            sample=cells["sample"],
            onset=cells["onset"],
            apex=cells["apex"],
            offset=cells["offset"],
            emotion=cells["emotion"],
            aus=cells["aus"],
            source=source,
        )
        for number, cells in read_table_sheet(sheet, SHEET_COLUMNS)
    ]


def sample_dir(base: Path, row: SheetRow) -> Path:
    return base / row.subject / row.sample


def find_base(root: Path, rows: list[SheetRow], sheet: Path) -> Path:
    """The layout folder (CASME2_RAW_selected, Cropped, or ROOT itself) holding the sample folders."""
    base, found = choose_base(root, rows, sample_dir, preferred=LAYOUTS)
    require_some(found, rows, root, sheet, LAYOUT_HINT)
    return base


def load(
    root: str | Path,
    sheet: str | Path | None = None,
    label_set: str | None = DEFAULT_LABEL_SET,
    skip_missing: bool = False,
) -> pd.DataFrame:
    """CASME II as the canonical table (see `mer.data.datasets.common.COLUMNS`).

    root: the dataset folder (see the module docstring for layouts); sheet: the coding sheet (default: the one
    ``CASME2-coding*.xlsx|csv`` in root or its parent). Raises InputError listing every problem unless
    skip_missing.
    """
    root = Path(root).expanduser()
    sheet_path, rows = sheet_rows(
        root, sheet, read_rows, SHEET_PATTERNS, "CASME II coding", "CASME2-coding-20140508.xlsx"
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
