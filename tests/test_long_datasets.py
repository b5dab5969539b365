"""Long-video loaders (SAMM Long Videos, CAS(ME)^2, CAS(ME)^3 part A) on the real sheets and trees made from them.

The sheets are the real label-only files in ../shared/annotations (beside the repository; see its README for their
sources and rights): they are read here, never copied into the repository. Frame trees are made at test time in
each database's layout, for a few of the sheet's videos, every frame a hard link to one 8 x 8 image.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer.data.datasets import LONG_DATASETS, casme2_lv, casme3, load_long_videos, samm_lv
from mer.data.datasets.long_video import INTERVAL_COLUMNS, video_code
from mer.errors import InputError

ANNOTATIONS = Path(os.environ.get("MER_ANNOTATIONS", Path(__file__).resolve().parents[1].parent / "shared/annotations"))
SAMM_LV = ANNOTATIONS / "SAMM_LongVideos_V2_Release.xlsx"
CASME2_XLSX = ANNOTATIONS / "code_final.xlsx"
CASME2_GT = ANNOTATIONS / "CASME_sq_gt.xlsx"
CASME2_CSV = ANNOTATIONS / "CAS(ME)^2code_final(Updated).csv"
CASME3_V1 = ANNOTATIONS / "CAS(ME)3_part_A_v1.xls"
CASME3_V2 = ANNOTATIONS / "CAS(ME)3_part_A_v2.xls"

pytestmark = pytest.mark.skipif(
    not SAMM_LV.is_file(), reason=f"the real long-video sheets are not at {ANNOTATIONS} (../shared/annotations)"
)


def tiny_frame(folder: Path) -> Path:
    """One 8 x 8 JPEG that every made frame links to."""
    path = folder / "tiny.jpg"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((8, 8, 3), 128, np.uint8))
    return path


def make_video(folder: Path, names: list[str], source: Path) -> None:
    """The frame files ``names`` in ``folder``, each a hard link to ``source`` (a copy where links fail)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = folder / name
        if not target.exists():
            try:
                os.link(source, target)
            except OSError:
                target.write_bytes(source.read_bytes())


def samm_lv_tree(root: Path, table: pd.DataFrame, videos: list[str], extra: int = 100) -> Path:
    """SAMM_longvideos/006_1/006_1_00001.jpg ... up to each video's last offset + ``extra`` frames."""
    one = tiny_frame(root)
    for video in videos:
        last = int(table.loc[table["video"] == video, "offset"].max()) + extra
        make_video(root / "SAMM_longvideos" / video, [f"{video}_{n:05d}.jpg" for n in range(1, last + 1)], one)
    return root


def casme2_tree(root: Path, table: pd.DataFrame, videos: list[str], extra: int = 30) -> Path:
    """rawpic/s15/15_0101disgustingteeth/img1.jpg ... (folder names from the CSV sheet's last column)."""
    one = tiny_frame(root)
    for video in videos:
        last = int(table.loc[table["video"] == video, ["offset", "apex"]].max().max()) + extra
        make_video(root / "rawpic" / video, [f"img{n}.jpg" for n in range(1, last + 1)], one)
    return root


def casme3_tree(root: Path, table: pd.DataFrame, videos: list[str], first: int = 0, extra: int = 30) -> Path:
    """part_A/data/part_A/spNO.1/a/color/0.jpg ... (the database's own layout)."""
    one = tiny_frame(root)
    for video in videos:
        last = int(table.loc[table["video"] == video, "offset"].max()) + extra
        make_video(root / "part_A/data/part_A" / video / "color", [f"{n}.jpg" for n in range(first, last + 1)], one)
    return root


# ------------------------------------------------------------------------------------------------- sheets alone


def test_samm_lv_sheet_gives_the_published_counts_and_every_quirk_is_handled():
    table = samm_lv.read_intervals(SAMM_LV)
    assert list(table.columns) == list(INTERVAL_COLUMNS)
    assert table["kind"].value_counts().to_dict() == {"macro": 343, "micro": 159}
    assert table["video"].nunique() == 147 and table["subject"].nunique() == 30
    assert (table.loc[table["video"] == "006_1", "subject"] == "006").all()
    # every row against the sheet as pandas reads it (header on row 10): fractional frames rounded, apex -1 kept,
    # onset 0 starts at frame 1, each said in the note
    raw = pd.read_excel(SAMM_LV, header=None, skiprows=10).dropna(how="all").reset_index(drop=True)
    assert len(raw) == len(table)
    for (_, sheet), row in zip(raw.iterrows(), table.itertuples(), strict=True):
        onset, apex, offset = (float(sheet[c]) for c in (3, 4, 5))
        assert row.video == "_".join(str(sheet[1]).split("_")[:2])
        assert row.kind == ("micro" if str(sheet[7]).startswith("Micro") else "macro")
        assert row.offset == math.floor(offset + 0.5) and row.apex == math.floor(apex + 0.5)
        assert row.onset == max(1, math.floor(onset + 0.5))
        fractional = any(abs(v - round(v)) > 1e-6 for v in (onset, apex, offset))  # 114.99999999999999 is 115
        assert ("fractional" in row.note) == fractional
        assert ("not annotated" in row.note) == (apex == -1)
        assert ("recording began" in row.note) == (onset == 0)
        assert row.onset <= row.offset
    assert (table["apex"] == -1).sum() == 6 and table["note"].str.contains("recording began").sum() > 0


@pytest.mark.parametrize("sheet", [CASME2_XLSX, CASME2_GT, CASME2_CSV], ids=lambda p: p.name)
def test_casme2_sheets_give_the_published_counts_and_no_offset_0_remains(sheet):
    table = casme2_lv.read_intervals(sheet)
    assert table["kind"].value_counts().to_dict() == {"macro": 300, "micro": 57}
    assert table["video"].nunique() == 95 and table["subject"].nunique() == 22
    raw = pd.read_csv(CASME2_CSV, header=None)
    zero = raw[4] == 0
    assert zero.sum() == table["note"].str.contains("offset 0").sum()
    # offset 0 (no offset annotated): the apex is the offset, as SoftNet's and the MEGC loaders read it
    assert (table.loc[zero.to_numpy(), "offset"].to_numpy() == raw.loc[zero, 3].to_numpy()).all()
    assert (table["offset"] > 0).all() and (table["onset"] <= table["offset"]).all()
    assert (table["onset"].to_numpy() == raw[2].to_numpy()).all()


def test_casme2_xlsx_names_videos_by_their_code_the_csv_by_their_folder():
    xlsx, csv = casme2_lv.read_intervals(CASME2_XLSX), casme2_lv.read_intervals(CASME2_CSV)
    assert xlsx["video"].iloc[0] == "s15/15_0401" and csv["video"].iloc[0] == "s15/15_0401girlcrashing"
    assert xlsx["video"].tolist() == [video_code(v) for v in csv["video"]]
    assert xlsx[["onset", "apex", "offset", "kind"]].equals(csv[["onset", "apex", "offset", "kind"]])


def test_casme3_part_a_sheets_give_the_published_counts():
    v2, v1 = casme3.read_intervals(CASME3_V2), casme3.read_intervals(CASME3_V1)
    assert v2["kind"].value_counts().to_dict() == {"macro": 3346, "micro": 860}
    assert v1["kind"].value_counts().to_dict() == {"macro": 3285, "micro": 921}
    assert v2["video"].nunique() == 956 and v2["subject"].nunique() == 98
    assert v2["video"].iloc[0] == "spNO.1/a" and (v2["onset"] <= v2["offset"]).all()


# ------------------------------------------------------------------------------------------------- with frames


def test_samm_lv_tree_finds_the_videos_present_and_lists_the_rest(tmp_path):
    table = samm_lv.read_intervals(SAMM_LV)
    made = ["006_1", "011_6", "018_3"]  # 011_6 and 018_3 hold onset-0 rows, 006_1 fractional ones
    samm_lv_tree(tmp_path, table, made)
    for root in (tmp_path, tmp_path / "SAMM_longvideos"):  # ROOT, or the layout folder itself
        videos = load_long_videos("samm-lv", root, sheet=SAMM_LV)
        assert sorted(videos.frames) == made
        assert len(videos.skipped) == 147 - len(made)
        assert all(s["problem"].startswith("missing folder") for s in videos.skipped)
        frames = videos.frames["006_1"]
        assert frames.pattern == "006_1_{:05d}.jpg" and frames.numbers[0] == 1
        assert frames.paths()[0] == tmp_path / "SAMM_longvideos/006_1/006_1_00001.jpg"
        assert videos.minutes()["006_1"] == pytest.approx(len(frames.numbers) / 200 / 60)
        assert set(videos.present()["video"]) == set(made)


def test_casme2_tree_from_either_sheet_gives_folder_ids(tmp_path):
    csv = casme2_lv.read_intervals(CASME2_CSV)
    made = ["s15/15_0101disgustingteeth", "s23/23_0402beatingpregnantwoman"]
    casme2_tree(tmp_path, csv, made)
    for sheet in (CASME2_XLSX, CASME2_CSV):
        videos = load_long_videos("casme2-lv", tmp_path, sheet=sheet)
        assert sorted(videos.frames) == made
        assert len(videos.skipped) == 95 - len(made)
        assert videos.frames[made[0]].pattern == "img{}.jpg"
        assert sorted(set(videos.present()["video"])) == made


def test_casme3_tree_in_the_database_layout(tmp_path):
    table = casme3.read_intervals(CASME3_V2)
    made = ["spNO.1/a", "spNO.1/b"]
    casme3_tree(tmp_path / "CASME3", table, made)
    videos = load_long_videos("casme3", tmp_path / "CASME3", sheet=CASME3_V2)
    assert sorted(videos.frames) == made
    assert videos.frames["spNO.1/a"].numbers[0] == 0 and videos.frames["spNO.1/a"].folder.name == "color"
    assert videos.base.as_posix().endswith("part_A/data/part_A")


def test_no_video_present_and_bad_sheets_are_clear_errors(tmp_path):
    from mer.spotting.long_videos import evaluate_database

    (tmp_path / "SAMM_longvideos").mkdir()
    with pytest.raises(InputError, match="none of the 147 videos"):
        evaluate_database("samm-lv", tmp_path, tmp_path / "out", sheet=SAMM_LV, spotted_csv=CASME2_CSV)
    with pytest.raises(InputError, match="no samm-lv sheet found"):
        load_long_videos("samm-lv", tmp_path)
    with pytest.raises(InputError, match="naming rule"):
        bare = tmp_path / "bare.xlsx"
        pd.DataFrame([[1, "anger1_1", 557, 572, 608, "4", "negative", "macro-expression", "anger"]]).to_excel(
            bare, header=False, index=False
        )
        casme2_lv.read_intervals(bare)
    with pytest.raises(InputError, match="unknown long-video dataset"):
        load_long_videos("smic-lv", tmp_path)
    assert set(LONG_DATASETS) == {"samm-lv", "casme2-lv", "casme3"}
