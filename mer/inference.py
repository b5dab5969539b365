"""A clip in, an explained answer out: the Predictor and the ``mer predict`` command.

read clip -> follow the face through it (:mod:`mer.spotting.track`: where it is, when it is there) -> one aligned
crop per frame -> motion curves (whole face and each AU region) over the frames with a face, in overlapping
windows -> every movement as an event
with onset, apex and offset, called micro or macro (:mod:`mer.spotting.events`) -> for each micro event: one similarity
at its onset for its frames, the model input (onset->apex optical flow or the apex frame, plus the AU-region mask),
the model, a softmax over the card's class names (logits divided by the card's calibration temperature) -> for the
most salient micro event: Grad-CAM per branch and the fusion's CBAM maps, overlays on its apex frame.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mer.errors import InputError
from mer.spec import MAX_FRAMES
from mer.spotting.events import Event
from mer.spotting.source import MAX_SIDE, Clip, read_clip
from mer.weights import DEMO_CHECKPOINT as DEFAULT_CHECKPOINT

if TYPE_CHECKING:
    from mer.engine.device import Variant

PREDICT_STAGES = ("read", "align", "spot", "input", "model", "gradcam", "overlays")  # keys of Prediction.timings
INDEX_CONVENTIONS = ("position", "file_number")


@dataclass
class Prediction:
    """The answer for one clip, with everything needed to show how it was reached.

    events: every movement found, in time order (:class:`mer.spotting.events.Event`; micro ones carry label and
    probabilities). label: the most salient micro event's label, None when no micro-expression was found;
    probabilities: that event's class name -> probability (card order; empty when none); summary: one plain
    sentence. onset, apex: the frames of the event shown (the most salient micro event, else the strongest
    event, else the first two frames with a face), indices into the clip as read (from 0); fps: frame rate.
    motion_curve: (N,) float32 crop pixels per frame (each window against its first frame), NaN without a face.
    face_present: (N,) bool, where the face was found. spotting_note: how the events were found.
    frames: (N, 282, 231, 3) uint8 RGB aligned crops (black without a face; a micro event's frames share one
    similarity fitted at its onset). model_input: (4, 282, 231) float32 unnormalised input of the shown micro
    event, or None. gradcam: branch -> (282, 231) float32 in [0, 1] for its label; cbam: fusion CBAM name ->
    (282, 231) spatial attention; cbam_channel: name -> (C,). overlays: caption -> RGB uint8 heat map on its apex
    frame (all empty without a micro event). flow_rgb: (282, 231, 3) uint8 onset->apex flow of the shown event.
    timings: stage -> seconds (read, align, spot, input, model, gradcam, overlays, total). notes: what the user
    should know. card, checkpoint, source: provenance. index: "position" (0-based) or "file_number" (the given
    onset/apex were file numbers); temperature: the calibration temperature applied (1.0: uncalibrated).
    """

    label: str | None
    probabilities: dict[str, float]
    onset: int
    apex: int
    fps: float
    motion_curve: np.ndarray
    spotting_note: str
    frames: np.ndarray
    model_input: np.ndarray | None
    gradcam: dict[str, np.ndarray]
    cbam: dict[str, np.ndarray]
    overlays: dict[str, np.ndarray]
    flow_rgb: np.ndarray | None
    timings: dict[str, float]
    notes: list[str]
    card: dict[str, Any]
    cbam_channel: dict[str, np.ndarray] = field(default_factory=dict)
    checkpoint: str | None = None
    source: str = ""
    onset_apex_given: bool = False
    events: list[Event] = field(default_factory=list)
    summary: str = ""
    face_present: np.ndarray | None = None
    index: str = "position"
    temperature: float = 1.0
    calibrated: bool = False
    given: dict[str, int] | None = None

    @property
    def curve(self) -> np.ndarray:
        """The motion curve (alias of ``motion_curve``, for the page's timeline)."""
        return self.motion_curve

    def face_runs(self) -> list[tuple[int, int]]:
        """Stretches of frames with the face, as (first, last) frame indices."""
        present = np.ones(len(self.frames), bool) if self.face_present is None else np.asarray(self.face_present)
        edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
        starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
        return [(int(a), int(b) - 1) for a, b in zip(starts, stops, strict=True)]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: events, label (or None), summary, probabilities, onset, apex, fps, the index convention,
        calibration, timings, notes, checkpoint provenance."""
        card = self.card
        metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
        index_note = (
            "onset and apex were given as the numbers in the frames' file names and converted to frame indices"
            if self.index == "file_number"
            else "frame indices count the frames of the clip as read, from 0"
        )
        return {
            "label": self.label,
            "summary": self.summary,
            "events": [event.to_json(self.fps) for event in self.events],
            "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
            "onset": int(self.onset),
            "apex": int(self.apex),
            "onset_apex": "given" if self.onset_apex_given else "spotted",
            "index": {"convention": self.index, "given": self.given, "note": index_note},
            "calibration": {
                "temperature": float(self.temperature),
                "calibrated": bool(self.calibrated),
                "note": "probabilities calibrated by temperature scaling (from the checkpoint's card)"
                if self.calibrated
                else "probabilities are uncalibrated (the checkpoint's card has no temperature)",
            },
            "spotting_note": self.spotting_note,
            "fps": float(self.fps),
            "frames": int(len(self.frames)),
            "face_frames": [list(run) for run in self.face_runs()],
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


def _softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def card_temperature(card: dict[str, Any]) -> tuple[float, bool]:
    """(T, calibrated): ``card["calibration"]["temperature"]`` when the card has a positive one, else (1.0, False)."""
    calibration = card.get("calibration")
    value = calibration.get("temperature") if isinstance(calibration, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value) and value > 0:
        return float(value), True
    return 1.0, False


@dataclass
class _Analysis:
    """What the face and motion stage gives the model stage."""

    track: Any
    frames: np.ndarray
    curve: np.ndarray
    events: list[Event]
    note: str


def to_positions(onset: Any, apex: Any, clip: Clip, index: str) -> tuple[Any, Any]:
    """Given onset/apex in `index` convention -> frame positions (from 0). "file_number": the numbers in the frame
    files' names (CASME II's img46.jpg is 46), for folders and zips of numbered frames."""
    if index not in INDEX_CONVENTIONS:
        raise InputError(f"unknown frame index convention {index!r}; use one of {', '.join(INDEX_CONVENTIONS)}")
    if index == "position":
        return onset, apex
    if not clip.numbers:
        raise InputError(
            f"'{Path(clip.source).name}' has no numbered frame files, so onset and apex cannot be file numbers; "
            "give them as frame indices from 0 (without --frame-numbers)"
        )
    where = {number: i for i, number in enumerate(clip.numbers)}
    out = []
    for what, value in (("onset", onset), ("apex", apex)):
        if value not in where:
            raise InputError(
                f"no frame file is numbered {value} ({what}); the clip's files are numbered "
                f"{min(clip.numbers)} to {max(clip.numbers)}"
            )
        out.append(where[value])
    return out[0], out[1]


class Predictor:
    """Loads a model once and turns clips into :class:`Prediction` objects.

    >>> predictor = Predictor.from_checkpoint()           # the shipped demo checkpoint
    >>> pred = predictor("clip.mp4")                      # or a Clip from mer.spotting.source.read_clip
    >>> pred.label, pred.summary, [e.kind for e in pred.events]

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
        variant: Variant | None = None,
    ) -> None:
        import torch

        from mer.engine.device import fast_variant

        self.device = torch.device(device)
        # the fastest eager variant the benchmark suite checks on this device (bf16 + channels_last on a CPU
        # with native bf16; the answer that carries Grad-CAM maps runs in fp32); Variant() runs plain fp32
        self.variant = variant if variant is not None else fast_variant(self.device)
        self.model = self.variant.prepare(model.to(self.device).eval())
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
        self.temperature, self.calibrated = card_temperature(self.card)
        self._lock = threading.Lock()

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
        """Load the face detector and landmark model, and import the peak finder (scipy.signal), now (~1-2 s),
        not during the first prediction."""
        import scipy.signal  # noqa: F401

        from mer.spotting import face

        face.detect_faces(np.zeros((64, 64, 3), dtype=np.uint8))

    # -------------------------------------------------------------------------------------------- the flow

    def __call__(
        self,
        clip: Clip | str | Path,
        onset: int | None = None,
        apex: int | None = None,
        explain: bool = True,
        fps: float | None = None,
        index: str = "position",
    ) -> Prediction:
        """Find and name the micro-expressions of one clip.

        Args:
            clip: a :class:`Clip`, or the path of a video, a folder of frames or a zip of frames.
            onset, apex: the start and the peak of one known movement; both or neither. Without them every
                movement is found on the motion curve.
            explain: False skips Grad-CAM (the forward runs under inference_mode; CBAM maps are still kept).
            fps: frame rate when ``clip`` is a path (overrides the container; folders default to 30).
            index: how onset/apex count frames: "position" (from 0, the clip as read) or "file_number" (the
                number in the frame files' names, as the CASME II and SAMM sheets give them).
        """
        with self._lock:
            return self._predict(clip, onset, apex, explain, fps, index)

    def _predict(self, clip, onset, apex, explain, fps, index) -> Prediction:
        from mer.spotting import events as ev

        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        if (onset is None) != (apex is None):
            raise InputError("give both the onset and the apex, or neither to find every movement")
        if not isinstance(clip, Clip):
            clip = read_clip(clip, max_frames=self.max_frames, max_side=self.max_side, fps=fps)
            timings["read"] = time.perf_counter() - t_start
        given = None
        if onset is not None:
            positions = check_onset_apex(*to_positions(onset, apex, clip, index), clip)
            given = {"onset": int(onset), "apex": int(apex)}  # as given (file numbers, or the positions)
            onset, apex = positions
        analysis = self._analyse(clip, onset, apex, timings)
        micro = [e for e in analysis.events if e.kind == "micro"]
        tick = time.perf_counter()
        model_inputs = [self._classify(e, clip, analysis) for e in micro]  # (normalised, raw) per micro event
        timings["input"] = time.perf_counter() - tick
        salient = max(micro, key=lambda e: e.strength, default=None)
        shown = salient or max(analysis.events, key=lambda e: e.strength, default=None)
        expl, raw, overlays, flow_rgb = None, None, {}, None
        timings["model"], timings["gradcam"] = 0.0, 0.0
        for event, (x, raw_e) in zip(micro, model_inputs, strict=True):
            e_expl = self._run_model(x, explain and event is salient, timings)
            probs = _softmax(e_expl.logits, self.temperature)
            event.probabilities = {name: float(p) for name, p in zip(self.class_names, probs, strict=True)}
            event.label = self.class_names[int(np.argmax(probs))]
            if event is salient:
                expl, raw = e_expl, raw_e
        tick = time.perf_counter()
        if shown is not None:
            flow_rgb = self._flow_picture(analysis.frames, shown, raw)
        if expl is not None:
            from mer.explain import overlays as make_overlays

            overlays = make_overlays(analysis.frames[salient.apex], expl)
        timings["overlays"] = time.perf_counter() - tick
        timings["total"] = time.perf_counter() - t_start
        first = analysis.track.first
        onset_shown, apex_shown = (shown.onset, shown.apex) if shown else (first, min(first + 1, len(clip) - 1))
        return Prediction(
            label=salient.label if salient else None,
            probabilities=dict(salient.probabilities) if salient else {},
            onset=int(onset_shown),
            apex=int(apex_shown),
            fps=float(clip.fps),
            motion_curve=analysis.curve,
            spotting_note=analysis.note,
            frames=analysis.frames,
            model_input=raw,
            gradcam=expl.gradcam if expl else {},
            cbam=expl.cbam_spatial if expl else {},
            overlays=overlays,
            flow_rgb=flow_rgb,
            timings=timings,
            notes=list(clip.notes) + list(analysis.track.notes),
            card=self.card,
            cbam_channel=expl.cbam_channel if expl else {},
            checkpoint=self.checkpoint,
            source=clip.source,
            onset_apex_given=given is not None,
            events=analysis.events,
            summary=ev.summary(analysis.events, clip.fps, salient),
            face_present=analysis.track.present,
            index=index,
            temperature=self.temperature,
            calibrated=self.calibrated,
            given=given,
        )

    def _analyse(self, clip: Clip, onset: int | None, apex: int | None, timings: dict[str, float]) -> _Analysis:
        """Follow the face, align every frame, measure the motion curves and find the events (or make the given
        one)."""
        from mer.spotting import events as ev
        from mer.spotting import face, motion, short_motion, track

        tick = time.perf_counter()
        name = f"'{Path(clip.source).name}'"
        followed = track.track_face(clip.frames, clip.fps, name=name)
        transforms = track.follow_transforms(followed, clip.fps)
        frames = np.zeros((len(clip), *face.CROP_HW, 3), dtype=np.uint8)
        for i in np.nonzero(followed.present)[0]:
            frames[i] = track.warp(clip.frames[i], transforms[i])
        timings["align"] = time.perf_counter() - tick
        tick = time.perf_counter()
        curves, parts, short = [], [], []
        sample = max(1, int(round(clip.fps / 4)))  # the masks cover the face as it is over the window
        for run_start, run_stop in followed.runs():
            for start, stop in ev.windows(run_start, run_stop, clip.fps):
                crop_landmarks = [
                    face.transform_points(followed.landmarks[i], transforms[i]) for i in range(start, stop, sample)
                ]
                mask = np.max([face.spotting_mask(lm) for lm in crop_landmarks], axis=0)
                regions = [face.au_region_masks(lm) for lm in crop_landmarks]
                regions = {name: np.max([r[name] for r in regions], axis=0) for name in face.AU_REGION_NAMES}
                found = motion.region_curves(frames[start:stop], mask=mask, fps=clip.fps, regions=regions)
                curves.append((start, stop, found["all"]))
                parts.extend((start, stop, values) for values in found.values())
                if onset is None and stop - start >= ev.SHORT_MIN_S * clip.fps:
                    eyes = np.max([face.eye_mask(lm) for lm in crop_landmarks], axis=0)
                    flows = short_motion.ShortFlows(frames[start:stop], mask, regions, eyes)
                    short.append((start, stop, flows.curves(clip.fps), flows))
        curve = ev.stitch(curves, len(clip))
        if onset is not None:
            if not (followed.present[onset] and followed.present[apex]):
                raise InputError(
                    f"no face at the given onset ({onset}) or apex ({apex}) of {name}; the face is in frames "
                    + ", ".join(f"{a}-{b - 1}" for a, b in followed.runs())
                )
            given = ev.Event(
                onset,
                apex,
                apex,
                float(np.nan_to_num(curve[apex] - curve[onset])),
                "micro",
                "micro: onset and apex given",
            )
            events, note = [given], f"onset {onset} and apex {apex} given"
        else:
            events = ev.find_all_events(parts, short, clip.fps)
            note = (
                f"longer movements found on the motion curve against each window's first frame, short ones on "
                f"flows between frames {short_motion.LAG_S:g} and {2 * short_motion.LAG_S:g} s apart "
                f"({len(curves)} window(s) of {ev.WINDOW_S:g} s); micro or macro by duration, onset phase and "
                "amplitude; blinks left out"
            )
        timings["spot"] = time.perf_counter() - tick
        return _Analysis(followed, frames, curve, events, note)

    def _classify(self, event: Event, clip: Clip, analysis: _Analysis) -> tuple[np.ndarray, np.ndarray]:
        """(normalised, raw) model input of a micro event: its frames aligned by one similarity fitted on the
        landmarks at its onset (written into ``analysis.frames``), onset->apex flow and AU mask."""
        from mer.data import inputs
        from mer.spotting import face

        stop = max(event.offset, event.apex) + 1
        frames = clip.frames[event.onset : stop]
        try:  # landmarks fitted on the onset frame itself; the tracked ones where the detector misses it
            aligned = face.FaceAligner().align(frames, ref=0)
        except InputError:
            aligned = face.FaceAligner().align(frames, ref=0, landmarks=analysis.track.landmarks[event.onset])
        analysis.frames[event.onset : stop] = aligned.frames
        raw = inputs.build_input(
            aligned.frames[0],
            aligned.frames[event.apex - event.onset],
            aligned.landmarks,
            modality=self.modality,
            flow=self.flow,
        )
        return inputs.normalize(raw, self.mean, self.std), raw

    def _run_model(self, x: np.ndarray, gradcam: bool, timings: dict[str, float]) -> Any:
        import torch

        from mer.engine.device import autocast
        from mer.explain import explain as run_explain

        tensor = self.variant.input(torch.from_numpy(x)[None].to(self.device))
        # Grad-CAM runs in fp32: in bf16 a branch's map can come out unlike fp32's (the local branch of the shipped
        # weights: r = 0.43-0.55 on examples/synthetic_surprise.webm); answers without maps keep the variant
        precision = "fp32" if gradcam else self.variant.precision
        with autocast(self.device, precision):
            expl = run_explain(self.model, tensor, gradcam=gradcam)
        timings["model"] += expl.forward_s
        timings["gradcam"] += expl.backward_s
        if len(expl.logits) != len(self.class_names):
            raise InputError(
                f"the model gives {len(expl.logits)} scores but its card names {len(self.class_names)} classes"
            )
        return expl

    def _flow_picture(self, frames: np.ndarray, event: Event, raw: np.ndarray | None) -> np.ndarray:
        from mer.spotting import motion

        if raw is not None and self.modality == "flow":
            return motion.flow_to_rgb(np.stack([raw[0], raw[1]], axis=-1))
        return motion.flow_to_rgb(motion.dis_flow(frames[event.onset], frames[event.apex]))


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
    }
    if pred.flow_rgb is not None:
        images["flow"] = pred.flow_rgb
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
    result["motion_curve"] = [None if np.isnan(v) else round(float(v), 6) for v in pred.motion_curve]
    result["images"] = {p.stem: p.name for p in written}
    result["overlay_captions"] = captions
    path = out / "result.json"
    try:
        path.write_text(json.dumps(result, indent=2) + "\n")
    except OSError as err:
        raise InputError(f"could not write '{path}': {err.strerror or err}") from None
    written.append(path)
    return written


__all__ = ["DEFAULT_CHECKPOINT", "INDEX_CONVENTIONS", "Prediction", "Predictor", "save_prediction", "to_positions"]
