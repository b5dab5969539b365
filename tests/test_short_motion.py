"""Short movements (mer.spotting.short_motion, mer.spotting.events.find_short_events): a micro-expression during a held
expression is found; the held expression's start, a blink and a slow change are not short movements.

Clips: the astronaut photo (scikit-image, public domain) aligned and moved by AU fields (mer.synth.motion) at
30 fps, with sensor noise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from mer.spotting import events, face, short_motion
from mer.synth.motion import au_field, blink_field, expression_course

FPS = 30.0
N = 90  # 3 s


@pytest.fixture(scope="module")
def aligned():
    return face.FaceAligner().align([astronaut()], name="astronaut")


def _moved(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    return cv2.remap(image, xs - field[..., 0], ys - field[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _clip(aligned, parts: list[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> np.ndarray:
    """(N, H, W, 3) frames: the crop moved by the sum of field * course of each part, plus noise (sigma 1.5)."""
    rng = np.random.default_rng(seed)
    crop = aligned.frames[0]
    frames = []
    for t in range(N):
        field = sum(course[t] * f for f, course in parts)
        frame = _moved(crop, field) if np.abs(field).max() > 1e-3 else crop
        frames.append(np.clip(frame + rng.normal(0, 1.5, frame.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


def _held(n: int, onset: int, apex: int) -> np.ndarray:
    """0 before onset, rising to 1 at apex, held to the end."""
    return np.clip((np.arange(n) - onset) / max(apex - onset, 1), 0, 1).astype(np.float32)


def _events(aligned, frames: np.ndarray) -> list[events.Event]:
    landmarks = aligned.landmarks
    regions = face.au_region_masks(landmarks)
    flows = short_motion.ShortFlows(frames, face.spotting_mask(landmarks), regions, face.eye_mask(landmarks))
    return events.merge(events.find_short_events([(0, len(frames), flows.curves(FPS), flows)], FPS))


def test_a_micro_expression_during_a_held_smile_is_found_and_the_smile_is_not_short(aligned):
    """A 6 px smile (AU6+12) from 0.3 s, held; a 1.5 px brow raise (AU1+2) over 0.3 s at 1.5 s, on top of it."""
    shape = aligned.frames[0].shape[:2]
    smile = au_field({6: 1.0, 12: 1.0}, aligned.landmarks, shape, 6.0)
    brows = au_field({1: 1.0, 2: 1.0}, aligned.landmarks, shape, 1.5)
    frames = _clip(aligned, [(smile, _held(N, 9, 18)), (brows, expression_course(N, 45, 49, 54))])
    found = _events(aligned, frames)
    assert [e.kind for e in found] == ["micro"], found
    micro = found[0]
    assert 43 <= micro.onset <= 46 and abs(micro.apex - 49) <= 1 and 52 <= micro.offset <= 56
    assert 0.3 <= micro.strength <= 1.5  # crop px from where it started to its apex (the mean of its top tenth)
    assert micro.reason.startswith("micro: lasts at most 0.5 s") and "returns to where it started" in micro.reason


def test_a_blink_and_a_slow_expression_are_not_short_movements(aligned):
    """A full blink over 0.2 s at 1 s, and a 3 px smile rising over 1.5 s: neither is a short movement."""
    shape = aligned.frames[0].shape[:2]
    lids = blink_field(aligned.landmarks, shape)
    smile = au_field({12: 1.0}, aligned.landmarks, shape, 3.0)
    frames = _clip(aligned, [(lids, expression_course(N, 27, 30, 33)), (smile, _held(N, 40, 85))], seed=1)
    assert _events(aligned, frames) == []


def test_a_short_fast_large_movement_is_macro():
    event = events.judge_short(events.Event(10, 14, 19, 0.0), "oral", rise=7.0, net=0.5, blink=1.0, fps=FPS)
    assert event.kind == "macro" and event.strength == 7.0 and "moves more than 4 px" in event.reason


def test_what_is_not_a_short_movement():
    def judged(**kw):
        return events.judge_short(events.Event(10, 14, 19, 0.0), "oral", fps=FPS, **{"rise": 1.5, **kw})

    assert judged(net=0.2, blink=8.0) is None  # the eye openings changed 8x more than usual: a blink
    assert judged(net=1.4, blink=1.0) is None  # ends almost where its apex was: the start of a longer movement
    micro = judged(net=0.2, blink=1.0)
    assert micro.kind == "micro" and micro.reason.endswith("(the oral region)")


def test_short_peaks_trace_the_movement():
    """A bump curve that follows a 0.3 s movement (apex after 0.1 s) on a 0.2 px floor: onset and offset within a
    frame, strength its height above the floor."""
    rng = np.random.default_rng(0)
    curve = 0.2 + 1.2 * expression_course(N, 40, 43, 49) + rng.normal(0, 0.02, N)
    curve[:4] = curve[-4:] = 0  # no frame `lag` before / after
    (peak,) = events.short_peaks(curve, FPS)
    assert abs(peak.onset - 40) <= 1 and peak.apex == 43 and abs(peak.offset - 49) <= 1
    assert peak.strength == pytest.approx(1.2, abs=0.1)
    assert events.short_peaks(0.2 + rng.normal(0, 0.02, N), FPS) == []


def test_a_micro_event_inside_a_macro_one_is_its_own_movement():
    macro = events.Event(10, 40, 80, 9.0, "macro")
    micro = events.Event(36, 39, 43, 1.5, "micro")
    assert events.merge([macro, micro]) == [macro, micro]
    twin = events.Event(12, 40, 78, 8.0, "macro")  # the same movement seen from another window
    assert events.merge([macro, twin]) == [macro]
