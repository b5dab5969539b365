"""A clip in, an explained answer out: the Predictor and the ``mer predict`` command.

the clip as a stream of frames (:mod:`mer.spotting.source`) -> spotting (:func:`mer.spotting.spot.spot`: the face
followed, the motion curves and the short-movement signal, every movement as an event with onset, apex and offset,
called micro or macro; memory flat in the clip's length) -> for each micro event: one similarity at its onset for
its frames, the model input (onset->apex optical flow or the apex frame, plus the AU-region mask), the model, a
softmax over the card's class names (logits divided by the card's calibration temperature) -> for the most salient
micro event: Grad-CAM per branch and the fusion's CBAM maps, overlays on its apex frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mer.errors import InputError
from mer.spotting.events import Event
from mer.spotting.source import MAX_SIDE, Clip, FrameSource, open_source, prefetched
from mer.weights import DEMO_CHECKPOINT as DEFAULT_CHECKPOINT

if TYPE_CHECKING:
    from mer.engine.device import Variant

PREDICT_STAGES = ("read", "align", "spot", "input", "model", "gradcam", "overlays")  # keys of Prediction.timings
INDEX_CONVENTIONS = ("position", "file_number")


@dataclass
class Prediction:
    """The answer for one clip, with everything needed to show how it was reached.

    events: every movement found, in time order (:class:`mer.spotting.events.Event`: spotting facts); labels and
    event_probabilities: event index -> the model's label and class name -> probability, for micro events.
    salient: index into events of the most salient micro event (what label, probabilities and the maps are
    about), None without one; shown: index of the event whose onset/apex are `onset`/`apex` (salient, else the
    strongest event, else None). label: the salient event's label, None when no micro-expression was found;
    probabilities: its class name -> probability (card order; empty when none); summary: one plain sentence.
    onset, apex: frames of the shown event (else the first two frames with a face), indices into the clip as read
    (from 0); fps: nominal frame rate; times: (N,) float64 seconds of each frame (the file's timestamps);
    frame_count: N. motion_curve: (N,) float32 crop px per frame (each window against its first frame), NaN
    without a face; short_curve: (N,) float32 crop px, the short-movement signal. face_present: (N,) bool.
    spotting_note: how the events were found. face_crop: (282, 231, 3) uint8 RGB aligned face at the first frame
    with one. crops: event index -> {"onset", "apex"} (282, 231, 3) uint8 RGB aligned crops (micro events: one
    similarity at the onset, what the model saw; others: the face track's). model_input: (4, 282, 231) float32
    unnormalised input of the salient event, or None. gradcam: branch -> (282, 231) float32 in [0, 1] for its
    label; cbam: fusion CBAM name -> (282, 231) spatial attention; cbam_channel: name -> (C,); raw_maps:
    "gradcam_<branch>" / "cbam_<name>" -> the same maps, one dict. overlays: the same keys -> RGB uint8 heat map
    on the salient apex crop; overlay_captions: the same keys -> a caption (all empty without a micro event).
    flow_rgb: (282, 231, 3) uint8 onset->apex flow of the shown event. timings: stage -> seconds (read, track,
    align, spot, input, model, gradcam, overlays, total). notes: what the user should know. card, checkpoint,
    source: provenance. index: "position" (0-based) or
    "file_number" (the given onset/apex were file numbers); temperature: the calibration temperature applied.
    """

    label: str | None
    probabilities: dict[str, float]
    onset: int
    apex: int
    fps: float
    motion_curve: np.ndarray
    spotting_note: str
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
    salient: int | None = None
    shown: int | None = None
    times: np.ndarray | None = None
    short_curve: np.ndarray | None = None
    face_crop: np.ndarray | None = None
    crops: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    raw_maps: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=dict)
    event_probabilities: dict[int, dict[str, float]] = field(default_factory=dict)
    overlay_captions: dict[str, str] = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        """Frames in the clip as read."""
        return len(self.motion_curve)

    def events_json(self) -> list[dict[str, Any]]:
        """Every event as SPOTTING.md gives it (times from the frames' timestamps); micro ones with label and
        probabilities."""
        out = []
        for k, event in enumerate(self.events):
            item = event.to_json(self.fps, self.times)
            if event.kind == "micro":
                item["label"] = self.labels.get(k)
                item["probabilities"] = {n: round(float(v), 6) for n, v in self.event_probabilities.get(k, {}).items()}
            out.append(item)
        return out

    @property
    def curve(self) -> np.ndarray:
        """The motion curve (alias of ``motion_curve``, for the page's timeline)."""
        return self.motion_curve

    def face_runs(self) -> list[tuple[int, int]]:
        """Stretches of frames with the face, as (first, last) frame indices."""
        from mer.spotting.signal import runs

        present = np.ones(self.frame_count, bool) if self.face_present is None else np.asarray(self.face_present)
        return [(a, b - 1) for a, b in runs(present)]

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
            "events": self.events_json(),
            "salient": self.salient,
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
            "frames": int(self.frame_count),
            "duration_s": round(float(self.times[-1]), 4) if self.times is not None and len(self.times) else None,
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


def to_positions(onset: Any, apex: Any, clip: Clip | FrameSource, index: str) -> tuple[Any, Any]:
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


def _named_overlays(apex: np.ndarray, expl: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The maps of `expl` drawn on the aligned apex crop, keyed by map name ("gradcam_<branch>", "cbam_<name>"):
    (name -> RGB uint8 picture, name -> caption)."""
    from mer.explain import overlays as make_overlays

    drawn = make_overlays(apex, expl)  # caption -> picture, each branch then each CBAM
    names = [f"gradcam_{k}" for k in expl.gradcam] + [f"cbam_{k}" for k in expl.cbam_spatial]
    if len(names) != len(drawn):
        names = [f"overlay_{i:02d}" for i in range(1, len(drawn) + 1)]
    return dict(zip(names, drawn.values(), strict=True)), dict(zip(names, drawn, strict=True))


@dataclass
class _Named:
    """The model's names for one clip's micro events: event index -> label and -> class probabilities; salient:
    the most salient named event (None without one), its explanation and raw model input."""

    salient: int | None = None
    labels: dict[int, str] = field(default_factory=dict)
    probabilities: dict[int, dict[str, float]] = field(default_factory=dict)
    expl: Any = None
    raw: np.ndarray | None = None

    def shown(self, events: list[Event]) -> int | None:
        """The event whose onset/apex the answer shows: the salient one, else the strongest, else None."""
        if self.salient is not None:
            return self.salient
        return max(range(len(events)), key=lambda k: events[k].strength, default=None)


def _crops(spotting: Any) -> dict[int, dict[str, np.ndarray]]:
    """Event index -> {"onset", "apex"} aligned crops, as spotting kept them."""
    return {k: {"onset": f.onset, "apex": f.apex} for k, f in spotting.frames.items()}


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
        max_frames: int | None = None,
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
        """Load the face detector and landmark model, import the peak finder (scipy.signal) and run the model once,
        now (~1-2 s), not during the first prediction. The model's first forward sets itself up (0.67 s against
        0.07 s after, one thread, this machine): the Live tab's first micro event waited for it to be named."""
        import scipy.signal  # noqa: F401

        from mer.data.inputs import CROP_HW
        from mer.spotting import face

        face.detect_faces(np.zeros((64, 64, 3), dtype=np.uint8))
        with self._lock:
            self._run_model(np.zeros((4, *CROP_HW), dtype=np.float32), False, {"model": 0.0, "gradcam": 0.0})

    # -------------------------------------------------------------------------------------------- the flow

    def __call__(
        self,
        clip: Clip | FrameSource | str | Path,
        onset: int | None = None,
        apex: int | None = None,
        explain: bool = True,
        fps: float | None = None,
        index: str = "position",
        progress: Callable[[float, str], None] | None = None,
    ) -> Prediction:
        """Find and name the micro-expressions of one clip.

        Args:
            clip: the path of a video, a folder of frames or a zip of frames (streamed: any length), a
                :class:`FrameSource` (:func:`mer.spotting.source.open_source`), or a :class:`Clip` in memory.
            onset, apex: the start and the peak of one known movement; both or neither. Without them every
                movement is found.
            explain: False skips Grad-CAM (the forward runs under inference_mode; CBAM maps are still kept).
            fps: frame rate when ``clip`` is a path (overrides the container; folders default to 30).
            index: how onset/apex count frames: "position" (from 0, the clip as read) or "file_number" (the
                number in the frame files' names, as the CASME II and SAMM sheets give them).
            progress: called as progress(fraction in [0, 1], message) as the work goes on (e.g. gradio's
                gr.Progress, or a tqdm bar); from the calling thread.
        """
        with self._lock:
            return self._predict(clip, onset, apex, explain, fps, index, progress)

    def _predict(self, clip, onset, apex, explain, fps, index, progress) -> Prediction:
        from mer.spotting.spot import spot

        report = progress or (lambda fraction, message: None)
        t_start = time.perf_counter()
        if (onset is None) != (apex is None):
            raise InputError("give both the onset and the apex, or neither to find every movement")
        clip, frames, expected = self._stream(clip, fps)
        given = None
        if onset is not None:
            given = {"onset": int(onset), "apex": int(apex)}  # as given (file numbers, or the positions)
            onset, apex = check_onset_apex(*to_positions(onset, apex, clip, index), clip)
        report(0.0, "reading the clip and following the face")
        spotting = spot(
            frames,
            clip.fps,
            name=f"'{Path(clip.source).name}'",
            given=(onset, apex) if given is not None else None,
            progress=lambda f, m: report(0.85 * f, m),
            expected=expected,
        )
        timings = dict(spotting.seconds)
        timings["read"] = max(0.0, time.perf_counter() - t_start - sum(spotting.seconds.values()))
        named = self._name_micro(spotting, explain, timings, report)
        tick = time.perf_counter()
        shown = named.shown(spotting.events)
        crops = _crops(spotting)
        flow_rgb = self._flow_picture(crops[shown], named.raw) if shown in crops else None
        overlays, captions = (
            ({}, {}) if named.expl is None else _named_overlays(spotting.frames[named.salient].apex, named.expl)
        )
        timings["overlays"] = time.perf_counter() - tick
        timings["total"] = time.perf_counter() - t_start
        report(1.0, "done")
        pictures = (crops, flow_rgb, overlays, captions)
        return self._answer(clip, spotting, named, shown, given, index, timings, pictures)

    def _stream(self, clip: Any, fps: float | None) -> tuple[Clip | FrameSource, Any, int | None]:
        """(the clip opened, its (seconds, frame) pairs, the frame count expected) for a path, Clip or FrameSource."""
        if isinstance(clip, Clip):
            return clip, clip.timed(), len(clip)
        if not isinstance(clip, FrameSource):
            clip = open_source(clip, max_side=self.max_side, fps=fps, max_frames=self.max_frames)
        # decoded ahead in a thread: FFmpeg decodes on one core while the face and motion use the other
        return clip, prefetched(clip.frames()), clip.expected

    def _name_micro(self, spotting: Any, explain: bool, timings: dict[str, float], report: Callable) -> _Named:
        """Each micro event named by the model; the most salient one explained (Grad-CAM, CBAM) when asked."""
        events = spotting.events
        micro = [k for k, e in enumerate(events) if e.kind == "micro"]
        report(0.85, f"naming {len(micro)} micro-expression(s)" if micro else "no micro-expression to name")
        tick = time.perf_counter()
        inputs = {k: self._inputs(spotting.frames[k]) for k in micro if k in spotting.frames}
        timings["input"] = time.perf_counter() - tick
        named = _Named(salient=max(inputs, key=lambda k: events[k].strength, default=None))
        timings["model"], timings["gradcam"] = 0.0, 0.0
        for k, (x, raw) in inputs.items():
            if k == named.salient:
                report(0.9, "explaining the answer (Grad-CAM, CBAM)")
            expl = self._run_model(x, explain and k == named.salient, timings)
            named.labels[k], named.probabilities[k] = self._names(expl.logits)
            if k == named.salient:
                named.expl, named.raw = expl, raw
        return named

    def _answer(self, clip, spotting, named, shown, given, index, timings, pictures) -> Prediction:
        """The Prediction: spotting's facts, the names, the maps of the salient event and the pictures (the events'
        aligned crops, the shown event's flow, the overlays and their captions)."""
        from mer.spotting import events as ev

        crops, flow_rgb, overlays, overlay_captions = pictures
        events, salient, expl = spotting.events, named.salient, named.expl
        if shown is not None:
            onset_shown, apex_shown = events[shown].onset, events[shown].apex
        else:  # the first two frames with a face
            first = int(np.argmax(spotting.present))
            onset_shown, apex_shown = first, min(first + 1, spotting.count - 1)
        label = named.labels.get(salient)
        probabilities = named.probabilities.get(salient, {})
        gradcam = expl.gradcam if expl else {}
        cbam = expl.cbam_spatial if expl else {}
        return Prediction(
            label=label,
            probabilities=dict(probabilities),
            onset=int(onset_shown),
            apex=int(apex_shown),
            fps=float(clip.fps),
            motion_curve=spotting.motion_curve,
            spotting_note=spotting.note,
            model_input=named.raw,
            gradcam=gradcam,
            cbam=cbam,
            overlays=overlays,
            flow_rgb=flow_rgb,
            timings=timings,
            notes=list(clip.notes) + list(spotting.notes),
            card=self.card,
            cbam_channel=expl.cbam_channel if expl else {},
            checkpoint=self.checkpoint,
            source=clip.source,
            onset_apex_given=given is not None,
            events=events,
            summary=ev.summary(
                events, clip.fps, events[salient] if salient is not None else None, label, probabilities.get(label)
            ),
            face_present=spotting.present,
            index=index,
            temperature=self.temperature,
            calibrated=self.calibrated,
            given=given,
            salient=salient,
            shown=shown,
            times=spotting.times,
            short_curve=spotting.short_curve,
            face_crop=spotting.face_crop,
            crops=crops,
            raw_maps={f"gradcam_{k}": v for k, v in gradcam.items()} | {f"cbam_{k}": v for k, v in cbam.items()},
            labels=named.labels,
            event_probabilities=named.probabilities,
            overlay_captions=overlay_captions,
        )

    def _inputs(self, frames: Any) -> tuple[np.ndarray, np.ndarray]:
        """(normalised, raw) model input of a micro event from its aligned onset and apex (one similarity at its
        onset, :class:`mer.spotting.spot.EventFrames`): onset->apex flow or the apex frame, and the AU mask."""
        from mer.data import inputs

        raw = inputs.build_input(frames.onset, frames.apex, frames.landmarks, modality=self.modality, flow=self.flow)
        return inputs.normalize(raw, self.mean, self.std), raw

    def name_event(self, frames: Any) -> tuple[str, dict[str, float]]:
        """The model's label and class name -> probability (calibrated softmax, card order) for one micro event's
        aligned crops (:class:`mer.spotting.spot.EventFrames`: onset, apex (282, 231, 3) uint8, landmarks), as
        :meth:`__call__` names each micro event; no Grad-CAM (live spotting, :mod:`mer.spotting.live`)."""
        x, _ = self._inputs(frames)
        with self._lock:
            expl = self._run_model(x, False, {"model": 0.0, "gradcam": 0.0})
        return self._names(expl.logits)

    def _names(self, logits: np.ndarray) -> tuple[str, dict[str, float]]:
        """The label and class name -> probability (calibrated softmax, card order) of the model's logits."""
        probs = _softmax(logits, self.temperature)
        return self.class_names[int(np.argmax(probs))], dict(zip(self.class_names, map(float, probs), strict=True))

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

    def _flow_picture(self, crops: dict[str, np.ndarray], raw: np.ndarray | None) -> np.ndarray:
        from mer.spotting import motion

        if raw is not None and self.modality == "flow":
            return motion.flow_to_rgb(np.stack([raw[0], raw[1]], axis=-1))
        return motion.flow_to_rgb(motion.dis_flow(crops["onset"], crops["apex"]))


def check_onset_apex(onset: Any, apex: Any, clip: Clip | FrameSource | None = None) -> tuple[int, int]:
    """Onset and apex as whole frame positions with 0 <= onset < apex (< the clip's length when it is known: a
    Clip in memory; a streamed clip's length is checked when it has been read)."""
    try:
        onset_i, apex_i = int(onset), int(apex)
        if onset_i != onset or apex_i != apex:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"onset and apex must be whole frame numbers, got {onset!r} and {apex!r}") from None
    n = len(clip.frames) if isinstance(clip, Clip) else None
    if not 0 <= onset_i < apex_i or (n is not None and apex_i >= n):
        limit = f"apex <= {n - 1}, since the clip has {n} frames counted from 0" if n else "apex"
        raise InputError(f"onset {onset_i} and apex {apex_i} are not valid: they need 0 <= onset < {limit}")
    return onset_i, apex_i


__all__ = ["DEFAULT_CHECKPOINT", "INDEX_CONVENTIONS", "Prediction", "Predictor", "to_positions"]
