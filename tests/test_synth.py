"""Synthetic micro-expressions: CASME II layout and sheet, determinism, faces dlib reads, micro motion in the
intended AU region, blinks in every class, demo clips."""

import json
import zipfile

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from mer.cli import main
from mer.data.datasets import frame_path, load_dataset
from mer.spec import CASME2_5
from mer.spotting import face
from mer.synth import dataset as synth
from mer.synth import real_media
from mer.synth.motion import SUPPORTED_AUS, au_field

# The header row of the real CASME2-coding-20140508.xlsx (two columns have no name).
REAL_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
               "Estimated Emotion")  # fmt: skip
SEED, FRAMES = 3, 30


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return synth.make_dataset(out, subjects=2, per_class=1, seed=SEED, frames=FRAMES, workers=1, progress=False)


@pytest.fixture(scope="module")
def table(dataset):
    return load_dataset("casme2", dataset, sheet=dataset / synth.SHEET_NAME)


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_layout_and_sheet_match_casme2(dataset, table):
    sheet = openpyxl.load_workbook(dataset / synth.SHEET_NAME).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == REAL_HEADER
    assert [r[0] for r in rows[1:]] == ["01"] * 5 + ["02"] * 5  # Subject as text, like the real sheet
    assert all(isinstance(r[7], int) or "+" in r[7] for r in rows[1:])  # one AU a number, several "6+12"
    assert list(pd.read_excel(dataset / synth.SHEET_NAME).columns) == synth.SHEET_COLUMNS
    # the loader reads it as CASME II: every class once per subject, every frame from first to last on disk
    assert len(table) == 10 and sorted(table["label"]) == sorted(list(CASME2_5) * 2)
    truth = pd.read_csv(dataset / "ground_truth.csv")
    for _, row in truth.iterrows():
        folder = dataset / synth.FRAMES_DIR / f"sub{row.subject:02d}" / row["sample"]
        names = {p.name for p in folder.iterdir()}
        assert names == {f"img{n}.jpg" for n in range(row.first_frame, row.last_frame + 1)}
        assert row.first_frame <= row.onset_frame < row.apex_frame < row.offset_frame <= row.last_frame
    assert read_rgb(frame_path(table.iloc[0], table.iloc[0].onset)).shape == (480, 640, 3)
    assert (dataset / "README.txt").read_text().startswith("SYNTHETIC")


def test_same_seed_same_bytes_and_subjects_do_not_depend_on_the_count(dataset, tmp_path):
    # one subject, same seed, through the CLI: sub01 must equal the two-subject dataset's sub01 byte for byte
    assert main(["synth", "--out", str(tmp_path), "--subjects", "1", "--per-class", "1", "--seed", str(SEED),
                 "--frames", str(FRAMES), "--workers", "1"]) == 0  # fmt: skip
    mine = sorted(p.relative_to(tmp_path) for p in (tmp_path / synth.FRAMES_DIR).rglob("*.jpg"))
    theirs = sorted(p.relative_to(dataset) for p in (dataset / synth.FRAMES_DIR / "sub01").rglob("*.jpg"))
    assert mine == theirs and len(mine) == 5 * FRAMES
    assert all((tmp_path / p).read_bytes() == (dataset / p).read_bytes() for p in mine)
    # the sheet carries no save time: the same rows give the same bytes
    with zipfile.ZipFile(tmp_path / synth.SHEET_NAME) as z:
        assert {info.date_time for info in z.infolist()} == {(2014, 5, 8, 0, 0, 0)}
        assert b"2014-05-08T00:00:00Z" in z.read("docProps/core.xml")
    again = tmp_path / "again.xlsx"
    synth.write_sheet(again, pd.read_csv(tmp_path / "ground_truth.csv").to_dict("records"))
    assert again.read_bytes() == (tmp_path / synth.SHEET_NAME).read_bytes()
    assert synth.plan_dataset(3, 2, seed=5, frames=40) == synth.plan_dataset(3, 2, seed=5, frames=40)
    assert synth.plan_dataset(3, 2, seed=5, frames=40) != synth.plan_dataset(3, 2, seed=6, frames=40)


def test_dlib_finds_one_face_in_every_sample(table):
    for _, row in table.iterrows():
        _, faces = face.detect_landmarks(read_rgb(frame_path(row, row.apex)))
        assert faces == 1


def test_each_au_moves_its_own_region():
    """Each AU's field is strongest, on average, in the paper's AU region for it (AU1/2/4/7 ocular_brow, AU6
    cheek, AU9 nasal, AU10/12/14/15 oral, AU17 mandibular)."""
    job = synth.plan_dataset(1, 1, seed=SEED, frames=FRAMES)[0]
    neutral, landmarks = synth.subject_face(job)
    masks = face.au_region_masks(landmarks, shape=neutral.shape[:2])
    for au in SUPPORTED_AUS:
        magnitude = np.linalg.norm(au_field({au: 1.0}, landmarks, neutral.shape[:2], 2.0), axis=2)
        assert magnitude.max() == pytest.approx(2.0, abs=1e-3)
        means = {name: float((magnitude * m).sum() / m.sum()) for name, m in masks.items()}
        expected = next(name for name, aus in face.AU_REGION_AUS.items() if au in aus)
        assert max(means, key=means.get) == expected, (au, means)


def onset_apex_flow(table, dataset, emotion, subject="sub01"):
    """DIS flow magnitude (px) onset -> apex of the written frames less the head's drift, the AU region masks, and
    the AU regions without the eyes (blinks)."""
    row = table[(table["label"] == emotion) & (table["subject"] == subject)].iloc[0]
    onset, apex = (read_rgb(frame_path(row, n)) for n in (row.onset, row.apex))
    landmarks, _ = face.detect_landmarks(onset)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (onset, apex)]
    flow = dis.calc(gray[0], gray[1], None)
    no_eyes = face.spotting_mask(landmarks, onset.shape[:2])
    flow -= np.median(flow[no_eyes > 0], axis=0)  # the head's drift: the same shift everywhere
    return np.linalg.norm(flow, axis=2), face.au_region_masks(landmarks, onset.shape[:2]), no_eyes


def test_written_motion_is_micro_and_where_the_class_puts_it(dataset, table):
    truth = pd.read_csv(dataset / "ground_truth.csv")
    assert truth["amplitude_px"].between(*synth.AMPLITUDE_PX).all()
    means = {}
    for emotion in ("surprise", "happiness"):
        magnitude, masks, no_eyes = onset_apex_flow(table, dataset, emotion)
        assert np.percentile(magnitude[no_eyes > 0], 99.5) < 3.5  # micro: a few pixels at most, with head drift
        weights = {name: m * no_eyes for name, m in masks.items()}
        means[emotion] = {name: float((magnitude * w).sum() / w.sum()) for name, w in weights.items()}
    surprise, happiness = means["surprise"], means["happiness"]
    assert surprise["ocular_brow"] > 2 * max(surprise["oral"], surprise["mandibular"])  # AU1+2: brows, not mouth
    assert min(happiness["oral"], happiness["cheek"]) > happiness["ocular_brow"]  # AU6+12: mouth corners, cheeks
    assert happiness["cheek"] > 2 * surprise["cheek"] and happiness["oral"] > 2 * surprise["oral"]


def test_every_class_blinks(dataset, table):
    truth = pd.read_csv(dataset / "ground_truth.csv")
    assert set(truth["emotion"]) == set(CASME2_5)
    assert (truth["blink_frames"] > 0).all() and (truth["blink_closure"] >= 0.6).all()
    for _, row in truth.iterrows():
        sample = table[(table["subject"] == f"sub{row.subject:02d}") & (table["sample"] == row["sample"])].iloc[0]
        closed = row.blink_start_frame + row.blink_frames // 3  # the blink closes in its first third
        first, shut = (read_rgb(frame_path(sample, n)).astype(np.float32) for n in (row.first_frame, closed))
        landmarks, _ = face.detect_landmarks(read_rgb(frame_path(sample, row.first_frame)))
        eyes = np.zeros(first.shape[:2], np.uint8)
        for eye in (landmarks[36:42], landmarks[42:48]):
            cv2.fillConvexPoly(eyes, cv2.convexHull(eye.astype(np.int32)), 1)
        change = np.abs(shut - first).mean(axis=2)
        assert change[eyes > 0].mean() > 3 * change[eyes == 0].mean(), row["sample"]


def test_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path):
    (tmp_path / synth.FRAMES_DIR).mkdir()
    assert main(["synth", "--out", str(tmp_path), "--subjects", "1", "--per-class", "1"]) == 2
    assert main(["synth"]) == 2  # neither --out nor --examples


def test_example_clips_read_back(tmp_path):
    (path,) = synth.write_examples(tmp_path, classes=("surprise",), frames=40)
    assert path.name == "synthetic_surprise.webm"
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 40 and frames[0].shape == (288, 384, 3)
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(synth.FPS)
    _, faces = face.detect_landmarks(cv2.cvtColor(frames[0], cv2.COLOR_BGR2RGB))
    assert faces == 1


def test_every_training_photo_is_a_face_dlib_finds_and_none_shows_a_measured_person():
    from mer.synth import faces as synth_faces

    assert synth_faces.PHOTOS == ("astronaut", "grace_hopper")  # the default stays the classic two
    for name in synth_faces.ALL_PHOTOS:
        assert name in synth_faces.PHOTO_SOURCES and synth_faces.PHOTO_SOURCES[name][2]  # a licence for each
        canvas = synth_faces.render_identity(synth_faces.sample_identity(np.random.default_rng(0), 0, photos=(name,)))
        _, faces = face.detect_landmarks(canvas, name)
        assert faces >= 1
    for name in ("man_smiling", "woman_expressions", "face_then_none", "none_then_face", "single_face_photo"):
        assert real_media.held_out(name)
    with pytest.raises(ValueError, match="measurement-only"):
        synth_faces._read_medium("single_face_photo")


def test_video_like_samples_have_their_own_frame_rate_distractors_and_sources(tmp_path):
    classic = synth.plan_dataset(2, 2, seed=4, frames=40)
    video = synth.plan_dataset(2, 2, seed=4, frames=40, photos=("astronaut", "grace_hopper"), video_like=True)
    keep = ("emotion", "aus", "amplitude_px", "sample", "first_frame", "seed")
    for a, b in zip((p for j in classic for p in j["plans"]), (p for j in video for p in j["plans"]), strict=True):
        assert {k: a[k] for k in keep} == {k: b[k] for k in keep}  # the same samples, only the extras differ
        assert "fps" not in a and b["fps"] in synth.VIDEO_FPS
        assert 0 < b["onset"] < b["apex"] < b["offset"] < 40
        assert (b["apex"] - b["onset"]) / b["fps"] <= 0.15 + 1 / b["fps"]
    plans = [p for j in synth.plan_dataset(6, 2, seed=4, frames=40, video_like=True) for p in j["plans"]]
    macros = [p["macro"] for p in plans if p["macro"]]
    assert 0.3 < len(macros) / len(plans) < 0.9 and all(4 <= m["amplitude_px"] <= 12 for m in macros)
    assert any(p["codec"] == "mp4v" for p in plans) and max(p["head_px"] for p in plans) > 1.5

    out = synth.make_dataset(tmp_path, 1, 1, seed=4, frames=30, workers=1, progress=False,
                             photos=("portrait_f1",), video_like=True)  # fmt: skip
    truth = pd.read_csv(out / "ground_truth.csv")
    assert set(truth["id_photo"]) == {"portrait_f1"} and truth["fps"].isin(synth.VIDEO_FPS).all()
    assert {"codec", "macro_aus", "light_change"} <= set(truth.columns)
    sources = json.loads((out / synth.SOURCES_NAME).read_text())
    assert [p["name"] for p in sources["photos"]] == ["portrait_f1"] and "MIT" in sources["photos"][0]["licence"]
    assert "--video-like" in (out / "README.txt").read_text()
    table = load_dataset("casme2", out, sheet=out / synth.SHEET_NAME)
    for _, row in table.iterrows():
        _, faces = face.detect_landmarks(read_rgb(frame_path(row, row.apex)))
        assert faces >= 1
