"""A clip in, an explained answer out: the Predictor and the ``mer predict`` command.

read clip -> find the face and its 68 landmarks on one frame -> one similarity transform for every frame ->
282 x 231 crops -> motion curve in the AU regions -> onset and apex (spotted, or given) -> model input
(onset->apex optical flow or the apex frame, plus the AU-region mask) -> model -> softmax over the card's
class names -> Grad-CAM per branch and the fusion's CBAM maps -> overlays on the apex frame.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mer.data.clip import MAX_SIDE, Clip, read_clip
from mer.errors import InputError
from mer.spec import MAX_FRAMES
from mer.weights import DEMO_CHECKPOINT as DEFAULT_CHECKPOINT

STAGES = ("read", "align", "spot", "input", "model", "gradcam", "overlays")  # keys of Prediction.timings


@dataclass
class Prediction:
    """The answer for one clip, with everything needed to show how it was reached.

    label: the most probable class; probabilities: class name -> probability (sums to 1), in the card's order.
    onset, apex: frame indices into the clip as read (counting from 0); fps: the clip's frame rate.
    motion_curve: (N,) motion of the AU regions per frame (arbitrary units).
    spotting_note: how onset/apex were found.
    frames: (N, 282, 231, 3) uint8 RGB aligned face crops.
    model_input: (4, 282, 231) float32 unnormalised model input.
    gradcam: branch ("global", "local") -> (282, 231) float32 in [0, 1] for the predicted class.
    cbam: fusion CBAM name -> (282, 231) float32 spatial attention in [0, 1].
    cbam_channel: name -> (C,) channel attention in [0, 1].
    overlays: caption -> RGB uint8 (282, 231, 3) heat map on the aligned apex frame.
    flow_rgb: (282, 231, 3) uint8 onset->apex optical flow (hue = direction, brightness = magnitude).
    timings: stage -> seconds (read, align, spot, input, model, gradcam, overlays, total).
    notes: what the user should know (downscaled, limited, assumed fps, several faces, ...).
    card: the checkpoint's model card; checkpoint: its path; source: the clip's path.
    """

    label: str
    probabilities: dict[str, float]
    onset: int
    apex: int
    fps: float
    motion_curve: np.ndarray
    spotting_note: str
    frames: np.ndarray
    model_input: np.ndarray
    gradcam: dict[str, np.ndarray]
    cbam: dict[str, np.ndarray]
    overlays: dict[str, np.ndarray]
    flow_rgb: np.ndarray
    timings: dict[str, float]
    notes: list[str]
    card: dict[str, Any]
    cbam_channel: dict[str, np.ndarray] = field(default_factory=dict)
    checkpoint: str | None = None
    source: str = ""
    onset_apex_given: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: label, probabilities, onset, apex, fps, timings, notes, checkpoint provenance."""
        card = self.card
        metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
        return {
            "label": self.label,
            "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
            "onset": int(self.onset),
            "apex": int(self.apex),
            "onset_apex": "given" if self.onset_apex_given else "spotted",
            "spotting_note": self.spotting_note,
            "fps": float(self.fps),
            "frames": int(len(self.frames)),
            "source": self.source,
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "notes": list(self.notes),
            "checkpoint": {
                "path": self.checkpoint,
                "architecture": card.get("architecture"),
                "class_names": list(card.get("class_names", [])),
                "modality": card.get("input", {}).get("modality"),
                "dataset": card.get("dataset"),
                "protocol": card.get("protocol"),
                "data_source": metrics.get("data_source"),
                "synthetic": card.get("synthetic"),
                "note": card.get("note"),
                "code_version": card.get("code_version"),
            },
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


class Predictor:
    """Loads a model once and turns clips into :class:`Prediction` objects.

    >>> predictor = Predictor.from_checkpoint()           # the shipped demo checkpoint
    >>> pred = predictor("clip.mp4")                      # or a Clip from mer.data.clip.read_clip
    >>> pred.label, pred.probabilities, pred.apex

    Calls are serialised by a lock (the explanation hooks live on the shared model).
    """

    def __init__(
        self,
        model: Any,
        card: dict[str, Any],
        checkpoint: str | Path | None = None,
        device: str = "cpu",
        max_frames: int = MAX_FRAMES,
        max_side: int = MAX_SIDE,
    ) -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        for p in self.model.parameters():  # inference only; Grad-CAM needs activation gradients, not weights'
            p.requires_grad_(False)
        self.card = dict(card)
        self.checkpoint = str(checkpoint) if checkpoint is not None else None
        self.max_frames = max_frames
        self.max_side = max_side
        spec = self.card["input"]
        self.class_names: list[str] = [str(c) for c in self.card["class_names"]]
        self.modality: str = str(spec["modality"])
        self.mean = np.asarray(spec["mean"], dtype=np.float32)
        self.std = np.asarray(spec["std"], dtype=np.float32)
        prep = self.card.get("preprocessing")
        self.flow: str = str(prep.get("flow", "tvl1")) if isinstance(prep, dict) else "tvl1"
        self._lock = threading.Lock()
        self._aligner = None

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "cpu", **kwargs: Any) -> Predictor:
        """Load a .safetensors checkpoint and its card (default: :data:`DEFAULT_CHECKPOINT`).

        Raises InputError when the file is missing, is not safetensors (pickles are refused), or does not
        match its card.
        """
        from mer.engine.checkpoint import load_checkpoint

        path = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if not path.exists():
            if path == DEFAULT_CHECKPOINT:
                raise InputError(
                    f"the demo checkpoint {path} is missing; restore it from the repository, train one (see the "
                    "README) or pass --checkpoint FILE.safetensors"
                )
            raise InputError(f"checkpoint '{path}' does not exist; give a .safetensors checkpoint")
        try:
            model, card = load_checkpoint(path, device=device)
        except InputError:
            raise
        except Exception as err:  # a damaged file must reach the user as one plain line, not a traceback
            raise InputError(f"checkpoint '{path.name}' could not be loaded: {err}") from None
        predictor = cls(model, card, checkpoint=path, device=device, **kwargs)
        predictor.warm_up()
        return predictor

    def warm_up(self) -> None:
        """Load the face detector and landmark model now (~1 s), not during the first prediction."""
        from mer.data import face

        face.detect_faces(np.zeros((64, 64, 3), dtype=np.uint8))

    # -------------------------------------------------------------------------------------------- the flow

    def __call__(
        self,
        clip: Clip | str | Path,
        onset: int | None = None,
        apex: int | None = None,
        explain: bool = True,
        fps: float | None = None,
    ) -> Prediction:
        """Predict the micro-expression of one clip.

        Args:
            clip: a :class:`Clip`, or the path of a video, a folder of frames or a zip of frames.
            onset, apex: frame indices (from 0) of the start and the peak of the movement; both or neither.
                Without them they are spotted on the motion curve.
            explain: False skips Grad-CAM (the forward runs under inference_mode; CBAM maps are still kept).
            fps: frame rate when ``clip`` is a path (overrides the container; folders default to 30).
        """
        with self._lock:
            return self._predict(clip, onset, apex, explain, fps)

    def _predict(self, clip, onset, apex, explain, fps) -> Prediction:
        import torch

        from mer.data import face, inputs, motion
        from mer.explain import explain as run_explain
        from mer.explain import overlays as make_overlays

        timings: dict[str, float] = {}
        t_start = tick = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal tick
            now = time.perf_counter()
            timings[stage] = now - tick
            tick = now

        if (onset is None) != (apex is None):
            raise InputError("give both the onset and the apex (counted from 0), or neither to spot them")
        if not isinstance(clip, Clip):
            clip = read_clip(clip, max_frames=self.max_frames, max_side=self.max_side, fps=fps)
            lap("read")
        given = onset is not None
        if given:
            onset, apex = check_onset_apex(onset, apex, clip)

        if self._aligner is None:
            self._aligner = face.FaceAligner()
        name = f"'{Path(clip.source).name}'"
        aligned = self._aligner.align(clip.frames, ref=onset if given else 0, name=name)
        frames = aligned.frames
        lap("align")

        curve = motion.motion_curve(frames, mask=face.spotting_mask(aligned.landmarks), fps=clip.fps)
        if given:
            spotting_note = f"onset {onset} and apex {apex} given"
        else:
            spotting = motion.spot(curve, clip.fps)
            onset, apex = int(spotting.onset), int(spotting.apex)
            spotting_note = spotting.note  # spot() keeps 0 <= onset < apex < n for two frames or more
        lap("spot")

        raw = inputs.build_input(frames[onset], frames[apex], aligned.landmarks, modality=self.modality, flow=self.flow)
        x = inputs.normalize(raw, self.mean, self.std)
        if self.modality == "flow":
            flow = np.stack([raw[0], raw[1]], axis=-1)
        else:  # the model saw the apex frame; show the movement anyway
            flow = motion.dis_flow(frames[onset], frames[apex])
        flow_rgb = motion.flow_to_rgb(flow)
        lap("input")

        tensor = torch.from_numpy(x)[None].to(self.device)
        expl = run_explain(self.model, tensor, gradcam=explain)
        timings["model"] = expl.forward_s
        timings["gradcam"] = expl.backward_s
        tick = time.perf_counter()

        shown = make_overlays(frames[apex], expl)
        lap("overlays")
        timings["total"] = time.perf_counter() - t_start

        probs = _softmax(expl.logits)
        if len(probs) != len(self.class_names):
            raise InputError(
                f"the model gives {len(probs)} scores but its card names {len(self.class_names)} classes"
            )
        probabilities = {name: float(p) for name, p in zip(self.class_names, probs, strict=True)}
        return Prediction(
            label=self.class_names[int(np.argmax(probs))],
            probabilities=probabilities,
            onset=int(onset),
            apex=int(apex),
            fps=float(clip.fps),
            motion_curve=curve,
            spotting_note=spotting_note,
            frames=frames,
            model_input=raw,
            gradcam=expl.gradcam,
            cbam=expl.cbam_spatial,
            overlays=shown,
            flow_rgb=flow_rgb,
            timings=timings,
            notes=list(clip.notes) + list(aligned.notes),
            card=self.card,
            cbam_channel=expl.cbam_channel,
            checkpoint=self.checkpoint,
            source=clip.source,
            onset_apex_given=given,
        )


def check_onset_apex(onset: Any, apex: Any, clip: Clip) -> tuple[int, int]:
    n = len(clip.frames)
    try:
        onset_i, apex_i = int(onset), int(apex)
        if onset_i != onset or apex_i != apex:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"onset and apex must be whole frame numbers, got {onset!r} and {apex!r}") from None
    if not 0 <= onset_i < apex_i < n:
        limited = any("only the first" in note for note in clip.notes)
        more = " (the clip was limited to its first frames; see --max-frames)" if limited else ""
        raise InputError(
            f"onset {onset_i} and apex {apex_i} are not valid: they need 0 <= onset < apex <= {n - 1}, "
            f"since the clip has {n} frames counted from 0{more}"
        )
    return onset_i, apex_i


# ------------------------------------------------------------------------------------------------ mer predict


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "image"


def save_prediction(pred: Prediction, out_dir: str | Path) -> list[Path]:
    """Write overlays, the flow picture, the aligned onset/apex frames (PNG) and result.json; the paths."""
    import cv2

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder '{out}': {err.strerror or err}") from None
    images = {
        "apex_aligned": pred.frames[pred.apex],
        "onset_aligned": pred.frames[pred.onset],
        "flow": pred.flow_rgb,
    }
    # overlays come in the order of the maps: each branch's Grad-CAM, then each fusion CBAM
    stems = [f"gradcam_{name}" for name in pred.gradcam] + [f"cbam_{name}" for name in pred.cbam]
    if len(stems) != len(pred.overlays):
        stems = [f"overlay_{i:02d}_{_slug(caption)}" for i, caption in enumerate(pred.overlays, start=1)]
    captions = dict(zip(stems, pred.overlays, strict=True))
    images.update({stem: pred.overlays[caption] for stem, caption in captions.items()})
    written = []
    for name, image in images.items():
        path = out / f"{name}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)):
            raise InputError(f"could not write '{path}'; check that the folder is writable")
        written.append(path)
    result = pred.to_json()
    result["motion_curve"] = [round(float(v), 6) for v in pred.motion_curve]
    result["images"] = {p.stem: p.name for p in written}
    result["overlay_captions"] = captions
    path = out / "result.json"
    try:
        path.write_text(json.dumps(result, indent=2) + "\n")
    except OSError as err:
        raise InputError(f"could not write '{path}': {err.strerror or err}") from None
    written.append(path)
    return written


__all__ = ["DEFAULT_CHECKPOINT", "Prediction", "Predictor", "save_prediction"]
