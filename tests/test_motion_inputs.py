"""Faces, optical flow, strain, the motion curve and spotting, on a real face photo (scikit-image's astronaut)."""

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from mer.data import face, inputs, motion
from mer.errors import InputError


@pytest.fixture(scope="module")
def aligned():
    image = cv2.resize(astronaut(), (512, 512))
    return face.FaceAligner().align([image, image], ref=0)


def shifted(image, dx, dy):
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, xx - dx, yy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_alignment_levels_the_eyes_at_fixed_distance(aligned):
    assert aligned.frames.shape == (2, 282, 231, 3)
    left, right = face.eye_centers(aligned.landmarks)
    assert abs(left[1] - right[1]) < 1.0
    assert abs(np.hypot(*(right - left)) - face.EYE_DISTANCE) < 1.0


def test_no_face_is_a_clear_error():
    with pytest.raises(InputError, match="face"):
        face.FaceAligner().align([np.full((240, 320, 3), 128, np.uint8)] * 2, name="grey clip")


@pytest.mark.parametrize("method", ["tvl1", "dis"])
def test_flow_recovers_a_subpixel_shift(aligned, method):
    first = aligned.frames[0]
    flow = motion.optical_flow(first, shifted(first, 1.5, -0.5), method)
    inner = flow[30:-30, 30:-30]
    assert np.median(inner[..., 0]) == pytest.approx(1.5, abs=0.15)
    assert np.median(inner[..., 1]) == pytest.approx(-0.5, abs=0.15)
    # a pure translation has (almost) no strain
    assert np.median(motion.optical_strain(flow)[30:-30, 30:-30]) < 0.05


def test_flow_picture_is_rgb_and_dark_for_no_motion(aligned):
    still = motion.flow_to_rgb(np.zeros((282, 231, 2), np.float32))
    moving = motion.flow_to_rgb(np.full((282, 231, 2), 2.0, np.float32))
    assert still.shape == (282, 231, 3) and still.dtype == np.uint8
    assert still.max() == 0 and moving.max() > 200


@pytest.mark.parametrize("modality", ["flow", "apex"])
def test_build_input_shape_and_mask(aligned, modality):
    x = inputs.build_input(aligned.frames[0], shifted(aligned.frames[0], 1, 0), aligned.landmarks, modality)
    assert x.shape == (4, 282, 231) and x.dtype == np.float32
    assert set(np.unique(x[3])) <= {0.0, 1.0} and 0.1 < x[3].mean() < 0.7
    assert inputs.MODALITIES[modality].channels[3] == "au_mask"
    z = inputs.normalize(x, inputs.MODALITIES[modality].mean, inputs.MODALITIES[modality].std)
    assert np.array_equal(z[3], x[3])  # the mask survives normalisation


def bump_clip(aligned, fps, apex_s, drift_px=0.0, amplitude=2.0):
    """A clip whose AU regions move by a smooth bump peaking at apex_s seconds, over optional slow head drift."""
    first = aligned.frames[0]
    h, w = first.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = cv2.GaussianBlur(face.spotting_mask(aligned.landmarks), (0, 0), 5)
    count = int(round(fps * 1.0))
    width_s = 0.06
    frames = []
    for i in range(count):
        t = i / fps
        a = amplitude * np.exp(-(((t - apex_s) / width_s) ** 2))
        drift = drift_px * i / count
        map_x = (xx - a * field - drift).astype(np.float32)
        map_y = (yy - 0.5 * a * field).astype(np.float32)
        frames.append(cv2.remap(first, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(frames)


@pytest.mark.parametrize("fps", [200, 30])
def test_spotting_finds_the_apex(aligned, fps):
    frames = bump_clip(aligned, fps, apex_s=0.5, drift_px=1.5)
    curve = motion.motion_curve(frames, mask=face.spotting_mask(aligned.landmarks))
    spotted = motion.spot(curve, fps)
    assert spotted.clear
    assert abs(spotted.apex - round(0.5 * fps)) <= max(3, round(0.015 * fps))
    assert spotted.onset < spotted.apex


def test_still_clip_reports_no_clear_motion(aligned):
    rng = np.random.default_rng(0)
    frames = np.stack([np.clip(aligned.frames[0] + rng.normal(0, 1.0, aligned.frames[0].shape), 0, 255)
                       .astype(np.uint8) for _ in range(40)])
    spotted = motion.spot(motion.motion_curve(frames, mask=face.spotting_mask(aligned.landmarks)), 200)
    assert not spotted.clear
    assert "no clear motion" in spotted.note
    assert 0 <= spotted.onset < spotted.apex < 40
