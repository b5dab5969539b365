"""Dataset loaders on coding sheets in the real layouts and frame trees of empty files (the loaders never decode
images), all written into tmp_path.

Every test runs twice: on sheets this test writes in the exact layout of the real CASME II, SAMM and MEGC 2019 files
with made-up rows (tests/coding_sheets.py; always), and on the real label-only sheets read where a user's copy is,
../shared/annotations or $MER_ANNOTATIONS (skipped when absent: they are licensed, never shipped or copied here),
where the counts must be the published ones.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from coding_sheets import (
    ANNOTATIONS,
    real_sheet,
    write_casme2_csv,
    write_casme2_sheet,
    write_megc_list,
    write_samm_sheet,
)

from mer.data.datasets import COLUMNS, DatasetWarning, casme2, frame_path, load_dataset, samm
from mer.errors import InputError

CASME2_2014, CASME2_2019 = "CASME2-coding-20140508.xlsx", "CASME2-coding-20190701.xlsx"
SAMM_SHEET, MEGC_LIST = "SAMM_Micro_FACS_Codes_v2.xlsx", "combined_3class_gt.csv"


@dataclass(frozen=True)
class Sheets:
    """One set of coding sheets and what loading them must give."""

    folder: Path  # holds the four files under their real names
    casme2_samples: int
    casme2_subjects: int
    casme2_counts: dict[str, int]  # 5 classes, 20140508 sheet
    casme2_counts_2019: dict[str, int]
    casme2_first: tuple  # subject, sample, onset, apex, offset of sheet row 2
    casme2_no_apex: list  # [subject, sample, sheet row] of the apex written "/"
    casme2_others: int  # samples with emotion "others" (no MEGC class)
    casme2_drop: tuple[str, str, int]  # a sample whose folder a test removes: subject, sample, sheet row
    samm_samples: int
    samm_subjects: int
    samm_first: tuple[str, str, int, int]  # subject, sample, sheet row, onset
    samm_megc: int  # samples left with the MEGC 3 classes ("Other" has none)
    megc_samples: int
    megc_subjects: int
    megc_subjects_by_source: dict[str, int]
    megc_counts: dict[str, int]
    megc_casme2_first: tuple[str, str, int, int]  # subject, sample, onset, apex of the list's first CASME II line
    megc_first_smic_line: int  # csv line of s01_ne_01

    def __getitem__(self, name: str) -> Path:
        return self.folder / name


def made_up_sheets(folder: Path) -> Sheets:
    write_casme2_sheet(folder / CASME2_2014)
    write_casme2_sheet(folder / CASME2_2019, revision="20190701")
    write_samm_sheet(folder / SAMM_SHEET)
    write_megc_list(folder / MEGC_LIST)
    counts = {"others": 4, "disgust": 2, "happiness": 1, "repression": 1, "surprise": 1}
    return Sheets(
        folder, 9, 4, counts, {**counts, "others": 3, "surprise": 2}, ("sub01", "EP01_01f", 11, 25, 40),
        ["sub04", "EP12_01f", 7], 2, ("sub05", "EP03_01", 9),
        6, 5, ("006", "006_1_1", 15, 1201), 4,
        10, 7, {"casme2": 3, "samm": 2, "smic": 2}, {"negative": 4, "positive": 3, "surprise": 3},
        ("sub01", "EP01_01f", 11, 25), 5,
    )  # fmt: skip


def real_sheets() -> Sheets:
    """The published figures of the real sheets (DESIGN.md; the paper's Table 2 for the 5 classes)."""
    counts = {"others": 108, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25}
    return Sheets(
        ANNOTATIONS, 255, 26, counts, {**counts, "others": 105, "surprise": 28}, ("sub01", "EP02_01f", 46, 59, 86),
        ["sub04", "EP12_01f", 31], 99, ("sub05", "EP03_01", 37),
        159, 29, ("006", "006_1_2", 15, 5562), 133,
        442, 68, {"casme2": 24, "samm": 28, "smic": 16}, {"negative": 250, "positive": 109, "surprise": 83},
        ("sub01", "EP02_01f", 46, 59), 146,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["made-up", "real"])
def sheets(request, tmp_path_factory) -> Sheets:
    if request.param == "made-up":
        return made_up_sheets(tmp_path_factory.mktemp("sheets"))
    missing = [name for name in (CASME2_2014, CASME2_2019, SAMM_SHEET, MEGC_LIST) if real_sheet(name) is None]
    if missing:
        pytest.skip(f"the real sheets {missing} are not at {ANNOTATIONS} (../shared/annotations or $MER_ANNOTATIONS)")
    return real_sheets()


def write_casme2_tree(root: Path, sheet: Path, layout: str = "CASME2_RAW_selected") -> Path:
    """Empty onset/apex/offset frames for every row of a CASME II sheet, in one of the two layouts."""
    prefix = "img" if layout == "CASME2_RAW_selected" else "reg_img"
    for row in casme2.read_rows(sheet):
        folder = root / layout / row.subject / row.sample
        folder.mkdir(parents=True, exist_ok=True)
        for cell in (row.onset, row.apex, row.offset):
            if cell.isdigit():
                (folder / f"{prefix}{cell}.jpg").touch()
    return root


def write_samm_tree(root: Path, sheet: Path) -> Path:
    for row in samm.read_rows(sheet):
        folder = root / "SAMM" / row.subject / row.sample
        folder.mkdir(parents=True, exist_ok=True)
        for cell in (row.onset, row.apex, row.offset):
            (folder / f"{row.subject}_{int(cell):05d}.jpg").touch()
    return root


def load_quietly(*args, **kwargs) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        table = load_dataset(*args, **kwargs)
    return table, [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]


@pytest.fixture(scope="module")
def casme2_raw(sheets, tmp_path_factory) -> Path:
    return write_casme2_tree(tmp_path_factory.mktemp("casme2_raw"), sheets[CASME2_2014])


def test_casme2_sheet_gives_the_canonical_table(sheets, casme2_raw):
    table, messages = load_quietly("casme2", casme2_raw, sheet=sheets[CASME2_2014])
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == sheets.casme2_samples
    assert table["subject"].nunique() == sheets.casme2_subjects
    assert table["label"].value_counts().to_dict() == sheets.casme2_counts
    first = table.iloc[0]
    assert (first["subject"], first["sample"], first["onset"], first["apex"], first["offset"]) == sheets.casme2_first
    assert first["frame_pattern"] == "img{}.jpg"
    subject, sample, onset = sheets.casme2_first[:3]
    assert frame_path(first, onset) == casme2_raw.resolve() / f"CASME2_RAW_selected/{subject}/{sample}/img{onset}.jpg"
    # the one apex written "/" (sub04 EP12_01f): kept with apex -1 and reported with its sheet row
    slash = table[table["apex"] == -1]
    assert slash[["subject", "sample", "sheet_row"]].values.tolist() == [sheets.casme2_no_apex]
    assert "spotted" in slash.iloc[0]["note"]
    subject, sample, row = sheets.casme2_no_apex
    assert any(f"{subject}/{sample} (sheet row {row})" in m for m in messages)


def test_2019_sheet_over_the_cropped_layout(sheets, tmp_path):
    root = write_casme2_tree(tmp_path, sheets[CASME2_2019], layout="Cropped")
    table, _ = load_quietly("casme2", root, sheet=sheets[CASME2_2019])
    assert len(table) == sheets.casme2_samples and table["subject"].nunique() == sheets.casme2_subjects
    # the 2019 revision re-codes sadness samples to surprise (three of sub24 in the real sheet)
    assert table["label"].value_counts().to_dict() == sheets.casme2_counts_2019
    assert set(table["frame_pattern"]) == {"reg_img{}.jpg"}
    assert Path(table.iloc[0]["frame_dir"]).parent.parent.name == "Cropped"


def test_the_layout_folder_itself_works_as_root(sheets, casme2_raw):
    table, _ = load_quietly("casme2", casme2_raw / "CASME2_RAW_selected", sheet=sheets[CASME2_2014])
    assert len(table) == sheets.casme2_samples


def test_megc_label_set_leaves_others_out_and_says_so(sheets, casme2_raw):
    table, messages = load_quietly("casme2", casme2_raw, sheet=sheets[CASME2_2014], label_set="megc_3")
    excluded = table.attrs["excluded"]
    assert len(table) + len(excluded) == sheets.casme2_samples
    assert set(excluded["emotion"]) == {"others"} and len(excluded) == sheets.casme2_others
    assert set(table["label"]) == {"negative", "positive", "surprise"}
    assert any(f"'others' ({sheets.casme2_others} samples)" in m for m in messages)


def test_missing_folder_and_frame_are_listed_in_one_error(sheets, tmp_path):
    root = write_casme2_tree(tmp_path, sheets[CASME2_2014])
    subject, sample, row = sheets.casme2_drop
    first_subject, first_sample, _, apex, _ = sheets.casme2_first
    shutil.rmtree(root / f"CASME2_RAW_selected/{subject}/{sample}")
    (root / f"CASME2_RAW_selected/{first_subject}/{first_sample}/img{apex}.jpg").unlink()
    with pytest.raises(InputError) as err:
        load_dataset("casme2", root, sheet=sheets[CASME2_2014])
    message = str(err.value)
    total = sheets.casme2_samples
    assert f"2 of {total} samples" in message
    assert f"{subject}/{sample} (sheet row {row})" in message and "missing folder" in message
    assert f"{first_subject}/{first_sample} (sheet row 2): apex {apex}" in message
    assert "--skip-missing" in message

    table, messages = load_quietly("casme2", root, sheet=sheets[CASME2_2014], skip_missing=True)
    assert len(table) == total - 2
    skipped = table.attrs["skipped"]
    assert skipped[["subject", "sample", "sheet_row"]].values.tolist() == [
        [first_subject, first_sample, 2],
        [subject, sample, row],
    ]
    assert any(f"skipped 2 of {total}" in m for m in messages)


def test_wrong_root_gives_a_short_error(sheets, tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(InputError, match=f"none of the {sheets.casme2_samples} sample folders") as err:
        load_dataset("casme2", tmp_path, sheet=sheets[CASME2_2014])
    assert "CASME2_RAW_selected/sub01/EP02_01f/img46.jpg" in str(err.value)  # the layout, by example
    with pytest.raises(InputError, match="does not exist"):
        load_dataset("casme2", tmp_path / "nowhere", sheet=sheets[CASME2_2014])


@pytest.fixture
def small_csv(tmp_path) -> Path:
    return write_casme2_csv(tmp_path / "casme2_small.csv")


def test_csv_sheet_and_malformed_rows(tmp_path, small_csv):
    write_casme2_tree(tmp_path / "data", small_csv)
    table, _ = load_quietly("casme2", tmp_path / "data", sheet=small_csv)
    assert len(table) == 9
    assert "sub05" in set(table["subject"])  # "5" in a csv export is folder sub05
    assert table.set_index("sample").loc["EP03_01", "label"] == "others"  # sadness -> others

    lines = small_csv.read_text().splitlines()
    lines[2] = lines[2].replace(",131,", ",13x,")  # sheet row 3: onset not a number
    lines[7] = lines[7].replace(",61,70,93,", ",61,170,93,")  # sheet row 8: apex after offset
    lines[8] = lines[8].replace("sadness", "sadnes")  # sheet row 9: a typo in the emotion
    lines.append(lines[1])  # sheet row 11: the sample of row 2 again
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_dataset("casme2", tmp_path / "data", sheet=bad)
    message = str(err.value)
    assert "malformed row (4)" in message
    for expected in (
        "(sheet row 3): onset '13x'",
        "(sheet row 8): apex 170 is outside",
        "(sheet row 9): unknown emotion",
        "(sheet row 11): the same sample as sheet row 2",
    ):
        assert expected in message


def test_sheet_is_found_in_root_and_ambiguity_is_an_error(tmp_path, small_csv):
    root = write_casme2_tree(tmp_path / "data", small_csv)
    with pytest.raises(InputError, match="no CASME II coding sheet found"):
        load_dataset("casme2", root)
    shutil.copy(small_csv, root / "CASME2-coding-small.csv")
    assert len(load_quietly("casme2", root)[0]) == 9
    shutil.copy(small_csv, root / "CASME2-coding-other.csv")
    with pytest.raises(InputError, match="several"):
        load_dataset("casme2", root)


def test_unknown_dataset_and_label_set(tmp_path, small_csv):
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("casme9", ".")
    with pytest.raises(InputError, match="unknown label set"):
        load_dataset("casme2", tmp_path, sheet=small_csv, label_set="seven")


@pytest.fixture(scope="module")
def samm_root(sheets, tmp_path_factory) -> Path:
    return write_samm_tree(tmp_path_factory.mktemp("samm"), sheets[SAMM_SHEET])


def test_samm_sheet(sheets, samm_root):
    table, _ = load_quietly("samm", samm_root, sheet=sheets[SAMM_SHEET], label_set=None)
    assert len(table) == sheets.samm_samples and table["subject"].nunique() == sheets.samm_subjects
    first = table.iloc[0]
    subject, sample, row, onset = sheets.samm_first
    assert (first["subject"], first["sample"], first["sheet_row"]) == (subject, sample, row)  # header on row 14
    assert first["frame_pattern"] == "006_{:05d}.jpg"
    assert frame_path(first, onset).name == f"006_{onset:05d}.jpg"
    # known sheet errors fixed in code, noted on the row
    fixed = table.set_index("sample")
    assert fixed.loc["028_4_1", "apex"] == 1105 and "1143" in fixed.loc["028_4_1", "note"]
    assert fixed.loc["032_3_1", "apex"] == 4945
    # MEGC classes: "Other" has none -> the composite's SAMM samples (133 of the real sheet)
    megc3, _ = load_quietly("samm", samm_root, sheet=sheets[SAMM_SHEET])
    assert len(megc3) == sheets.samm_megc
    assert len(megc3.attrs["excluded"]) == sheets.samm_samples - sheets.samm_megc


def test_megc_composite(sheets, tmp_path, casme2_raw, samm_root):
    root = tmp_path / "megc"
    root.mkdir()
    (root / "CASME2").symlink_to(casme2_raw, target_is_directory=True)
    shutil.copy(sheets[CASME2_2014], root)
    (root / "SAMM").symlink_to(samm_root / "SAMM", target_is_directory=True)
    shutil.copy(sheets[SAMM_SHEET], root)
    shutil.copy(sheets[MEGC_LIST], root)
    smic = pd.read_csv(sheets[MEGC_LIST], header=None, names=["source", "subject", "sample", "cls"], dtype=str)
    for sample in smic.loc[smic["source"] == "smic", "sample"]:
        # SMIC-HS layout, unpadded subject numbers: s1/micro/negative/s1_ne_01
        subject, kind, number = sample.split("_")
        short = f"s{int(subject[1:])}"
        folder = root / "SMIC" / "HS" / short / "micro" / kind / f"{short}_{kind}_{number}"
        folder.mkdir(parents=True)
        for n in (4100, 4101, 4130):
            (folder / f"image{n:06d}.bmp").touch()

    table, _ = load_quietly("megc", root)
    assert len(table) == sheets.megc_samples and table["subject"].nunique() == sheets.megc_subjects
    assert table.groupby("source")["subject"].nunique().to_dict() == sheets.megc_subjects_by_source
    assert table["label"].value_counts().to_dict() == sheets.megc_counts
    smic_row = table[table["source"] == "smic"].iloc[0]
    assert (smic_row["onset"], smic_row["apex"], smic_row["offset"]) == (4100, -1, 4130)
    subject, sample, onset, apex = sheets.megc_casme2_first
    casme_row = table.set_index(["subject", "sample"]).loc[(subject, sample)]
    assert (casme_row["onset"], casme_row["apex"], casme_row["label"]) == (onset, apex, "positive")

    shutil.rmtree(root / "SMIC/HS/s1/micro/ne/s1_ne_01")
    with pytest.raises(InputError, match=rf"combined_3class_gt.csv line {sheets.megc_first_smic_line}"):
        load_dataset("megc", root)
    with pytest.raises(InputError, match="megc_3"):
        load_dataset("megc", root, label_set="casme2_5")


@pytest.mark.skipif(
    real_sheet(CASME2_2014) is None or real_sheet(SAMM_SHEET) is None or real_sheet(MEGC_LIST) is None,
    reason=f"the real sheets are not at {ANNOTATIONS} (../shared/annotations or $MER_ANNOTATIONS)",
)
def test_made_up_sheets_have_the_real_layout(tmp_path):
    """The stand-ins keep the real files' sheet names, header rows and title-block cells, so the parser tests above
    read the layout users have."""
    import openpyxl

    sheets, made_up = real_sheets(), made_up_sheets(tmp_path)
    for name in (CASME2_2014, CASME2_2019, SAMM_SHEET):
        books = [openpyxl.load_workbook(s[name], read_only=True) for s in (sheets, made_up)]
        assert books[0].sheetnames == books[1].sheetnames, name
        # the same cells filled in the title block, the header and the first data rows
        grids = [[[i for i, c in enumerate(row) if c is not None] for row in book.worksheets[0].iter_rows(
            max_row=16, values_only=True)] for book in books]  # fmt: skip
        rows = min(map(len, grids))
        assert grids[0][:rows] == grids[1][:rows], name
        headers = [[row for row in book.worksheets[0].iter_rows(values_only=True) if row[0] == "Subject"][0]
                   for book in books]  # fmt: skip
        width = max(i for i, cell in enumerate(headers[0]) if cell is not None) + 1  # read-only rows pad with None
        assert headers[0][:width] == headers[1][:width] and not any(headers[1][width:]), name
    for path in (sheets[MEGC_LIST], made_up[MEGC_LIST]):
        assert pd.read_csv(path, header=None).shape[1] == 4
