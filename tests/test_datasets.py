"""Dataset loaders on fixtures in the real layouts: copies of the real (label-only) sheets in tests/fixtures
and frame trees of empty files written into tmp_path (the loaders never decode images)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from mer.data.datasets import COLUMNS, DatasetWarning, casme2, frame_path, load_dataset, samm
from mer.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
SHEETS = FIXTURES / "annotations"
CASME2_2014 = SHEETS / "CASME2-coding-20140508.xlsx"
CASME2_2019 = SHEETS / "CASME2-coding-20190701.xlsx"
SAMM_SHEET = SHEETS / "SAMM_Micro_FACS_Codes_v2.xlsx"
MEGC_LIST = SHEETS / "combined_3class_gt.csv"
SMALL_CSV = FIXTURES / "casme2_small.csv"

PAPER_COUNTS = {"others": 108, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25}


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


def write_samm_tree(root: Path) -> Path:
    for row in samm.read_rows(SAMM_SHEET):
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
def casme2_raw(tmp_path_factory) -> Path:
    return write_casme2_tree(tmp_path_factory.mktemp("casme2_raw"), CASME2_2014)


def test_real_casme2_sheet_gives_the_paper_counts(casme2_raw):
    table, messages = load_quietly("casme2", casme2_raw, sheet=CASME2_2014)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 255
    assert table["subject"].nunique() == 26
    assert table["label"].value_counts().to_dict() == PAPER_COUNTS
    first = table.iloc[0]
    assert (first["subject"], first["sample"], first["onset"], first["apex"], first["offset"]) == (
        "sub01",
        "EP02_01f",
        46,
        59,
        86,
    )
    assert first["frame_pattern"] == "img{}.jpg"
    assert frame_path(first, 46) == casme2_raw.resolve() / "CASME2_RAW_selected/sub01/EP02_01f/img46.jpg"
    # the one apex written "/" (sub04 EP12_01f): kept with apex -1 and reported with its sheet row
    slash = table[table["apex"] == -1]
    assert slash[["subject", "sample", "sheet_row"]].values.tolist() == [["sub04", "EP12_01f", 31]]
    assert "spotted" in slash.iloc[0]["note"]
    assert any("sub04/EP12_01f (sheet row 31)" in m for m in messages)


def test_2019_sheet_over_the_cropped_layout(tmp_path):
    root = write_casme2_tree(tmp_path, CASME2_2019, layout="Cropped")
    table, _ = load_quietly("casme2", root, sheet=CASME2_2019)
    assert len(table) == 255 and table["subject"].nunique() == 26
    # the 2019 revision re-codes three sub24 samples from sadness to surprise
    assert table["label"].value_counts().to_dict() == {**PAPER_COUNTS, "others": 105, "surprise": 28}
    assert set(table["frame_pattern"]) == {"reg_img{}.jpg"}
    assert Path(table.iloc[0]["frame_dir"]).parent.parent.name == "Cropped"


def test_the_layout_folder_itself_works_as_root(casme2_raw):
    table, _ = load_quietly("casme2", casme2_raw / "CASME2_RAW_selected", sheet=CASME2_2014)
    assert len(table) == 255


def test_megc_label_set_leaves_others_out_and_says_so(casme2_raw):
    table, messages = load_quietly("casme2", casme2_raw, sheet=CASME2_2014, label_set="megc_3")
    excluded = table.attrs["excluded"]
    assert len(table) + len(excluded) == 255
    assert set(excluded["emotion"]) == {"others"} and len(excluded) == 99
    assert set(table["label"]) == {"negative", "positive", "surprise"}
    assert any("'others' (99 samples)" in m for m in messages)


def test_missing_folder_and_frame_are_listed_in_one_error(tmp_path):
    root = write_casme2_tree(tmp_path, CASME2_2014)
    shutil.rmtree(root / "CASME2_RAW_selected/sub05/EP03_01")
    (root / "CASME2_RAW_selected/sub01/EP02_01f/img59.jpg").unlink()
    with pytest.raises(InputError) as err:
        load_dataset("casme2", root, sheet=CASME2_2014)
    message = str(err.value)
    assert "2 of 255 samples" in message
    assert "sub05/EP03_01 (sheet row 37)" in message and "missing folder" in message
    assert "sub01/EP02_01f (sheet row 2): apex 59" in message
    assert "--skip-missing" in message

    table, messages = load_quietly("casme2", root, sheet=CASME2_2014, skip_missing=True)
    assert len(table) == 253
    skipped = table.attrs["skipped"]
    assert skipped[["subject", "sample", "sheet_row"]].values.tolist() == [
        ["sub01", "EP02_01f", 2],
        ["sub05", "EP03_01", 37],
    ]
    assert any("skipped 2 of 255" in m for m in messages)


def test_wrong_root_gives_a_short_error(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(InputError, match="none of the 255 sample folders") as err:
        load_dataset("casme2", tmp_path, sheet=CASME2_2014)
    assert "CASME2_RAW_selected/sub01/EP02_01f/img46.jpg" in str(err.value)
    with pytest.raises(InputError, match="does not exist"):
        load_dataset("casme2", tmp_path / "nowhere", sheet=CASME2_2014)


def test_csv_sheet_and_malformed_rows(tmp_path):
    write_casme2_tree(tmp_path / "data", SMALL_CSV)
    table, _ = load_quietly("casme2", tmp_path / "data", sheet=SMALL_CSV)
    assert len(table) == 9
    assert "sub05" in set(table["subject"])  # "5" in a csv export is folder sub05
    assert table.set_index("sample").loc["EP15_03", "label"] == "others"  # sadness -> others

    lines = SMALL_CSV.read_text().splitlines()
    lines[2] = lines[2].replace(",131,", ",13x,")  # sheet row 3: onset not a number
    lines[6] = lines[6].replace(",16,59,101,", ",16,159,101,")  # sheet row 7: apex after offset
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
        "(sheet row 7): apex 159 is outside",
        "(sheet row 9): unknown emotion",
        "(sheet row 11): the same sample as sheet row 2",
    ):
        assert expected in message


def test_sheet_is_found_in_root_and_ambiguity_is_an_error(tmp_path):
    root = write_casme2_tree(tmp_path, SMALL_CSV)
    with pytest.raises(InputError, match="no CASME II coding sheet found"):
        load_dataset("casme2", root)
    shutil.copy(SMALL_CSV, root / "CASME2-coding-small.csv")
    assert len(load_quietly("casme2", root)[0]) == 9
    shutil.copy(SMALL_CSV, root / "CASME2-coding-other.csv")
    with pytest.raises(InputError, match="several"):
        load_dataset("casme2", root)


def test_unknown_dataset_and_label_set():
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("casme9", ".")
    with pytest.raises(InputError, match="unknown label set"):
        load_dataset("casme2", FIXTURES, sheet=SMALL_CSV, label_set="seven")


@pytest.fixture(scope="module")
def samm_root(tmp_path_factory) -> Path:
    return write_samm_tree(tmp_path_factory.mktemp("samm"))


def test_real_samm_sheet(samm_root):
    table, _ = load_quietly("samm", samm_root, sheet=SAMM_SHEET, label_set=None)
    assert len(table) == 159 and table["subject"].nunique() == 29
    first = table.iloc[0]
    assert (first["subject"], first["sample"], first["sheet_row"]) == (
        "006",
        "006_1_2",
        15,
    )  # header on row 14
    assert first["frame_pattern"] == "006_{:05d}.jpg"
    assert frame_path(first, 5562).name == "006_05562.jpg"
    # known sheet errors fixed in code, noted on the row
    fixed = table.set_index("sample")
    assert fixed.loc["028_4_1", "apex"] == 1105 and "1143" in fixed.loc["028_4_1", "note"]
    assert fixed.loc["032_3_1", "apex"] == 4945
    # MEGC classes: "Other" has none -> the composite's 133 SAMM samples
    megc3, _ = load_quietly("samm", samm_root, sheet=SAMM_SHEET)
    assert len(megc3) == 133 and len(megc3.attrs["excluded"]) == 26


def test_real_megc_composite(tmp_path, casme2_raw, samm_root):
    root = tmp_path / "megc"
    root.mkdir()
    (root / "CASME2").symlink_to(casme2_raw, target_is_directory=True)
    shutil.copy(CASME2_2014, root)
    (root / "SAMM").symlink_to(samm_root / "SAMM", target_is_directory=True)
    shutil.copy(SAMM_SHEET, root)
    shutil.copy(MEGC_LIST, root)
    smic = pd.read_csv(MEGC_LIST, header=None, names=["source", "subject", "sample", "cls"], dtype=str)
    for sample in smic.loc[smic["source"] == "smic", "sample"]:
        # SMIC-HS layout, unpadded subject numbers: s1/micro/negative/s1_ne_01
        subject, kind, number = sample.split("_")
        short = f"s{int(subject[1:])}"
        folder = root / "SMIC" / "HS" / short / "micro" / kind / f"{short}_{kind}_{number}"
        folder.mkdir(parents=True)
        for n in (4100, 4101, 4130):
            (folder / f"image{n:06d}.bmp").touch()

    table, _ = load_quietly("megc", root)
    assert len(table) == 442 and table["subject"].nunique() == 68
    assert table.groupby("source")["subject"].nunique().to_dict() == {"casme2": 24, "samm": 28, "smic": 16}
    assert table["label"].value_counts().to_dict() == {"negative": 250, "positive": 109, "surprise": 83}
    smic_row = table[table["source"] == "smic"].iloc[0]
    assert (smic_row["onset"], smic_row["apex"], smic_row["offset"]) == (4100, -1, 4130)
    casme_row = table.set_index(["subject", "sample"]).loc[("sub01", "EP02_01f")]
    assert (casme_row["onset"], casme_row["apex"], casme_row["label"]) == (46, 59, "positive")

    shutil.rmtree(root / "SMIC/HS/s1/micro/ne/s1_ne_01")
    with pytest.raises(InputError, match=r"combined_3class_gt.csv line 146"):
        load_dataset("megc", root)
    with pytest.raises(InputError, match="megc_3"):
        load_dataset("megc", root, label_set="casme2_5")
