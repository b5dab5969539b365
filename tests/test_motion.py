"""Optical flow, strain, flow pictures, the motion curve and spotting on a real aligned face with known motion."""

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from mer.data import inputs
from mer.errors import InputError
from mer.spotting import face, motion

SIZE = face.CROP_HW


@pytest.fixture(scope="module")
def aligned():
    return face.FaceAligner().align([astronaut()], name="astronaut")


@pytest.fixture(scope="module")
def crop(aligned):
    return aligned.frames[0]


def grid():
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]].astype(np.float32)
    return xs, ys


def warp(image, field):
    """The image with its content moved by the smooth displacement field (H, W, 2) (u right, v down)."""
    xs, ys = grid()
    map_x, map_y = (xs - field[..., 0]).astype(np.float32), (ys - field[..., 1]).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def true_flow(field):
    """The flow from an image to warp(image, field), at the first image's pixels: w(p) = field(p + w(p))."""
    xs, ys = grid()
    flow = field.copy()
    for _ in range(6):
        flow = np.dstack(
            [
                cv2.remap(
                    np.ascontiguousarray(field[..., k]),
                    xs + flow[..., 0],
                    ys + flow[..., 1],
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                )
                for k in range(2)
            ]
        )
    return flow


def bump(center, sigma, displacement):
    """(H, W, 2) Gaussian bump of displacement (dx, dy) pixels around center (x, y)."""
    xs, ys = grid()
    weight = np.exp(-((xs - center[0]) ** 2 + (ys - center[1]) ** 2) / (2 * sigma**2))
    return np.stack([weight * displacement[0], weight * displacement[1]], axis=-1).astype(np.float32)


def smile_field(landmarks, amplitude):
    """Both mouth corners pulled up and out (AU12-like), `amplitude` px at the corners."""
    left, right = landmarks[48], landmarks[54]
    return bump(left, 16, (-0.6 * amplitude, -0.8 * amplitude)) + bump(right, 16, (0.6 * amplitude, -0.8 * amplitude))


def rigid(frame, dx=0.0, dy=0.0, degrees=0.0):
    matrix = cv2.getRotationMatrix2D((SIZE[1] / 2, SIZE[0] / 2), degrees, 1.0)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(frame, matrix, SIZE[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def noisy(frame, rng, sigma=1.5):
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def make_clip(crop, landmarks, fps, seconds, apex_s=None, amplitude=1.5, drift_px=0.0, drift_deg=0.0, seed=0):
    """A clip of the aligned face: a smile bump (onset-apex-offset over ~0.3 s) at apex_s, slow linear head drift
    over the whole clip, sensor noise."""
    rng = np.random.default_rng(seed)
    count = int(round(fps * seconds))
    field = smile_field(landmarks, 1.0)
    frames = []
    for i in range(count):
        t = i / fps
        strength = 0.0 if apex_s is None else amplitude * np.exp(-(((t - apex_s) / 0.07) ** 2))
        frame = warp(crop, strength * field) if strength > 1e-3 else crop
        progress = i / max(count - 1, 1)
        frame = rigid(frame, dx=drift_px * progress, dy=0.5 * drift_px * progress, degrees=drift_deg * progress)
        frames.append(noisy(frame, rng))
    return np.stack(frames)


# ------------------------------------------------------------------------------------------------ optical flow


@pytest.mark.parametrize("method", ["tvl1", "dis"])
def test_flow_recovers_a_subpixel_shift(crop, method):
    moved = rigid(crop, dx=1.3, dy=-0.7)
    flow = motion.optical_flow(crop, moved, method)
    assert flow.shape == (*SIZE, 2) and flow.dtype == np.float32
    inner = flow[30:-30, 30:-30]
    assert np.median(inner[..., 0]) == pytest.approx(1.3, abs=0.1)
    assert np.median(inner[..., 1]) == pytest.approx(-0.7, abs=0.1)
    # a translation stretches nothing: its strain is ~0
    assert np.median(motion.optical_strain(flow)[30:-30, 30:-30]) < 0.03


@pytest.mark.parametrize("method", ["tvl1", "dis"])
def test_flow_recovers_a_local_warp(aligned, crop, method):
    """A 2 px smile at the mouth corners: right direction and size there, still elsewhere. (Both methods smooth a
    local bump like this a little: TV-L1 recovers ~80% of its height, DIS ~90%.)"""
    field = smile_field(aligned.landmarks, 2.0)
    flow = motion.optical_flow(crop, warp(crop, field), method)
    truth = true_flow(field)
    corners = np.hypot(*truth.transpose(2, 0, 1)) > 1.0
    error = np.hypot(*(flow - truth).transpose(2, 0, 1))
    ratio = np.median(np.linalg.norm(flow[corners], axis=1)) / np.median(np.linalg.norm(truth[corners], axis=1))
    assert 0.7 < ratio < 1.1
    assert np.median(error[corners]) < 0.45
    # direction: the flow points the way the corners moved
    cosine = (flow[corners] * truth[corners]).sum(1) / (
        np.linalg.norm(flow[corners], axis=1) * np.linalg.norm(truth[corners], axis=1) + 1e-6
    )
    assert np.median(cosine) > 0.9
    forehead = flow[20:60, 60:170]
    assert np.median(np.hypot(*forehead.transpose(2, 0, 1))) < 0.1
    strain = motion.optical_strain(flow)
    assert np.median(strain[corners]) > 5 * np.median(strain[20:60, 60:170])


def test_tvl1_is_as_accurate_as_opencv_defaults(aligned, crop):
    """The chosen parameters (see motion.TVL1_PARAMS) against OpenCV's defaults on a known warp."""
    field = smile_field(aligned.landmarks, 2.5) + bump(face.eye_centers(aligned.landmarks)[0], 15, (0.0, -1.5))
    rng = np.random.default_rng(1)
    first, second = noisy(crop, rng), noisy(warp(crop, field), rng)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (first, second)]
    defaults = cv2.optflow.DualTVL1OpticalFlow_create().calc(*gray, None)
    chosen = motion.tvl1_flow(first, second)
    regions = face.au_region_mask(aligned.landmarks) > 0

    truth = true_flow(field)

    def epe(flow):
        return float(np.hypot(*(flow - truth).transpose(2, 0, 1))[regions].mean())

    assert epe(chosen) < epe(defaults) + 0.02


def test_flow_refuses_images_of_different_sizes(crop):
    with pytest.raises(InputError):
        inputs.build_input(crop, crop[:100], face.FaceAligner().align([astronaut()]).landmarks)


def test_flow_picture(crop):
    right = motion.flow_to_rgb(np.dstack([np.full(SIZE, 2.0), np.zeros(SIZE)]).astype(np.float32))
    left = motion.flow_to_rgb(np.dstack([np.full(SIZE, -2.0), np.zeros(SIZE)]).astype(np.float32))
    still = motion.flow_to_rgb(np.zeros((*SIZE, 2), np.float32))
    assert right.shape == (*SIZE, 3) and right.dtype == np.uint8
    assert still.max() == 0 and right.max() == 255
    hue = [cv2.cvtColor(p[:1, :1], cv2.COLOR_RGB2HSV)[0, 0, 0] for p in (right, left)]
    assert abs(int(hue[0]) - int(hue[1])) == 90  # opposite directions: opposite hues (OpenCV hue is 0..179)


# ------------------------------------------------------------------------------------------------ model input


@pytest.mark.parametrize("modality", ["flow", "apex"])
def test_model_input(aligned, crop, modality):
    apex = warp(crop, smile_field(aligned.landmarks, 2.0))
    x = inputs.build_input(crop, apex, aligned.landmarks, modality=modality)
    assert x.shape == (4, *SIZE) and x.dtype == np.float32
    assert inputs.MODALITIES[modality].channels[3] == "au_mask"
    assert np.array_equal(x[3], face.au_region_mask(aligned.landmarks))
    if modality == "flow":
        x_mouth, y_mouth = aligned.landmarks[54].astype(int)
        assert x[0, y_mouth, x_mouth] > 0.7 and x[1, y_mouth, x_mouth] < -0.9  # right corner: right and up
    else:
        assert 0.0 <= x[:3].min() and x[:3].max() <= 1.0
    spec = inputs.MODALITIES[modality]
    z = inputs.normalize(x, spec.mean, spec.std)
    assert np.array_equal(z[3], x[3])  # the mask stays 0/1
    assert inputs.normalize(x[None], spec.mean, spec.std).shape == (1, 4, *SIZE)


def test_model_input_refuses_bad_settings(aligned, crop):
    with pytest.raises(InputError, match="modality"):
        inputs.build_input(crop, crop, aligned.landmarks, modality="depth")
    with pytest.raises(InputError, match="optical flow"):
        inputs.build_input(crop, crop, aligned.landmarks, flow="farneback")
    with pytest.raises(InputError, match="aligned"):
        inputs.build_input(astronaut(), astronaut(), aligned.landmarks)


# ------------------------------------------------------------------------------------------------ spotting


def spotted(frames, landmarks, fps):
    """The events of an aligned clip by the one spotting rule (what preprocessing's missing apex uses)."""
    from mer.spotting.spot import spot_aligned

    return spot_aligned(frames, landmarks, fps)[0]


@pytest.mark.parametrize("fps", [200, 30])
def test_spotting_finds_the_apex(aligned, crop, fps):
    from mer.spotting.spot import sample_apex

    frames = make_clip(crop, aligned.landmarks, fps, seconds=1.5, apex_s=0.9)
    curve = motion.motion_curve(frames, mask=face.spotting_mask(aligned.landmarks), fps=fps)
    assert curve.shape == (len(frames),) and curve[0] == 0
    found = spotted(frames, aligned.landmarks, fps)
    assert len(found) == 1, found
    assert abs(found[0].apex - round(0.9 * fps)) <= max(2, round(0.015 * fps))
    assert round(0.9 * fps) - round(0.3 * fps) <= found[0].onset < found[0].apex
    apex, note = sample_apex(frames, aligned.landmarks, fps)
    assert apex == found[0].apex and found[0].kind in note


def test_slow_head_drift_does_not_fool_the_spotting(aligned, crop):
    """3 px of drift and a 2 degree turn over 1.5 s, twice the 1.5 px smile in the middle."""
    fps = 100
    frames = make_clip(crop, aligned.landmarks, fps, 1.5, apex_s=0.6, amplitude=1.5, drift_px=3.0, drift_deg=2.0)
    found = spotted(frames, aligned.landmarks, fps)
    assert len(found) == 1 and abs(found[0].apex - 60) <= 2, found
    drift_only = make_clip(crop, aligned.landmarks, fps, 1.5, drift_px=3.0, drift_deg=2.0)
    assert spotted(drift_only, aligned.landmarks, fps) == []


def test_a_still_clip_has_no_movement(aligned, crop):
    from mer.spotting.spot import sample_apex

    frames = make_clip(crop, aligned.landmarks, 200, seconds=0.5)
    assert spotted(frames, aligned.landmarks, 200) == []
    apex, note = sample_apex(frames, aligned.landmarks, 200)
    assert "no movement stood out" in note and 0 <= apex < len(frames)


def test_a_blink_is_not_the_apex(aligned, crop):
    """The upper lids (and the skin above them) drop 6 px at 0.3 s, a blink; a 1.5 px smile comes at 0.8 s."""
    fps = 100
    frames = make_clip(crop, aligned.landmarks, fps, 1.2, apex_s=0.8, amplitude=1.5)
    landmarks = aligned.landmarks
    lids = sum(bump(landmarks[i], 8, (0.0, 3.0)) for i in (37, 38, 43, 44))
    for i in range(25, 36):  # 0.25-0.35 s
        frames[i] = warp(frames[i], lids * np.sin(np.pi * (i - 24) / 12))
    found = spotted(frames, landmarks, fps)
    assert [abs(e.apex - 80) <= 2 for e in found] == [True], found


def test_fps_stride_matches_the_full_curve(aligned, crop):
    frames = make_clip(crop, aligned.landmarks, 200, seconds=0.4, apex_s=0.2)
    mask = face.spotting_mask(aligned.landmarks)
    full = motion.motion_curve(frames, mask)
    strided = motion.motion_curve(frames, mask, fps=200)  # every 2nd frame measured, the rest interpolated
    # the head tracking takes other steps, so even the measured frames differ a little
    assert np.abs(full - strided).max() < 0.1 * full.max()
    assert abs(int(np.argmax(full)) - 40) <= 2 and abs(int(np.argmax(strided)) - 40) <= 2


# ------------------------------------------------------------------------------------ events (mer.spotting.events)


def course_bump(n: int, onset: int, apex: int, offset: int, height: float) -> np.ndarray:
    from mer.synth.motion import expression_course

    return height * expression_course(n, onset, apex, offset)


def test_every_movement_is_an_event_called_micro_or_macro_with_its_reason():
    from mer.spotting import events

    fps, n = 30.0, 90
    rng = np.random.default_rng(0)
    # a brief 1 px movement (0.2 s) and a 6 px expression held 1.5 s, on 0.02 px of noise
    curve = course_bump(n, 10, 13, 16, 1.0) + course_bump(n, 40, 52, 85, 6.0) + rng.normal(0, 0.02, n)
    found = events.find_events([(0, n, curve)], fps)
    assert [e.kind for e in found] == ["micro", "macro"]
    micro, macro = found
    assert 9 <= micro.onset <= 11 and micro.apex == 13 and 14 <= micro.offset <= 16
    assert micro.strength == pytest.approx(1.0, abs=0.1)
    assert micro.reason.startswith("micro: lasts at most 0.5 s")
    assert 39 <= macro.onset <= 44 and 50 <= macro.apex <= 54 and 75 <= macro.offset <= 86
    assert macro.reason.startswith("macro: moves more than 4 px")
    keys = ["onset", "apex", "offset", "start_s", "end_s", "kind", "strength", "reason", "signal", "region"]
    assert list(macro.to_json(fps)) == keys
    assert list(micro.to_json(fps)) == keys  # the answer adds its label and probabilities (Prediction.events_json)
    assert micro.to_json(fps)["start_s"] == pytest.approx(micro.onset / fps, abs=1e-4)


@pytest.mark.parametrize("fps", [5.0, 10.0, 30.0])
def test_a_window_that_starts_on_a_falling_face_has_no_event_before_its_first_frame(fps):
    from mer.spotting import events

    # the face moved back to rest from the window's first frame on: a movement that began before the window (the
    # live page's slowed-down stream met this at 5 frames a second, and an onset of -1 stopped its analysis)
    for n in (5, 8, 15):
        curve = np.r_[0.0, np.linspace(3.0, 0.0, n - 1)]
        found = events.peaks(curve, fps)
        assert all(0 <= e.onset < e.apex <= e.offset < n for e in found), [(e.onset, e.apex, e.offset) for e in found]


def test_a_small_slow_movement_is_macro_and_a_fast_onset_is_micro():
    from mer.spotting import events

    fps = 100.0
    slow = events.classify(events.Event(0, 40, 90, 1.0), fps)  # 0.9 s, apex after 0.4 s
    assert slow.kind == "macro" and "takes over 0.25 s" in slow.reason
    fast = events.classify(events.Event(0, 20, 90, 1.0), fps)  # 0.9 s but apex after 0.2 s (CASME II's rule)
    assert fast.kind == "micro" and "reaches its apex within 0.25 s" in fast.reason


def test_a_still_clip_has_no_event_and_windows_cover_long_runs():
    from mer.spotting import events

    rng = np.random.default_rng(1)
    assert events.find_events([(0, 60, 0.3 + rng.normal(0, 0.02, 60))], 30.0) == []
    spans = events.windows(10, 400, 30.0)
    assert spans[0] == (10, 100) and spans[-1] == (310, 400)
    assert all(b - a == 90 for a, b in spans)
    # consecutive windows overlap by 1 s: a micro-expression (<= 0.5 s) lies whole inside one of them
    assert all(b1 - a2 == 30 for (_, b1), (a2, _) in zip(spans, spans[1:-1], strict=False))


def test_one_event_seen_in_two_windows_is_kept_once():
    from mer.spotting import events

    a, b = events.Event(10, 13, 16, 1.0), events.Event(11, 13, 17, 1.2)
    assert events.merge([a, b]) == [b]
    assert len(events.merge([a, events.Event(40, 45, 50, 0.5)])) == 2


def test_summary_in_plain_words():
    from mer.spotting import events

    macro = [events.Event(30, 36, 80, 6.0, "macro"), events.Event(90, 102, 150, 5.0, "macro")]
    assert events.summary(macro, 30.0, None) == "no micro-expression found; two ordinary expressions at 1.2 s and 3.4 s"
    micro = events.Event(5, 9, 12, 1.0, "micro")
    text = events.summary([micro, *macro], 30.0, micro, "happiness", 0.7)
    assert text.startswith("one micro-expression at 0.3 s; the clearest, at 0.3 s, looks like happiness (70%)")
