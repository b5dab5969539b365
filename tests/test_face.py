"""Face detection, alignment and AU regions on real photos (scikit-image's astronaut, public domain (NASA);
matplotlib's sample grace_hopper.jpg). The face model is MediaPipe's face mesh (see tests/test_mesh.py for how its
landmarks compare with dlib's)."""

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from mer.errors import InputError
from mer.spotting import face


@pytest.fixture(scope="module")
def photos():
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    return {"astronaut": astronaut(), "hopper": hopper}


@pytest.fixture(scope="module")
def aligned(photos):
    return {name: face.FaceAligner().align([image], name=name) for name, image in photos.items()}


def inside(polygon, point):
    return cv2.pointPolygonTest(np.asarray(polygon, np.float32).reshape(-1, 1, 2), tuple(map(float, point)), False) >= 0


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_landmarks_on_a_real_face(photos, name):
    landmarks, faces = face.detect_landmarks(photos[name])
    assert landmarks.shape == (68, 2) and faces == 1
    left, right = face.eye_centers(landmarks)
    assert left[0] < right[0]  # image-left eye first
    assert landmarks[8, 1] > landmarks[33, 1] > left[1]  # chin below the nose below the eyes


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_alignment_levels_the_eyes_and_keeps_the_whole_face(aligned, name):
    clip = aligned[name]
    assert clip.frames.shape == (1, *face.CROP_HW, 3) and clip.frames.dtype == np.uint8
    left, right = face.eye_centers(clip.landmarks)
    assert abs(left[1] - right[1]) < 0.5
    assert np.hypot(*(right - left)) == pytest.approx(face.EYE_DISTANCE, abs=0.5)
    assert (left + right) / 2 == pytest.approx(np.array(face.EYE_CENTER), abs=0.5)
    height, width = face.CROP_HW
    # brows, jaw and chin all inside the crop, with some room
    assert clip.landmarks[:, 0].min() > 5 and clip.landmarks[:, 0].max() < width - 5
    assert clip.landmarks[17:27, 1].min() > 40 and clip.landmarks[:, 1].max() < height - 10


def test_one_transform_for_every_frame(photos):
    """A head that moves after the reference frame moves in the crop too: no per-frame re-detection, no jitter."""
    image = photos["hopper"]
    translate = np.float32([[1, 0, 6], [0, 1, -4]])
    moved = cv2.warpAffine(image, translate, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    clip = face.FaceAligner().align([image, moved, image], ref=0)
    again = cv2.warpAffine(moved, clip.transform, face.CROP_HW[::-1], borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(clip.frames[1], again)
    assert np.array_equal(clip.frames[0], clip.frames[2])
    shift, _ = cv2.phaseCorrelate(*(np.float32(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for f in clip.frames[:2]))
    scale = np.hypot(*clip.transform[:, 0])
    assert np.hypot(*shift) == pytest.approx(scale * np.hypot(6, 4), abs=0.5)


def test_a_tilted_face_comes_out_level(photos):
    image = photos["astronaut"]
    h, w = image.shape[:2]
    tilted = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0), (w, h))
    clip = face.FaceAligner().align([tilted])
    left, right = face.eye_centers(clip.landmarks)
    assert abs(left[1] - right[1]) < 1.0


def test_large_frames_are_downscaled_for_detection(photos):
    image = photos["hopper"]
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # 1536 x 1800
    small_landmarks, _ = face.detect_landmarks(image)
    big_landmarks, faces = face.detect_landmarks(big)
    assert faces == 1
    # the same face, mapped back to full resolution: landmarks agree to a few percent of the eye distance (the
    # detector's box, from which the landmark search starts, differs a little with the detection scale)
    eye_distance = np.hypot(*np.subtract(*face.eye_centers(small_landmarks)))
    assert np.median(np.hypot(*(big_landmarks / 3 - small_landmarks).T)) < 0.05 * eye_distance
    for small_eye, big_eye in zip(face.eye_centers(small_landmarks), face.eye_centers(big_landmarks), strict=True):
        assert np.hypot(*(big_eye / 3 - small_eye)) < 0.1 * eye_distance


def test_no_face_names_the_sample_and_frame():
    grey = np.full((240, 320, 3), 128, np.uint8)
    with pytest.raises(InputError, match=r"no face found in sub01/EP02_01f \(frame 3\)"):
        face.FaceAligner().align([grey] * 5, ref=3, name="sub01/EP02_01f")


def test_several_faces_take_the_largest_and_say_so(photos):
    big = photos["hopper"][80:400, 130:420]  # face ~185 px wide
    small = photos["astronaut"][20:260, 110:330]  # face ~90 px wide
    canvas = np.full((320, 510, 3), 200, np.uint8)
    canvas[:, :290] = big
    canvas[40:280, 290:] = small
    clip = face.FaceAligner().align([canvas], name="two people")
    assert clip.faces_found == 2
    assert any("2 faces" in note and "largest" in note for note in clip.notes)
    # the crop holds Grace Hopper: her landmarks, mapped through the transform, are the crop's landmarks
    hopper_landmarks, _ = face.detect_landmarks(big)
    assert np.abs(face.transform_points(hopper_landmarks, clip.transform) - clip.landmarks).max() < 3.0


def test_frames_of_different_sizes_are_refused(photos):
    with pytest.raises(InputError, match="one size"):
        face.FaceAligner().align([photos["hopper"], photos["astronaut"]], name="mixed")


def test_au_regions_cover_their_features(aligned):
    landmarks = aligned["hopper"].landmarks
    regions = face.au_regions(landmarks)
    assert tuple(regions) == face.AU_REGION_NAMES == ("ocular_brow", "oral", "mandibular", "cheek", "nasal")
    left, right = face.eye_centers(landmarks)
    assert inside(regions["ocular_brow"], left) and inside(regions["ocular_brow"], landmarks[19])
    assert inside(regions["ocular_brow"], (landmarks[21] + landmarks[22]) / 2)  # glabella (AU4)
    assert all(inside(regions["oral"], landmarks[i]) for i in (48, 51, 54, 57))
    assert inside(regions["mandibular"], (landmarks[57] + landmarks[8]) / 2)
    assert inside(regions["nasal"], landmarks[30]) and inside(regions["nasal"], landmarks[31])
    below_eye = (landmarks[41] + landmarks[2]) / 2
    assert inside(regions["cheek"], below_eye)
    assert not inside(regions["oral"], left) and not inside(regions["mandibular"], landmarks[30])


def test_masks_are_the_union_of_the_regions(aligned):
    landmarks = aligned["astronaut"].landmarks
    masks = face.au_region_masks(landmarks)
    union = face.au_region_mask(landmarks)
    assert union.shape == face.CROP_HW and union.dtype == np.float32
    assert set(np.unique(union)) == {0.0, 1.0}
    assert np.array_equal(union, np.max(np.stack(list(masks.values())), axis=0))  # overlaps stay in
    assert 0.25 < union.mean() < 0.6
    assert all(m.sum() > 300 for m in masks.values())
    spotting = face.spotting_mask(landmarks)
    left, right = face.eye_centers(landmarks)
    assert spotting[int(left[1]), int(left[0])] == 0 and spotting[int(right[1]), int(right[0])] == 0
    x, y = landmarks[51]
    assert spotting[int(y), int(x)] == 1 and np.all(spotting <= union)


def test_the_face_is_followed_from_the_first_frame_that_has_one(photos):
    """Grey frames, then the astronaut moving right by 2 px a frame, then grey again: presence per frame is exact
    and the landmarks follow the face."""
    from mer.spotting.track import follow_transforms, track_face

    photo = photos["astronaut"]
    grey = np.full_like(photo, 128)
    moving = [np.roll(photo, 2 * i, axis=1) for i in range(12)]
    frames = [grey] * 7 + moving + [grey] * 5
    followed = track_face(frames, fps=30.0, name="the test clip")
    assert followed.runs() == [(7, 19)] and followed.first == 7
    assert np.isnan(followed.landmarks[:7]).all() and np.isnan(followed.landmarks[19:]).all()
    shift = followed.landmarks[18].mean(axis=0) - followed.landmarks[7].mean(axis=0)
    assert shift[0] == pytest.approx(22.0, abs=2.0) and abs(shift[1]) < 2.0
    assert any("until frame 7" in note for note in followed.notes)
    assert any("leaves the test clip after frame 18" in note for note in followed.notes)
    transforms = follow_transforms(followed, fps=30.0)
    assert np.isnan(transforms[:7]).all() and np.isfinite(transforms[7:19]).all()


def test_no_face_in_any_frame_is_an_input_error():
    from mer.spotting.track import track_face

    with pytest.raises(InputError, match="no face found in the grey clip"):
        track_face([np.full((120, 160, 3), 128, np.uint8)] * 4, fps=30.0, name="the grey clip")


def test_given_landmarks_skip_the_detection(photos, aligned):
    known = face.detect_landmarks(photos["astronaut"])[0]
    again = face.FaceAligner().align([photos["astronaut"]], landmarks=known)
    assert np.allclose(again.transform, aligned["astronaut"].transform)


def test_landmarks_in_a_known_box_match_the_detected_ones(photos):
    """The tracker's path (a box from detect_faces, possibly interpolated, then the mesh in it) lands where
    detect_landmarks does, also from a box shifted by a tenth of its size."""
    image = photos["hopper"]
    landmarks, _ = face.detect_landmarks(image)
    left, top, right, bottom = face.detect_faces(image)[0]
    shift = 0.1 * (right - left)
    for box in [(left, top, right, bottom), (left + shift, top - shift, right + shift, bottom - shift)]:
        in_box = face.landmarks_in_box(image, box)
        assert in_box.shape == (68, 2) and in_box.dtype == np.float32
        assert np.hypot(*(in_box - landmarks).T).mean() < 0.03 * face.EYE_DISTANCE
    grey = np.full_like(image, 128)
    assert face.mesh_in_box(grey, (left, top, right, bottom)).score < face.MIN_FACE_SCORE


def test_eye_centres_are_the_corners_so_a_closing_lid_does_not_move_them(photos):
    landmarks, _ = face.detect_landmarks(photos["astronaut"])
    left, right = face.eye_centers(landmarks)
    assert np.allclose(left, landmarks[[36, 39]].mean(0)) and np.allclose(right, landmarks[[42, 45]].mean(0))
    closed = landmarks.copy()
    closed[[37, 38, 43, 44]] = closed[[41, 40, 47, 46]]  # upper lids down on the lower ones
    assert np.allclose(face.eye_centers(closed), (left, right))
    assert np.all(face.eyelid_openness(closed) < 0.05) and np.all(face.eyelid_openness(landmarks) > 0.2)
    fitted, _ = face.detect_mesh(photos["astronaut"])
    assert np.allclose(face.eye_centers(fitted.points), (left, right), atol=0.01)  # the same corners


def test_eyelid_openness_reads_the_same_from_the_mesh_and_its_68_points(photos):
    for image in photos.values():
        fitted, _ = face.detect_mesh(image)
        from_mesh = face.eyelid_openness(fitted.points)
        assert np.allclose(face.eyelid_openness(fitted.points[:, :2]), from_mesh)  # z plays no part
        assert from_mesh.shape == (2,) and np.all((0.2 < from_mesh) & (from_mesh < 0.4))
        assert np.abs(face.eyelid_openness(fitted.points[list(face.mesh.MESH_68), :2]) - from_mesh).max() < 0.03


def test_the_nose_is_the_head_motion_reference(aligned):
    clip = aligned["hopper"]
    landmarks = clip.landmarks
    anchor = face.nose_anchor(landmarks)
    left, right = face.eye_centers(landmarks)
    assert left[0] < anchor[0] < right[0] and (left[1] + right[1]) / 2 < anchor[1] < landmarks[33, 1]
    nose = face.nose_mask(landmarks)
    assert nose.shape == face.CROP_HW and set(np.unique(nose)) == {0.0, 1.0}
    x, y = landmarks[30]
    assert nose[int(y), int(x)] == 1
    regions = face.au_regions(landmarks)
    oral = face.au_region_masks(landmarks)["oral"]
    assert (oral * nose).sum() < 0.1 * nose.sum()  # no lip skin in it (the cheek band crosses the nose by design)
    assert inside(face.nose_region(landmarks), anchor) and inside(regions["nasal"], anchor)


def test_the_nose_anchored_similarity_follows_the_nose(photos):
    landmarks, _ = face.detect_landmarks(photos["astronaut"])
    left, right = face.eye_centers(landmarks)
    nose = face.nose_anchor(landmarks)
    eyes_only = face.similarity_from_eyes(left, right)
    nose_at = face.transform_points(nose[None], eyes_only)[0]
    assert np.allclose(face.similarity_from_nose(left, right, nose, nose_at), eyes_only)
    # the eyes blink down 3 px, the nose stays: the crop does not move (roll and scale barely change)
    moved = face.similarity_from_nose(left + [0, 3], right + [0, 3], nose, nose_at)
    assert np.allclose(face.transform_points(nose[None], moved), nose_at[None], atol=1e-4)
    assert np.allclose(moved[:, :2], eyes_only[:, :2])


def test_part_masks_from_the_mesh_and_from_its_68_points_agree(photos):
    """The nine parts (left and right apart) hold their features and cover about the same pixels whether read from
    the mesh or from its 68 layout."""
    clip = face.FaceAligner().align([photos["hopper"]])
    fitted, _ = face.detect_mesh(clip.frames[0])
    from_mesh = face.part_masks(fitted.points)
    from_68 = face.part_masks(clip.landmarks)
    assert list(from_mesh) == list(from_68) == [
        "brow_right", "brow_left", "eye_right", "eye_left", "cheek_right", "cheek_left", "nose", "mouth", "chin",
    ]  # fmt: skip
    for name in from_mesh:
        a, b = from_mesh[name], from_68[name]
        assert a.shape == face.CROP_HW and a.sum() > 40 and b.sum() > 40, name
        assert (a * b).sum() / np.maximum(a, b).sum() > 0.4, name  # IoU of the two readings (measured 0.47-0.95)
    landmarks = clip.landmarks
    for parts in (from_mesh, from_68):
        for name, point in (("nose", landmarks[30]), ("mouth", (landmarks[62] + landmarks[66]) / 2)):
            assert parts[name][int(point[1]), int(point[0])] == 1, name
        x_right = np.nonzero(parts["cheek_right"].any(axis=0))[0].mean()
        x_left = np.nonzero(parts["cheek_left"].any(axis=0))[0].mean()
        assert x_right < landmarks[30, 0] < x_left  # the person's right on the image's left
