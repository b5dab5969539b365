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
(`mer.spotting.motion`) and records the spotted frame in the cache's index. The loader warns about it and the
row's ``note`` says so. So the sheet gives 255 samples.
"""

from __future__ import annotations

from mer.data.datasets.sheet import SheetDataset

NAME = "casme2"
DEFAULT_LABEL_SET = "casme2_5"
LAYOUTS = ("CASME2_RAW_selected", "Cropped")


def subject_folder(cell: str) -> str:
    """The sheet's subject cell ("01", "1", "sub01") -> folder name "sub01"."""
    text = cell.strip().lower().removeprefix("sub")
    return f"sub{int(text):02d}" if text.isdigit() else cell.strip()


DATASET = SheetDataset(
    name=NAME,
    default_label_set=DEFAULT_LABEL_SET,
    sheet_patterns=("CASME2-coding*.xlsx", "CASME2-coding*.csv", "CASME2*coding*.xlsx", "CASME2*coding*.csv"),
    sheet_columns={  # our field -> normalised header names of the sheet revisions
        "subject": ("subject",),
        "sample": ("filename", "sample"),
        "onset": ("onsetframe", "onset"),
        "apex": ("apexframe", "apex", "apexframe1"),
        "offset": ("offsetframe", "offset"),
        "aus": ("actionunits", "aus", "au"),
        "emotion": ("estimatedemotion", "emotion"),
    },
    sheet_kind="CASME II coding",
    sheet_example="CASME2-coding-20140508.xlsx",
    layouts=LAYOUTS,
    layout_hint="CASME II frames belong in ROOT/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg "
    "or ROOT/Cropped/sub01/EP02_01f/reg_img46.jpg",
    subject_folder=subject_folder,
)
read_rows = DATASET.read_rows
load = DATASET.load
