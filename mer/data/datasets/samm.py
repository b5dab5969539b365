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

from mer.data.datasets.sheet import SheetDataset

NAME = "samm"
DEFAULT_LABEL_SET = "megc_3"

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


DATASET = SheetDataset(
    name=NAME,
    default_label_set=DEFAULT_LABEL_SET,
    sheet_patterns=("SAMM_Micro_FACS_Codes*.xlsx", "SAMM_Micro_FACS_Codes*.csv", "SAMM*.xlsx"),
    sheet_columns={
        "subject": ("subject",),
        "sample": ("filename",),
        "onset": ("onsetframe", "onset"),
        "apex": ("apexframe", "apex"),
        "offset": ("offsetframe", "offset"),
        "aus": ("actionunits", "aus"),
        "emotion": ("estimatedemotion", "emotion"),
    },
    sheet_kind="SAMM FACS codes",
    sheet_example="SAMM_Micro_FACS_Codes_v2.xlsx",
    layouts=("SAMM",),
    layout_hint="SAMM frames belong in ROOT/SAMM/006/006_1_2/006_05562.jpg (subject/sample/subject_frame.jpg)",
    subject_folder=subject_folder,
    emotion_words={"other": "others"},  # the word the label maps use
    known_errors=KNOWN_ERRORS,
)
read_rows = DATASET.read_rows
load = DATASET.load
