"""The Predictor end to end on clips written here, with a checkpoint saved here (random weights)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import timm
import torch

import mer  # noqa: F401  (registers mer_* in timm)
from mer.engine.checkpoint import card_for, save_checkpoint
from mer.errors import InputError
from mer.explain import explain
from mer.inference import DEFAULT_CHECKPOINT, Predictor
from mer.spec import CASME2_5
from mer.spotting.source import Clip

N_FRAMES, APEX = 30, 18


def micro_clip(n: int = N_FRAMES, apex: int = APEX, fps: float = 200.0) -> Clip:
    """A real face photograph (scikit-image's astronaut) with a 2-pixel lift of the mouth corners that rises
    from frame n//4 to ``apex`` and falls back after it: a micro-expression-sized movement."""
    from mer.synth.real_media import astronaut_lift_frames

    frames = astronaut_lift_frames(n, onset=n // 4, apex=apex, offset=n - 1, lift_px=2.0)
    return Clip(frames=frames, fps=fps, source="astronaut_micro.mp4")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = timm.create_model("mer_dbfem_caffm", num_classes=len(CASME2_5))
    path = tmp_path_factory.mktemp("ckpt") / "random_caffm.safetensors"
    card = card_for(model, CASME2_5, preprocessing={"flow": "tvl1"}, dataset="none (random weights)", synthetic=True,
                    note="random weights, made by the tests")  # fmt: skip
    return save_checkpoint(model, path, card)


@pytest.fixture(scope="module")
def predictor(checkpoint):
    return Predictor.from_checkpoint(checkpoint)


@pytest.fixture(scope="module")
def clip():
    return micro_clip()


@pytest.fixture(scope="module")
def prediction(predictor, clip):
    return predictor(clip)


def test_probabilities_come_from_the_card_and_sum_to_one(prediction, predictor):
    assert list(prediction.probabilities) == list(predictor.card["class_names"]) == list(CASME2_5)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= p <= 1.0 for p in prediction.probabilities.values())
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)


def test_answer_equals_a_plain_forward_of_the_model_input(prediction, predictor):
    # the explained forward (with Grad-CAM hooks) must give the same answer as the bare model
    # (in the predictor's own variant: bf16 + channels_last where the CPU has native bf16)
    from mer.engine.device import autocast

    x = (prediction.model_input - predictor.mean[:, None, None]) / predictor.std[:, None, None]
    variant = predictor.variant
    with torch.inference_mode(), autocast(predictor.device, variant.precision):
        logits = predictor.model(variant.input(torch.from_numpy(x)[None])).float()
    probs = torch.softmax(logits / predictor.temperature, dim=1)[0].numpy()
    tolerance = 1e-5 if variant.precision == "fp32" else 2e-2  # Grad-CAM's float32 leaves round differently
    assert np.allclose(probs, list(prediction.probabilities.values()), atol=tolerance)


def test_aligned_frames_input_and_flow(prediction, clip):
    assert prediction.frame_count == len(clip)
    assert prediction.face_crop.shape == (282, 231, 3) and prediction.face_crop.dtype == np.uint8
    kept = [crop for pair in prediction.crops.values() for crop in pair.values()]
    assert kept and all(c.shape == (282, 231, 3) and c.dtype == np.uint8 for c in kept)
    assert prediction.model_input.shape == (4, 282, 231) and prediction.model_input.dtype == np.float32
    mask = prediction.model_input[3]
    assert set(np.unique(mask)) == {0.0, 1.0} and 0.05 < mask.mean() < 0.8
    assert prediction.flow_rgb.shape == (282, 231, 3) and prediction.flow_rgb.dtype == np.uint8
    assert prediction.motion_curve.shape == (len(clip),)
    assert 0 <= prediction.onset < prediction.apex < len(clip)
    assert prediction.fps == 200.0


def test_gradcam_per_branch(prediction):
    assert set(prediction.gradcam) == {"global", "local"}
    for heat in prediction.gradcam.values():
        assert heat.shape == (282, 231) and heat.dtype == np.float32
        assert heat.min() >= 0.0 and heat.max() <= 1.0


def test_cbam_maps_of_the_fusion(prediction, predictor):
    names = [name for name, _ in predictor.model.fusion_cbams()]
    assert len(names) >= 5  # the paper's three + two CBAMs, at least
    assert list(prediction.cbam) == names and list(prediction.cbam_channel) == names
    for name in names:
        spatial, channel = prediction.cbam[name], prediction.cbam_channel[name]
        assert spatial.shape == (282, 231) and 0.0 <= spatial.min() and spatial.max() <= 1.0
        assert channel.ndim == 1 and 0.0 <= channel.min() and channel.max() <= 1.0


def test_overlays_on_the_apex_frame(prediction):
    assert len(prediction.overlays) == 2 + len(prediction.cbam)
    assert list(prediction.overlays)[:2] == ["gradcam_global", "gradcam_local"]
    assert list(prediction.overlays) == list(prediction.raw_maps) == list(prediction.overlay_captions)
    captions = list(prediction.overlay_captions.values())
    assert "global branch" in captions[0] and "local branch" in captions[1]
    for image in prediction.overlays.values():
        assert image.shape == (282, 231, 3) and image.dtype == np.uint8
        # a blend of the apex frame and a heat map, not the heat map alone
        assert np.abs(image.astype(int) - prediction.crops[prediction.salient]["apex"]).mean() < 120


def test_timings_and_json(prediction):
    for stage in ("align", "spot", "input", "model", "gradcam", "overlays", "total"):
        assert prediction.timings[stage] >= 0.0
    assert prediction.timings["total"] >= prediction.timings["model"]
    info = json.loads(json.dumps(prediction.to_json()))
    assert info["label"] == prediction.label and info["onset_apex"] == "spotted"
    assert info["checkpoint"]["note"] == "random weights, made by the tests"
    assert info["checkpoint"]["synthetic"] is True


def test_given_onset_and_apex_are_used(predictor, clip):
    pred = predictor(clip, onset=2, apex=APEX, explain=False)
    assert (pred.onset, pred.apex) == (2, APEX)
    assert pred.gradcam == {} and pred.timings["gradcam"] == 0.0
    assert sum(pred.probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("onset, apex", [(5, 5), (10, 4), (-1, 3), (0, N_FRAMES), (3, None), (None, 3)])
def test_invalid_onset_apex(predictor, clip, onset, apex):
    pattern = r"0 <= onset < apex <= 29|both"
    with pytest.raises(InputError, match=pattern):
        predictor(clip, onset=onset, apex=apex)


def test_clip_without_a_face(predictor):
    grey = Clip(frames=[np.full((240, 320, 3), 128, np.uint8) for _ in range(6)], fps=30.0, source="grey.mp4")
    with pytest.raises(InputError, match="no face found"):
        predictor(grey)


def test_predictor_reads_a_video_file(predictor, tmp_path):
    frames = micro_clip(n=12, apex=8).frames
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (320, 240))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    pred = predictor(path)
    assert pred.fps == 30.0 and pred.frame_count == len(pred.times) == 12 and pred.timings["read"] > 0.0


def test_models_without_fusion_give_no_cbam_maps():
    model = timm.create_model("mer_gfem", num_classes=3).eval()
    expl = explain(model, torch.randn(1, 4, 282, 231))
    assert list(expl.gradcam) == ["global"] and expl.cbam_spatial == {}
    assert expl.logits.shape == (3,)


def test_checkpoint_failures_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Predictor.from_checkpoint(tmp_path / "missing.safetensors")
    pickled = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, pickled)
    with pytest.raises(InputError, match="pickle"):
        Predictor.from_checkpoint(pickled)
    assert DEFAULT_CHECKPOINT.name == "mer_dbfem_caffm.realfaces" and DEFAULT_CHECKPOINT.parent.name in {
        "checkpoints",
        "weights",
    }


def test_the_shipped_checkpoint_names_each_example_clip_and_says_it_is_synthetic():
    """The demo weights against the demo's example clips (synthetic subjects it never trained on)."""
    assert (DEFAULT_CHECKPOINT / "model.safetensors").stat().st_size <= 20 * 2**20
    predictor = Predictor.from_checkpoint()
    card = predictor.card
    assert card["synthetic"] is True and "synthetic" in card["metrics"]["data_source"]
    # its figures come from subjects that chose nothing: the test subjects are neither trained on nor validated on
    protocol = card["protocol"]
    seen = set(protocol["train_subjects"]) | set(protocol.get("val_subjects", []))
    assert not set(protocol["test_subjects"]) & seen
    assert card["metrics"]["n"] == protocol["samples"]["test"] and card["metrics"]["accuracy"] > 0.2  # above chance
    clips = sorted((Path(__file__).resolve().parents[1] / "examples").glob("synthetic_*.webm"))
    assert len(clips) == 4
    for clip in clips:
        assert predictor(clip).label == clip.stem.removeprefix("synthetic_"), clip.name


EVENT_KEYS = ["onset", "apex", "offset", "start_s", "end_s", "kind", "strength", "reason", "signal", "region"]


def test_the_micro_movement_is_one_micro_event_with_the_answer(prediction, clip):
    info = json.loads(json.dumps(prediction.to_json()))
    micro = [e for e in info["events"] if e["kind"] == "micro"]
    assert len(micro) == 1
    event = micro[0]
    assert list(event) == [*EVENT_KEYS, "label", "probabilities"]
    assert event["onset"] < APEX + 3 and abs(event["apex"] - APEX) <= 3 and event["offset"] > event["apex"]
    assert event["label"] == info["label"] == prediction.label
    assert event["probabilities"] == pytest.approx(info["probabilities"], abs=1e-6)
    assert event["start_s"] == pytest.approx(event["onset"] / 200.0, abs=1e-4)
    assert (prediction.onset, prediction.apex) == (event["onset"], event["apex"])
    assert info["summary"].startswith("one micro-expression at ")
    assert info["face_frames"] == [[0, len(clip) - 1]] and prediction.face_present.all()
    assert info["index"]["convention"] == "position"
    assert np.isfinite(prediction.curve).all() and prediction.curve is prediction.motion_curve


def test_the_cards_calibration_temperature_divides_the_logits(checkpoint, clip):
    from mer.engine.checkpoint import load_checkpoint

    model, card = load_checkpoint(checkpoint)
    plain = Predictor(model, card)(clip, onset=2, apex=APEX, explain=False)
    hot = Predictor(model, {**card, "calibration": {"temperature": 3.0}})(clip, onset=2, apex=APEX, explain=False)
    logits = np.log(np.array(list(plain.probabilities.values())))
    expected = np.exp(logits / 3.0) / np.exp(logits / 3.0).sum()
    assert np.allclose(list(hot.probabilities.values()), expected, atol=1e-5)
    assert hot.to_json()["calibration"] == {
        "temperature": 3.0,
        "calibrated": True,
        "note": "probabilities calibrated by temperature scaling (from the checkpoint's card)",
    }
    assert plain.to_json()["calibration"]["calibrated"] is False and plain.temperature == 1.0
    assert [e.reason for e in plain.events] == ["micro: onset and apex given"]
