"""One video in, a :class:`Spotting` out: the one home of spotting, for the Predictor, preprocessing and benchmarks.

The frames come as a stream (:meth:`mer.spotting.source.FrameSource.frames`, or any iterable of frames) and are
analysed as they come, with a bounded window of state, so memory stays flat in the video's length and time grows
linearly with it:

1. the face is followed (:func:`mer.spotting.track.track_face`) in chunks of CHUNK_S: where it is, when it is there;
2. each frame with a face is warped into the 282 x 231 crop by a similarity from the eye centres averaged over
   :data:`mer.spotting.track.SMOOTH_S` (:func:`mer.spotting.track.follow_transforms`, computed here frame by frame);
3. every WINDOW_HOP_S a window of WINDOW_S of crops is measured (:func:`analyse_window`): the motion curve of the
   whole face and of each AU region against the window's first frame (:mod:`mer.spotting.motion`) and the
   short-movement signal (:mod:`mer.spotting.short_motion`); their peaks are candidate events
   (:mod:`mer.spotting.events`);
4. at the end the candidates become the clip's events by THE rule (:func:`mer.spotting.events.decide`).

Only the curves (a few numbers a frame), the candidate events and the aligned crops of the events that may be
shown (every micro event, the MACRO_CROPS strongest macro ones) are kept: source frames and crops older than the
oldest window still to come are dropped. Preprocessing's missing-apex
path (:func:`spot_aligned`, frames already aligned) runs the same window analysis and the same rule.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from mer.errors import InputError
from mer.spotting import events as ev
from mer.spotting.events import Event
from mer.spotting.signal import Growing, runs

CHUNK_S = 2.0  # the face is followed over chunks of this many seconds of frames (each tracked with a lookahead)
MACRO_CROPS = 4  # the crops of this many of the strongest macro events are kept (micro events: all of them)
MASK_SAMPLE_S = 0.25  # a window's masks cover the face as it is over the window, sampled this often
PROGRESS_EVERY_S = 0.5  # of video: how often the progress callback hears from the stream

Progress = Callable[[float, str], None]


@dataclass
class EventFrames:
    """The aligned crops kept of one event: onset, apex: (282, 231, 3) uint8 RGB; landmarks: (K, 2) float32 crop
    pixels of the face at the onset; aligned: "onset" (a micro event: both frames warped by one similarity from
    the face's landmarks at its onset, what the model is given) or "track" (the face track's own crops)."""

    onset: np.ndarray
    apex: np.ndarray
    landmarks: np.ndarray
    aligned: str = "track"


@dataclass
class Spotting:
    """Everything spotting found in one clip.

    fps: nominal frame rate; times: (N,) float64 seconds of each frame from the first (the file's timestamps);
    present: (N,) bool, where the face is; faces_found: most faces seen in one frame (the largest is followed);
    motion_curve: (N,) float32 crop px, each frame against its window's first frame (NaN without a face);
    short_curve: (N,) float32 crop px, the short-movement signal (bump, the most-moving AU region; NaN without a
    face or where no window measured it); events: in time order (onset, apex, offset, kind, reason, signal,
    region); note: how the events were found; notes: what a user should know (face late, lost, several faces);
    frames: event index -> :class:`EventFrames`: every micro event, and the MACRO_CROPS strongest macro ones;
    face_crop: (282, 231, 3) uint8 the aligned face at the first frame with one; windows: windows measured;
    seconds: stage -> seconds spent (track, align, spot).
    """

    fps: float
    times: np.ndarray
    present: np.ndarray
    faces_found: int
    motion_curve: np.ndarray
    short_curve: np.ndarray
    events: list[Event]
    note: str
    notes: list[str] = field(default_factory=list)
    frames: dict[int, EventFrames] = field(default_factory=dict)
    face_crop: np.ndarray | None = None
    windows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Frames in the clip."""
        return len(self.present)

    def runs(self) -> list[tuple[int, int]]:
        """Stretches of frames with the face, (start, stop) with stop exclusive."""
        return runs(self.present)


@dataclass
class WindowFound:
    """What one window of crops gives: region -> (n,) motion curves, the short-movement curve (n,) or None, and the
    candidate events: `peaks` (the motion curve's, classified, not merged) and `short` (short movements)."""

    curves: dict[str, np.ndarray]
    short_curve: np.ndarray | None
    peaks: list[Event]
    short: list[Event]


def analyse_window(
    start: int,
    crops: np.ndarray,
    crop_landmarks: list[np.ndarray],
    fps: float,
    events: bool = True,
    shared: dict | None = None,
) -> WindowFound:
    """Measure one window and find its candidate events.

    Args:
        start: the clip frame index of the window's first crop (event frames are clip indices).
        crops: (n, 282, 231, 3) uint8 RGB aligned crops of consecutive frames.
        crop_landmarks: (K, 2) crop-pixel landmarks of some of these frames (every MASK_SAMPLE_S): the masks
            cover the face as it is over the window.
        fps: frame rate.
        events: False measures the curves only (onset and apex given).
        shared: short flows of frame pairs kept across overlapping windows of one stream
            (:class:`mer.spotting.short_motion.ShortFlows`), None: each window measures its own.
    """
    from mer.spotting import face, motion, short_motion

    mask = np.max([face.spotting_mask(lm) for lm in crop_landmarks], axis=0)
    each = [face.au_region_masks(lm) for lm in crop_landmarks]
    regions = {name: np.max([r[name] for r in each], axis=0) for name in face.AU_REGION_NAMES}
    curves = motion.region_curves(crops, mask=mask, fps=fps, regions=regions)
    if not events:
        return WindowFound(curves, None, [], [])
    peaks = ev.window_peaks(start, curves, fps)
    stop = start + len(crops)
    if ev.is_brief(start, stop, fps):
        return WindowFound(curves, None, peaks, [])
    eyes = np.max([face.eye_mask(lm) for lm in crop_landmarks], axis=0)
    flows = short_motion.ShortFlows(crops, mask, regions, eyes, shared=shared, start=start)
    bumps = flows.curves(fps)
    short = ev.find_short_events([(start, stop, bumps, flows)], fps)
    short_curve = np.max([v for name, v in bumps.items() if name != "blink"], axis=0)
    return WindowFound(curves, short_curve, peaks, short)


def spot_aligned(crops: np.ndarray, landmarks: np.ndarray, fps: float) -> tuple[list[Event], np.ndarray]:
    """The events of a clip already aligned (a database sample's frames from its onset), by the same windows and
    rule as :func:`spot`: (N, 282, 231, 3) uint8 crops, (K, 2) crop landmarks of the face (one set for the whole
    clip), fps. Returns (events in time order, clip frame indices; (N,) float32 motion curve)."""
    brief, longer, short = [], [], []
    curve = np.zeros(len(crops), np.float32)
    for start, stop in ev.windows(0, len(crops), fps):
        found = analyse_window(start, np.asarray(crops[start:stop]), [landmarks], fps)
        (brief if ev.is_brief(start, stop, fps) else longer).extend(found.peaks)
        short.extend(found.short)
        curve[start:stop] = found.curves["all"]
    return ev.decide(brief, longer, short), curve


def sample_apex(crops: np.ndarray, landmarks: np.ndarray, fps: float) -> tuple[int, str]:
    """The apex of a database sample whose sheet gives none (preprocessing), by the one spotting rule
    (:func:`spot_aligned`): the apex of the strongest micro event, as the Predictor's salient event, else of the
    strongest event, else the frame that moved most. Returns (index into `crops`, a note saying which)."""
    events, curve = spot_aligned(crops, landmarks, fps)
    micro = [e for e in events if e.kind == "micro"]
    chosen = max(micro or events, key=lambda e: e.strength, default=None)
    if chosen is None:
        apex = int(np.nanargmax(curve)) if len(curve) > 1 else 0
        return apex, f"no movement stood out; the frame that moved most ({curve[apex]:.2f} px)"
    return chosen.apex, f"apex of the strongest {chosen.kind} event ({chosen.reason})"


def spotting_note(windows: int) -> str:
    """How the events were found, in one sentence."""
    from mer.spotting import short_motion

    return (
        f"longer movements found on the motion curve against each window's first frame, short ones on flows "
        f"between frames {short_motion.LAG_S:g} and {2 * short_motion.LAG_S:g} s apart ({windows} window(s) of "
        f"{ev.WINDOW_S:g} s); micro or macro by duration, onset phase and amplitude; blinks left out"
    )


def spot(
    frames: Iterable,
    fps: float,
    name: str = "the clip",
    given: tuple[int, int] | None = None,
    progress: Progress | None = None,
    expected: int | None = None,
) -> Spotting:
    """Follow the face through a clip, measure its motion and find every facial movement, as a stream.

    Args:
        frames: (seconds, (H, W, 3) uint8 RGB) pairs in order (:meth:`mer.spotting.source.FrameSource.frames`,
            :meth:`mer.spotting.source.Clip.timed`), or bare frames (frame i at i / fps); all of one size.
        fps: the nominal frame rate (a variable-rate video's frames keep their own times).
        name: names the clip in messages.
        given: (onset, apex) frame indices of one known movement: that is the only event (kind micro, signal
            "given"); the curves are still measured.
        progress: called as progress(fraction, message) while the frames are read (fraction of `expected`).
        expected: how many frames to expect (for progress), None when unknown.

    Raises:
        InputError: no frames, fewer than two, no face in any frame, a given onset/apex outside the clip or where
            there is no face.
    """
    spotter = _Spotter(float(fps) if fps and fps > 0 else 30.0, name, given, progress, expected)
    for i, item in enumerate(frames):
        if isinstance(item, tuple):
            spotter.push(float(item[0]), item[1])
        else:
            spotter.push(i / spotter.fps, item)
    return spotter.finish()


class _Spotter:
    """The state of one stream (see the module docstring); frames go in by :meth:`push`, :meth:`finish` answers."""

    def __init__(self, fps: float, name: str, given, progress: Progress | None, expected: int | None) -> None:
        from mer.spotting import track

        self.fps, self.name, self.given, self.progress, self.expected = fps, name, given, progress, expected
        # chunks start on the frames where tracking the whole clip at once would detect and fit landmarks, and
        # are tracked with one detection step more, so that the track is the one of the whole clip
        detect = max(1, int(round(track.DETECT_EVERY_S * fps)))
        base = math.lcm(detect, max(1, int(round(fps / track.LANDMARK_RATE))))
        self.chunk = base * max(1, math.ceil(CHUNK_S * fps / base))
        self.lookahead = detect
        self.length, self.hop = ev.window_sizes(fps)
        self.half = max(1, int(round(track.SMOOTH_S * fps)) | 1) // 2
        self.sample = max(1, int(round(fps * MASK_SAMPLE_S)))
        self.count = 0
        self.times = Growing(np.float64)
        self.present = Growing(bool, False)
        self.motion = Growing(np.float32)
        self.short = Growing(np.float32)
        self.eyelids = (Growing(np.float32), Growing(np.float32))  # openness of the image-left and -right eye
        self.src: dict[int, np.ndarray] = {}  # source frames still needed
        self.landmarks: dict[int, np.ndarray] = {}  # source-pixel landmarks of tracked frames still needed
        self.eyes: dict[int, np.ndarray] = {}  # (4,) eye centres of tracked frames still needed
        self.crops: dict[int, np.ndarray] = {}
        self.crop_landmarks: dict[int, np.ndarray] = {}
        self.pending: list[int] = []  # frames not yet tracked
        self.tracked = 0  # frames < tracked have their presence known
        self.warped = 0  # frames < warped have their crop (when present)
        self.run_start: int | None = None  # the current stretch of face, for the windows
        self.face_run_start = 0  # the stretch of face of the next frame to warp, for the smoothing
        self.next_window = 0
        self.windows = 0
        self.faces_found = 0
        self.brief: list[Event] = []
        self.longer: list[Event] = []
        self.short_events: list[Event] = []
        self.kept: dict[int, tuple[Event, EventFrames]] = {}  # id(event) -> the event, its frames
        self.given_frames: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self.detected: dict[int, list] = {}  # faces found on the frames after the last chunk (its lookahead)
        self.shared_flows: dict | None = None  # short flows kept across windows (the live spotter's overlap)
        self.face_crop: np.ndarray | None = None
        self.seconds = {"track": 0.0, "align": 0.0, "spot": 0.0}
        self.shape: tuple[int, ...] | None = None
        self.last_report = -1.0

    # ---------------------------------------------------------------------------------------------- frames in

    def push(self, seconds: float, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if self.shape is None:
            self.shape = frame.shape
        elif frame.shape != self.shape:
            raise InputError(
                f"{self.name}: frame {self.count} is {frame.shape[1]}x{frame.shape[0]} but the first frame is "
                f"{self.shape[1]}x{self.shape[0]}; all frames of a clip must have one size"
            )
        i = self.count
        self.count += 1
        self.times.put(i, np.array([seconds]))
        self.src[i] = frame
        self.pending.append(i)
        if len(self.pending) >= self.chunk + self.lookahead:
            self._track(self.chunk)
            self._advance(final=False)
        self._report(seconds)

    def _report(self, seconds: float) -> None:
        if self.progress is None or seconds - self.last_report < PROGRESS_EVERY_S:
            return
        self.last_report = seconds
        if self.expected:
            self.progress(min(self.count / self.expected, 1.0), f"spotting: {seconds:.1f} s of the video read")
        else:
            self.progress(0.0, f"spotting: {seconds:.1f} s of the video read")

    # ------------------------------------------------------------------------------------------ the face track

    def _track(self, keep: int | None = None) -> None:
        """Follow the face over the pending frames and settle the first `keep` of them (all when None)."""
        from mer.spotting import face, track

        if not self.pending:
            return
        tick = time.perf_counter()
        seen = self.pending
        keep = len(seen) if keep is None else keep
        indices, self.pending = seen[:keep], seen[keep:]
        known = {k: self.detected[i] for k, i in enumerate(seen) if i in self.detected}
        self.detected = {}
        try:
            followed = track.track_face([self.src[i] for i in seen], self.fps, name=self.name, known=known)
        except InputError:  # no face in this chunk
            self.present.put(indices[0], np.zeros(len(indices), bool))
        else:
            # the next chunk starts in this one's lookahead: its frames' detections are not made again
            self.detected = {seen[k]: found for k, found in followed.found.items() if k >= keep}
            self.present.put(indices[0], followed.present[:keep])
            self.faces_found = max(self.faces_found, followed.faces_found)
            for k, i in enumerate(indices):
                if followed.present[k]:
                    self.landmarks[i] = followed.landmarks[k]
                    self.eyes[i] = np.concatenate(face.eye_centers(followed.landmarks[k]))
                    for side, value in zip(self.eyelids, face.eyelid_openness(followed.landmarks[k]), strict=True):
                        side.put(i, np.array([value], np.float32))
        self.tracked = indices[-1] + 1
        self.seconds["track"] += time.perf_counter() - tick

    # --------------------------------------------------------------------------------------- crops and windows

    def _run_end(self, i: int) -> int | None:
        """The first frame after i without the face, when known (tracked); None when the stretch goes on past
        what is tracked."""
        present = self.present.data
        for j in range(i + 1, min(i + self.half + 1, self.tracked)):
            if not present[j]:
                return j
        return None

    def _advance(self, final: bool) -> None:
        from mer.spotting import face, track

        present = self.present.data
        while self.warped < self.tracked:
            i = self.warped
            if present[i]:
                end = self._run_end(i)
                if end is None and i + self.half >= self.tracked and not final:
                    break  # the smoothing needs frames not yet tracked
                tick = time.perf_counter()
                if i == 0 or not present[i - 1]:
                    self.face_run_start = i
                last = (end if end is not None else self.tracked) - 1
                near = [min(max(j, self.face_run_start), last) for j in range(i - self.half, i + self.half + 1)]
                lx, ly, rx, ry = np.mean([self.eyes[j] for j in near], axis=0)
                transform = face.similarity_from_eyes(np.array([lx, ly]), np.array([rx, ry]))
                self.crops[i] = track.warp(self.src[i], transform)
                self.crop_landmarks[i] = face.transform_points(self.landmarks[i], transform)
                if self.face_crop is None:
                    self.face_crop = self.crops[i]
                self.seconds["align"] += time.perf_counter() - tick
            if self.given is not None and i in self.given:
                self.given_frames[i] = (self.src[i], self.landmarks.get(i))
            self.warped += 1
            self._windows_at(i)
        self._release()

    def _windows_at(self, i: int) -> None:
        """Measure the windows that frame i (just warped) completes: a window (a, a + length) once frame
        a + length has the face too (see :func:`mer.spotting.events.windows`), and the last windows of a stretch
        when it ends."""
        if self.present.data[i]:
            if self.run_start is None:
                self.run_start, self.next_window = i, i
            while self.next_window + self.length <= i:
                self._window(self.next_window, self.next_window + self.length)
                self.next_window += self.hop
        elif self.run_start is not None:
            self._close_run(i)

    def _close_run(self, stop: int) -> None:
        windows = ev.windows(self.run_start, stop, self.fps)
        for start, end in windows:
            if start >= self.next_window or (start, end) == windows[-1]:
                self._window(start, end)
        self.run_start = None

    def _window(self, start: int, stop: int) -> None:
        tick = time.perf_counter()
        crops = np.stack([self.crops[j] for j in range(start, stop)])
        sampled = [self.crop_landmarks[j] for j in range(start, stop, self.sample)]
        found = analyse_window(start, crops, sampled, self.fps, events=self.given is None, shared=self.shared_flows)
        self.motion.put(start, found.curves["all"])
        if found.short_curve is not None:
            self.short.put(start, found.short_curve)
        (self.brief if ev.is_brief(start, stop, self.fps) else self.longer).extend(found.peaks)
        self.short_events.extend(found.short)
        for event in found.peaks + found.short:
            self.kept[id(event)] = (event, self._frames_of(event))
        self.windows += 1
        self._forget(start)
        self.seconds["spot"] += time.perf_counter() - tick

    def _frames_of(self, event: Event) -> EventFrames:
        """A micro event's onset and apex warped by one similarity from the face's landmarks at its onset (what
        the model is given: no jitter between them); another event's crops from the face track."""
        from mer.spotting import face

        if event.kind != "micro":
            return EventFrames(self.crops[event.onset], self.crops[event.apex], self.crop_landmarks[event.onset])
        aligned = face.FaceAligner().align(
            [self.src[event.onset], self.src[event.apex]], ref=0, landmarks=self.landmarks[event.onset]
        )
        return EventFrames(aligned.frames[0], aligned.frames[1], aligned.landmarks, "onset")

    def _forget(self, start: int) -> None:
        """Drop the frames of candidates that the rule has already left out and that no later window can bring
        back (they end a window length before the newest window's start), and those of macro events weaker than
        the MACRO_CROPS strongest. Only recent candidates are weighed (older ones are settled)."""
        settled = start - self.length
        recent = start - 3 * self.length
        pick = [[e for e in group if e.offset >= recent] for group in (self.brief, self.longer, self.short_events)]
        standing = {id(_candidate(e)) for e in ev.decide(*pick)}
        for group in pick:
            for event in group:
                if id(event) not in standing and event.offset < settled:
                    self.kept.pop(id(event), None)
        macro = sorted(
            (e for e, _ in self.kept.values() if e.kind == "macro" and e.offset < settled),
            key=lambda e: -e.strength,
        )
        for event in macro[MACRO_CROPS:]:
            self.kept.pop(id(event), None)

    def _release(self) -> None:
        """Drop source frames, crops and landmarks that no window still to come needs."""
        keep_from = self.warped
        if self.run_start is not None:
            keep_from = min(self.next_window, self.warped - self.length)
        keep_from = min(keep_from, self.warped - self.half - 1)
        for store in (self.src, self.crops, self.crop_landmarks, self.landmarks, self.eyes):
            for j in [j for j in store if j < keep_from]:
                del store[j]

    # ------------------------------------------------------------------------------------------------ the end

    def finish(self) -> Spotting:
        from mer.spotting import track
        from mer.spotting.source import check_length

        if self.count == 0:
            raise InputError(f"{self.name} has no frames; give at least one frame with a face")
        check_length(self.count, self.name.strip("'"))
        self._track()
        self._advance(final=True)
        if self.run_start is not None:
            self._close_run(self.count)
        present = self.present.array()[: self.count]
        if not present.any():
            raise InputError(
                f"no face found in {self.name}; use a well-lit, frontal, unobstructed face that fills a good part "
                "of the frame"
            )
        notes = track.presence_notes(present, self.fps, self.name)
        if self.faces_found > 1:
            notes.append(f"{self.faces_found} faces found in {self.name}; followed the largest")
        motion = np.where(present, _fit(self.motion.array(), self.count), np.nan).astype(np.float32)
        short = np.where(present, _fit(self.short.array(), self.count), np.nan).astype(np.float32)
        tick = time.perf_counter()
        if self.given is not None:
            events, kept, note = self._given(present)
        else:
            events = self._decide(short, present)
            strongest = sorted((e for e in events if e.kind == "macro"), key=lambda e: -e.strength)[:MACRO_CROPS]
            shown = {id(e) for e in strongest} | {id(e) for e in events if e.kind == "micro"}
            part = [id(_candidate(e)) for e in events]
            kept = {k: self.kept[part[k]][1] for k, e in enumerate(events) if part[k] in self.kept and id(e) in shown}
            note = spotting_note(self.windows)
        self.seconds["spot"] += time.perf_counter() - tick
        return Spotting(
            fps=self.fps,
            times=self.times.array()[: self.count],
            present=present,
            faces_found=self.faces_found,
            motion_curve=motion,
            short_curve=short,
            events=events,
            note=note,
            notes=notes,
            frames=kept,
            face_crop=self.face_crop,
            windows=self.windows,
            seconds=dict(self.seconds),
        )

    def _decide(self, short: np.ndarray, present: np.ndarray) -> list[Event]:
        """The clip's events by the one rule, given what it knows of the whole clip (the short-movement signal,
        the eyelids' openness per frame) where the rule takes them."""
        if not hasattr(ev, "ClipFacts"):
            return ev.decide(self.brief, self.longer, self.short_events)
        eyelids = np.stack([_fit(side.array(), self.count) for side in self.eyelids], axis=1)
        eyelids[~present] = np.nan
        return ev.decide(self.brief, self.longer, self.short_events, ev.ClipFacts(self.fps, short, eyelids))

    def _given(self, present: np.ndarray) -> tuple[list[Event], dict[int, EventFrames], str]:
        onset, apex = self.given
        if not (0 <= onset < apex < self.count):
            raise InputError(
                f"onset {onset} and apex {apex} are not valid: they need 0 <= onset < apex <= {self.count - 1}, "
                f"since the clip has {self.count} frames counted from 0"
            )
        if not (present[onset] and present[apex]):
            raise InputError(
                f"no face at the given onset ({onset}) or apex ({apex}) of {self.name}; the face is in frames "
                + ", ".join(f"{a}-{b - 1}" for a, b in runs(present))
            )
        curve = self.motion.array()
        strength = float(np.nan_to_num(curve[apex] - curve[onset])) if len(curve) > apex else 0.0
        event = Event(onset, apex, apex, strength, "micro", "micro: onset and apex given", signal="given")
        (src_onset, lm_onset), (src_apex, _) = self.given_frames[onset], self.given_frames[apex]
        return [event], {0: self._align_given(src_onset, src_apex, lm_onset)}, f"onset {onset} and apex {apex} given"

    def _align_given(self, onset: np.ndarray, apex: np.ndarray, landmarks: np.ndarray) -> EventFrames:
        """Given onset and apex: aligned by the landmarks fitted on the onset frame itself (the track's where
        the detector misses it)."""
        from mer.spotting import face

        try:
            aligned = face.FaceAligner().align([onset, apex], ref=0)
        except InputError:
            aligned = face.FaceAligner().align([onset, apex], ref=0, landmarks=landmarks)
        return EventFrames(aligned.frames[0], aligned.frames[1], aligned.landmarks, "onset")


def _candidate(event: Event) -> Event:
    """The candidate an event of the rule grew from (a macro event joined from several candidates keeps the frames
    of its `origin`), or the event itself."""
    return getattr(event, "origin", None) or event


def _fit(values: np.ndarray, count: int) -> np.ndarray:
    """`values` cut or padded with NaN to `count`."""
    return np.concatenate([values, np.full(max(0, count - len(values)), np.nan, values.dtype)])[:count]
