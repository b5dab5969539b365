"""Every facial movement of a clip as an event (onset, apex, offset), each called micro or macro.

Two spotters, because a micro-expression often rides on a larger, longer movement (a twitch during a held smile):

- longer movements, on the motion curve (:func:`mer.spotting.motion.motion_curve`: head motion, blinks and flicker
  taken out), which measures how far each frame has moved from a reference frame. Over a long clip one reference
  is too far from most frames (the face turns, the light changes, expressions pile up), so the curve is measured
  in overlapping windows of WINDOW_S, WINDOW_HOP_S apart, each against its own first frame: an event up to
  WINDOW_S - WINDOW_HOP_S long lies whole inside one window. Each window has one curve for the whole face and one
  per AU region (a lip corner's movement is a tenth of the mouth, but a hundredth of the face). Peaks that stand
  out from their curve's noise near them are events; the same movement seen in two windows or two regions is
  kept once. These give the macro events (:func:`find_events`).
- short movements, on flows between frames a fraction of a second apart (:mod:`mer.spotting.short_motion`): where the
  face went somewhere and came back. A candidate is dropped when the eyes' own change says it is a blink, or when
  the face ends up far from where it started (the start or end of a longer movement, which the motion curve
  reports). These give the micro events, and fast large movements as macro ones (:func:`find_short_events`).

Micro or macro (../shared/SPOTTING.md; CASME II's selection rule): an event is micro when it moves the face by at
most MICRO_MAX_PX (crop pixels, eyes 88 px apart) and lasts at most MICRO_MAX_S from onset to offset or reaches
its apex within MICRO_MAX_RISE_S; the event's `reason` says which rule decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

WINDOW_S = 3.0  # each window's curve is measured against its own first frame
WINDOW_HOP_S = 2.0  # windows start this far apart: they overlap by 1 s, longer than any micro-expression
SMOOTH_S = 0.025  # as motion.SMOOTH_S: 5 frames at 200 fps, none at 30 fps
MIN_EVENT_PX = 0.25  # an event stands this far (crop px) above its surroundings at least...
NOISE_FACTOR = 7.0  # ...and this many times the curve's frame-to-frame noise within NOISE_S of its apex
NOISE_S = 0.5  # flow errors grow with the displacement: a held smile is noisier than the still face before it
EDGE_HEIGHT = 0.9  # onset and offset: where the movement is within 10% of its base
MICRO_MAX_S = 0.5
MICRO_MAX_RISE_S = 0.25
MICRO_MAX_PX = 4.0  # a micro-expression moves the face by a pixel or a few; a broad smile moves it by 5-10
KINDS = ("micro", "macro")


@dataclass
class Event:
    """One facial movement, a spotting fact. onset, apex, offset: frame indices of the clip as read (0-based);
    strength: how far the apex stands above the movement's base (crop pixels); kind: "micro" or "macro", reason:
    which rule said so; signal: the curve it was found on ("motion": the motion curve, "short": the
    short-movement signal, "given": onset and apex given); region: the AU region of that curve ("all": the face).
    A micro event's name is the answer's (:class:`mer.inference.Prediction` ``labels``), not the event's."""

    onset: int
    apex: int
    offset: int
    strength: float
    kind: str = "macro"
    reason: str = ""
    signal: str = "motion"
    region: str = "all"
    clear: float = 0.0  # how many times the noise of its curve near it the event stands (candidates' evidence)
    hold: tuple[int, int] | None = None  # a motion-curve event's plateau (frames at HOLD_HEIGHT of it or more)
    open_end: bool = False  # the movement was still held when its window ended (it may go on in the next one)
    origin: Event | None = field(default=None, repr=False, compare=False)  # the candidate a joined event grew from

    def to_json(self, fps: float, times: np.ndarray | None = None) -> dict:
        """The event as SPOTTING.md gives it: onset, apex, offset, start_s, end_s (from the frames' own times
        when `times` ((N,) seconds) is given, else frame / fps), kind, strength, reason, signal, region (the answer adds
        a micro event's label and probabilities: Prediction.events_json, LiveSession)."""

        def seconds(frame: int) -> float:
            if times is not None and 0 <= frame < len(times):
                return round(float(times[frame]), 4)
            return round(frame / fps, 4)

        out = {
            "onset": int(self.onset),
            "apex": int(self.apex),
            "offset": int(self.offset),
            "start_s": seconds(self.onset),
            "end_s": seconds(self.offset),
            "kind": self.kind,
            "strength": round(float(self.strength), 4),
            "reason": self.reason,
            "signal": self.signal,
            "region": self.region,
        }
        return out


def window_sizes(fps: float) -> tuple[int, int]:
    """(length, hop) of the motion curve's windows in frames at `fps` (WINDOW_S, WINDOW_HOP_S)."""
    return max(3, int(round(WINDOW_S * fps))), max(1, int(round(WINDOW_HOP_S * fps)))


def windows(start: int, stop: int, fps: float) -> list[tuple[int, int]]:
    """Overlapping (start, stop) windows covering frames start..stop-1; the last one ends at stop."""
    length, hop = window_sizes(fps)
    if stop - start <= length:
        return [(start, stop)]
    out = [(a, a + length) for a in range(start, stop - length, hop)]
    out.append((stop - length, stop))
    return out


def _smooth(values: np.ndarray, fps: float) -> np.ndarray:
    """Moving mean over SMOOTH_S (an odd number of frames), edges extended."""
    from mer.spotting.signal import moving_mean

    return moving_mean(values, max(1, int(round(SMOOTH_S * fps)) | 1))


def noise_level(values: np.ndarray) -> float:
    """Frame-to-frame noise of a curve (px): the robust standard deviation of its second differences / sqrt(6)
    (white noise of std s has second differences of std s * sqrt(6); smooth movements have almost none)."""
    if len(values) < 4:
        return 0.0
    return second_difference_noise(np.diff(values, 2))


def second_difference_noise(second: np.ndarray) -> float:
    """The frame-to-frame noise (px) that second differences `second` of a curve show (see :func:`noise_level`)."""
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / np.sqrt(6.0))


def _closed_peaks(values: np.ndarray, min_prominence: float, rel_height: float) -> tuple:
    """Peaks of `values` closed by 0 on both sides (a movement under way at an edge keeps its full height): (apex
    indices into `values`, prominences, left and right edges at `rel_height` of each prominence, fractional
    indices into `values`)."""
    from scipy.signal import find_peaks, peak_widths

    closed = np.concatenate([[0.0], values, [0.0]])
    found, props = find_peaks(closed, prominence=min_prominence)
    if not len(found):
        return found, props["prominences"], np.zeros(0), np.zeros(0)
    _, _, left, right = peak_widths(
        closed,
        found,
        rel_height=rel_height,
        prominence_data=(props["prominences"], props["left_bases"], props["right_bases"]),
    )
    return found - 1, props["prominences"], left - 1, right - 1


HOLD_HEIGHT = 0.8  # a movement's hold: from where it first reaches 80% of its height above its base to where it last is
OPEN_HEIGHT = 0.5  # still at half its height at its window's end: the expression was still on when the window ended


def _plateau(smooth: np.ndarray, onset: int, apex: int, offset: int, prominence: float) -> tuple[int, int]:
    """(first, last) frame within onset..offset where `smooth` is at HOLD_HEIGHT of the prominence above the
    peak's base or higher: the hold of an expression; before it is its rise, after it its fall."""
    level = smooth[apex] - (1.0 - HOLD_HEIGHT) * prominence
    above = np.flatnonzero(smooth[onset : offset + 1] >= level) + onset
    return (int(above[0]), int(above[-1])) if len(above) else (apex, apex)


def peaks(values: np.ndarray, fps: float) -> list[Event]:
    """Events on one window's curve (`values`: (n,) px against the window's first frame), frame indices into it.

    The curve is closed by its reference level (0) on both sides, so a movement still under way at the window's
    edge keeps its full height and reaches that edge. Events nested inside a stronger one are dropped (its
    wobbles are not separate movements).
    """
    values = np.asarray(values, dtype=np.float64).copy()
    if len(values) < 3:
        return []
    values[0] = values[1]  # the reference frame's own flow is 0, below the noise every other frame shows
    smooth = _smooth(values, fps)
    apexes, prominences, left, right = _closed_peaks(smooth - smooth.min(), MIN_EVENT_PX, EDGE_HEIGHT)
    reach = max(4, int(round(NOISE_S * fps)))
    noise = np.array([noise_level(values[max(0, a - reach) : a + 1 + reach]) for a in apexes])
    events = []
    for apex, prominence, lo, hi, quiet in zip(apexes, prominences, left, right, noise, strict=True):
        if prominence < NOISE_FACTOR * quiet or apex == 0:
            continue  # (an apex at the reference frame: the face was already moving back; no onset in this window)
        onset = int(np.clip(np.floor(lo), 0, apex - 1))
        offset = int(np.clip(np.ceil(hi), apex, len(values) - 1))
        event = Event(onset, int(apex), offset, float(prominence), clear=float(prominence / max(quiet, 1e-6)))
        event.hold = _plateau(smooth, onset, int(apex), offset, float(prominence))
        event.open_end = bool(smooth[-1] >= smooth[apex] - (1.0 - OPEN_HEIGHT) * prominence)
        events.append(event)
    events.sort(key=lambda e: -e.strength)
    kept: list[Event] = []
    for event in events:
        if not any(k.onset <= event.onset and event.offset <= k.offset for k in kept):
            kept.append(event)
    return sorted(kept, key=lambda e: e.apex)


def classify(event: Event, fps: float) -> Event:
    """Set `kind` and `reason` from the event's amplitude, duration and onset phase (module docstring)."""
    duration = (event.offset - event.onset) / fps
    rise = (event.apex - event.onset) / fps
    facts = f"{duration:.2f} s long, apex after {rise:.2f} s, {event.strength:.1f} px"
    if event.strength > MICRO_MAX_PX:
        event.kind, why = "macro", f"moves more than {MICRO_MAX_PX:g} px, larger than a micro-expression"
    elif duration <= MICRO_MAX_S:
        event.kind, why = "micro", f"lasts at most {MICRO_MAX_S:g} s"
    elif rise <= MICRO_MAX_RISE_S:
        event.kind, why = "micro", f"reaches its apex within {MICRO_MAX_RISE_S:g} s"
    else:
        event.kind, why = "macro", f"lasts over {MICRO_MAX_S:g} s and takes over {MICRO_MAX_RISE_S:g} s to its apex"
    event.reason = f"{event.kind}: {why} ({facts})"
    return event


SHORT_MIN_PX = 0.3  # a short movement's bump (mer.spotting.short_motion) stands this far above the floor near it...
SHORT_NOISE_FACTOR = 15.0  # ...and this many times the frame-to-frame noise of its curve there (within NOISE_S)
SHORT_CANDIDATE_FACTOR = 4.0  # candidates stand this clear; decide() asks SHORT_NOISE_FACTOR (tuned there)
SHORT_FLOOR_PERCENTILE = 40  # the floor: this percentile of the curve within NOISE_S
SHORT_EDGE = 0.5  # onset and offset: twice as far from the apex as where the bump falls to half its height
SHORT_PAD_S = 0.1  # where a short movement starts from and ends at: this long before its onset and after its offset
BLINK_FACTOR = 5.0  # the eye openings changed this many times more than they usually do in the window: a blink
RETURN_FRACTION = 0.75  # ends further than this fraction of the way to its apex: part of a longer movement
SHORT_MIN_S = 1.0  # shorter stretches of face (a clip that is one sample) are left to the motion curve alone


def short_peaks(values: np.ndarray, fps: float) -> list[Event]:
    """Candidate short movements on one bump curve (`values`: (n,) px), frame indices into it; strength: the
    bump's height above the curve's floor within NOISE_S. A bump traces the movement itself (for movements up to
    twice the lag), so its onset and offset lie twice as far from the apex as its half-height points."""
    values = np.asarray(values, dtype=np.float64)
    apexes, _, left, right = _closed_peaks(values, SHORT_MIN_PX, SHORT_EDGE)
    reach = max(4, int(round(NOISE_S * fps)))
    events = []
    for peak, lo, hi in zip(apexes, left, right, strict=True):
        near = values[max(0, peak - reach) : peak + reach]
        near = near[near > 0]  # frames without a frame `lag` before and after have no bump
        floor = float(np.percentile(near, SHORT_FLOOR_PERCENTILE))
        quiet = noise_level(near)
        if values[peak] - floor < max(SHORT_CANDIDATE_FACTOR * quiet, SHORT_MIN_PX):
            continue
        onset = int(np.clip(round(peak - (peak - lo) / (1 - SHORT_EDGE)), 0, max(peak - 1, 0)))
        offset = int(np.clip(round(peak + (hi - peak) / (1 - SHORT_EDGE)), peak + 1, len(values) - 1))
        height = float(values[peak] - floor)
        events.append(Event(onset, int(peak), offset, height, clear=height / max(quiet, 1e-6)))
    return events


def judge_short(event: Event, region: str, rise: float, net: float, blink: float, fps: float) -> Event | None:
    """A candidate short movement of `region` as an event, or None when it is not one: a blink (the eyes changed
    `blink` times more than usual), or part of a longer movement (the face ended `net` px from where it started,
    against `rise` px to the apex). Otherwise micro or macro by :func:`classify`, its strength the `rise`."""
    if blink > BLINK_FACTOR or net > RETURN_FRACTION * rise:
        return None
    event.strength = rise
    classify(event, fps)
    event.reason += f"; returns to where it started (the {region.replace('_', ' ')} region)"
    return event


def find_short_events(windows: list[tuple[int, int, dict[str, np.ndarray], Any]], fps: float) -> list[Event]:
    """Short movements of a clip, from each window's bump curves (:class:`mer.spotting.short_motion.ShortFlows`).

    Args:
        windows: (start, stop, curves, flows) per window: `curves` name -> (stop - start,) px bump curve per
            region and "blink" (the eyes' change), `flows` has ``moved(i, j, region)`` (px from frame i to j of
            the window).
        fps: the clip's frame rate.

    Returns:
        micro and macro events (clip frame indices), each found in one region; duplicates are left to :func:`merge`.
    """
    found = []
    pad = max(1, int(round(SHORT_PAD_S * fps)))
    for start, stop, curves, flows in windows:
        blink = curves["blink"]
        usual = float(np.median(blink[blink > 0])) if (blink > 0).any() else 0.0
        for region, values in curves.items():
            if region == "blink":
                continue
            for event in short_peaks(values, fps):
                before, after = max(0, event.onset - pad), min(stop - start - 1, event.offset + pad)
                rise, net = flows.moved(before, event.apex, region), flows.moved(before, after, region)
                eyes = float(blink[event.onset : event.offset + 1].max()) / usual if usual > 0 else 0.0
                kept = judge_short(event, region, rise, net, eyes, fps)
                if kept is not None:
                    kept.signal, kept.region = "short", region
                    kept.onset, kept.apex, kept.offset = kept.onset + start, kept.apex + start, kept.offset + start
                    found.append(kept)
    return found


def _iou(a: Event, b: Event) -> float:
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    union = max(a.offset, b.offset) - min(a.onset, b.onset) + 1
    return max(inter, 0) / union


def _same(a: Event, b: Event) -> bool:
    """Whether two events are one movement: they overlap by IoU >= 0.5, or (of one kind) each holds the other's
    apex. A micro event inside a macro one is a movement of its own (a twitch during a held smile)."""
    if _iou(a, b) >= 0.5:
        return True
    return a.kind == b.kind and b.onset <= a.apex <= b.offset and a.onset <= b.apex <= a.offset


def merge(events: list[Event]) -> list[Event]:
    """One event per movement (:func:`_same`): the strongest is kept. Returns them in time order."""
    kept: list[Event] = []
    for event in sorted(events, key=lambda e: -e.strength):
        same = any(_same(event, k) for k in kept)
        if not same:
            kept.append(event)
    return sorted(kept, key=lambda e: (e.onset, e.apex))


def window_peaks(start: int, curves: dict[str, np.ndarray], fps: float) -> list[Event]:
    """Every classified peak of one window's curves (`curves`: region -> (n,) px against frame `start`), clip frame
    indices, each tagged with the region it was found on; not yet merged."""
    found = []
    for region, values in curves.items():
        for event in peaks(values, fps):
            event.onset, event.apex, event.offset = event.onset + start, event.apex + start, event.offset + start
            if event.hold is not None:
                event.hold = (event.hold[0] + start, event.hold[1] + start)
            event.signal, event.region = "motion", region
            found.append(classify(event, fps))
    return found


def find_events(curves: list[tuple[int, int, np.ndarray]], fps: float) -> list[Event]:
    """All events of a clip from its window curves.

    Args:
        curves: (start, stop, values) per window: `values` (stop - start,) px, the motion of frames start..stop-1
            against frame `start`; windows may overlap (see :func:`windows`).
        fps: the clip's frame rate.

    Returns:
        events in time order with clip frame indices, kind and reason set (no labels yet).
    """
    return merge([e for start, _stop, values in curves for e in window_peaks(start, {"all": values}, fps)])


def is_brief(start: int, stop: int, fps: float) -> bool:
    """Whether a window is under SHORT_MIN_S: too short for short movements, its motion curve's micro events stand."""
    return stop - start < SHORT_MIN_S * fps


@dataclass
class ClipFacts:
    """What :func:`decide` knows of the whole clip besides the candidates. fps: frame rate; short_curve: (N,) crop
    px, the short-movement signal of every frame (NaN without a face), whose typical level is the person's own
    noise; eyelids: (N, 2) eyelid openness per frame (:func:`mer.spotting.face.eyelid_openness`, NaN without a
    face), whose dips are blinks. Either may be None (not measured)."""

    fps: float
    short_curve: np.ndarray | None = None
    eyelids: np.ndarray | None = None


# The trust settings. The noise guards (SHORT_NOISE_FACTOR, PERSON_FACTOR, PERSON_PERCENTILE) stay where they were
# set with dlib's landmarks: on synthetic tuning clips, under the constraint that tests/test_real_faces.py's AU12
# during the man's held smile is found and his smile forward then back gives no micro event. The tuning clips cannot
# choose them: their still stretches read 0.06-0.23 px on the short signal, real faces 0.5-0.8 px; chosen there alone
# (7, 2.5 and 25), they let 6.3 false micro events a minute through on the real ordinary videos (benchmarks/results/
# realfaces/README.md). The rest (EDGE_PAD_S, EDGE_RATIO, BLINK_DIP) was chosen on the tuning clips given those guards
# (benchmarks/trust.py, `python -m benchmarks.realfaces --tune`: clips 20-33 with 42 micro-expressions put in, and the
# same clips without them played forward then back, 2.8 min), with the face mesh tracking and the short flows at half
# size: micro F1 0.576 (recall 0.40, precision 1.0) at 1.43 false micro events a minute there.
PERSON_FACTOR = 2.0  # a micro event moves this many times the person's typical short movement over the clip...
PERSON_PERCENTILE = 25  # ...that level: this percentile of the short signal where the face is (its still stretches)
EDGE_PAD_S = 0.0  # a micro event within this of where a macro movement changes course is part of it...
EDGE_RATIO = 0.75  # ...when that movement is at least this many times as large (the two signals measure size apart)
MACRO_MAX_JOINED_S = 5.0  # expressions last 0.5-4 s (SPOTTING.md); a smile's rise and fall seen apart stay one
RETURN_SIZE = 2.0  # an expression's way back moves about as far as its way there (within this factor)
MACRO_NOISE_FACTOR = 1.0  # a macro movement moves at least the person's typical short movement
BLINK_DIP = 0.05  # a blink: the eyelids' openness this far below its running median...
BLINK_MEDIAN_S = 1.0  # ...over this long (a smile's squint lowers the median with it; a blink is a dip)
BLINK_REGIONS = ("ocular_brow", "cheek", "nasal", "all")  # the regions a blink's skin motion reaches


def person_noise(short_curve: np.ndarray | None) -> float:
    """The person's own level of short movement over the whole clip (crop px): PERSON_PERCENTILE of the
    short-movement signal where it was measured. Most frames of a clip are still or slow, so this is the level of
    their still stretches (tracking jitter, compression, small head turns): someone who keeps moving has a higher
    one. 0 when unknown."""
    if short_curve is None:
        return 0.0
    values = np.asarray(short_curve, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.percentile(values, PERSON_PERCENTILE)) if len(values) >= 10 else 0.0


def blink_frames(eyelids: np.ndarray | None, fps: float) -> np.ndarray | None:
    """(N,) bool: frames where the eyes' openness (mean of both, (N, 2) input) dips BLINK_DIP below its running
    median over BLINK_MEDIAN_S; None when unknown."""
    if eyelids is None or not len(eyelids):
        return None
    from scipy.ndimage import median_filter

    lids = np.asarray(eyelids, dtype=np.float64).reshape(len(eyelids), -1)
    seen = np.isfinite(lids).sum(axis=1)  # frames without a face have none
    openness = np.where(seen > 0, np.where(np.isfinite(lids), lids, 0.0).sum(axis=1) / np.maximum(seen, 1), np.nan)
    known = np.isfinite(openness)
    if known.sum() < 3:
        return None
    filled = np.interp(np.arange(len(openness)), np.flatnonzero(known), openness[known])
    level = median_filter(filled, size=max(3, int(round(BLINK_MEDIAN_S * fps)) | 1), mode="nearest")
    return known & (level - filled > BLINK_DIP)


def macro_edges(macros: list[Event]) -> list[tuple[int, int, float]]:
    """Where each macro candidate changes course, (first, last frame, its strength in px): its onset, where it
    reaches its hold, where it leaves it and its offset (the last two only when it ended inside its window). A
    short movement that goes somewhere and comes back shows there (an overshoot as the smile arrives, its peak when
    it peaks and decays), not along a steady rise or fall, which the short signal does not see; a fast macro
    movement of the short signal is all change."""
    out = []
    for e in macros:
        if e.hold is None:
            out.append((e.onset, e.offset, e.strength))
            continue
        corners = [e.onset, e.hold[0]] + ([] if e.open_end else [e.hold[1], e.offset])
        out += [(c, c, e.strength) for c in corners]
    return out


def why_not_micro(
    event: Event, edges: list[tuple[int, int, float]], noise: float, blinks: np.ndarray | None, pad: int
) -> str:
    """ "" when a short micro candidate stands as a micro event, else why not (the field's practice). A macro
    candidate's rise or fall takes a micro candidate in when it moved at least EDGE_RATIO times as far (the motion
    curve sees a micro-expression too, as a weak, wide bump of its own; a quick expression that peaks and decays is
    all rise and fall, and its peak comes and goes like a micro-expression)."""
    if event.clear < SHORT_NOISE_FACTOR:
        return "within the noise of its curve"
    if event.strength < PERSON_FACTOR * noise:
        return "within the person's own noise"
    for a, b, strength in edges:  # where a macro movement changes course
        if strength >= EDGE_RATIO * event.strength and a - pad <= event.offset and event.onset <= b + pad:
            return "part of a larger movement's rise or fall"
    if blinks is not None and event.region in BLINK_REGIONS:
        if blinks[max(0, event.onset - pad) : event.offset + pad + 1].any():
            return "a blink"
    return ""


def one_per_expression(macros: list[Event], fps: float, pad: int) -> list[Event]:
    """One macro event per expression. A movement mostly (half or more) inside another one's span is part of it (a
    wobble during a held smile, its tail seen from a later window); two that are one movement (:func:`_same`, seen
    in two windows or regions) are one. A movement still on when its window ended (open_end) is continued, once, by
    the next one of about its size (within a factor RETURN_SIZE) starting within WINDOW_HOP_S of that end: the next
    window measures from the held face, so the expression's way back looks like a movement of its own. The joined
    event keeps the first part's apex (the way back peaks where the face is at rest again) and is closed: the next
    expression after a return is its own. A joined event lasts at most MACRO_MAX_JOINED_S; `origin` names the
    candidate its frames come from. `pad` is unused (kept for callers)."""
    out: list[Event] = []
    reach = int(round(WINDOW_HOP_S * fps))
    for event in sorted(macros, key=lambda e: (e.onset, -e.strength)):
        last = out[-1] if out else None
        if last is None:
            out.append(event)
        elif min(event.offset, last.offset) - event.onset + 1 >= 0.5 * (event.offset - event.onset + 1):
            # mostly inside the movement already there: part of it (a wobble, its tail seen from a later window)
            if event.offset > last.offset:
                out[-1] = _joined(last, last, event, fps, max(last, event, key=lambda e: e.strength), last.open_end)
        elif _same(event, last):
            strong = last if last.strength >= event.strength else event
            out[-1] = _joined(strong, last, event, fps, strong, last.open_end or event.open_end)
        elif (
            last.open_end
            and event.onset <= last.offset + reach
            and 1 / RETURN_SIZE <= event.strength / max(last.strength, 1e-6) <= RETURN_SIZE
            and max(last.offset, event.offset) - last.onset <= MACRO_MAX_JOINED_S * fps
        ):
            out[-1] = _joined(last, last, event, fps, max(last, event, key=lambda e: e.strength), False)
        else:
            out.append(event)
    return out


def _joined(first: Event, last: Event, event: Event, fps: float, strong: Event, open_end: bool) -> Event:
    """`last` and `event` as one macro event with `first`'s apex and `strong`'s strength and frames (origin)."""
    joined = replace(first, onset=min(last.onset, event.onset), offset=max(last.offset, event.offset))
    joined.strength, joined.origin, joined.open_end = strong.strength, strong.origin or strong, open_end
    joined.hold = ((last.hold or (last.apex,) * 2)[0], (event.hold or (event.apex,) * 2)[1])
    classify(joined, fps)
    joined.reason += "; one expression (its movements joined)"
    return joined


def decide(brief: list[Event], longer: list[Event], short: list[Event], clip: ClipFacts | None = None) -> list[Event]:
    """THE rule for a clip's events, one per movement: the motion curve's peaks of brief windows (:func:`is_brief`:
    a face seen that briefly, or a clip that is one database sample starting at its onset) as they are; of longer
    windows and of the short signal, the macro ones clear of the person's noise, one per expression
    (:func:`one_per_expression`); and the short signal's micro candidates that the field's practice keeps
    (:func:`why_not_micro`: clear of their curve's noise and of the person's own noise over the clip, not part of
    a macro movement's rise or fall, not a blink). Returns them in time order (:func:`merge`)."""
    fps = clip.fps if clip is not None else 30.0
    pad = int(round(EDGE_PAD_S * fps)) if clip is not None else 1
    longer_macro = [e for e in merge(longer) if e.kind == "macro"]
    short_macro = [e for e in short if e.kind == "macro"]
    edges = macro_edges([e for e in longer if e.kind == "macro"] + short_macro)
    noise = person_noise(clip.short_curve) if clip is not None else 0.0
    blinks = blink_frames(clip.eyelids, fps) if clip is not None else None
    micro = [e for e in short if e.kind == "micro" and not why_not_micro(e, edges, noise, blinks, pad)]
    macro = [e for e in longer_macro + short_macro if e.strength >= MACRO_NOISE_FACTOR * noise]
    return merge(merge(brief) + one_per_expression(macro, fps, max(pad, 1)) + micro)


def find_all_events(
    curves: list[tuple[int, int, np.ndarray]], short: list[tuple[int, int, dict[str, np.ndarray], Any]], fps: float
) -> list[Event]:
    """Every event of a clip held in memory (window curves and short flows; :func:`decide`). The streaming
    spotter (:mod:`mer.spotting.spot`) calls :func:`window_peaks` and :func:`decide` itself."""
    brief = [e for c in curves if is_brief(c[0], c[1], fps) for e in window_peaks(c[0], {"all": c[2]}, fps)]
    longer = [e for c in curves if not is_brief(c[0], c[1], fps) for e in window_peaks(c[0], {"all": c[2]}, fps)]
    return decide(brief, longer, find_short_events(short, fps))


def stitch(curves: list[tuple[int, int, np.ndarray]], count: int) -> np.ndarray:
    """(count,) float32 curve to show: each frame's value from the latest window that started before it, NaN
    where no window covers the frame (no face)."""
    out = np.full(count, np.nan, dtype=np.float32)
    for start, stop, values in sorted(curves, key=lambda c: c[0]):
        out[start:stop] = values
    return out


SUMMARY_TIMES = 5  # the summary names this many times of a kind, then "and N more"


def summary(
    events: list[Event], fps: float, salient: Event | None, label: str | None = None, probability: float | None = None
) -> str:
    """One plain sentence on what was found, e.g. "no micro-expression found; two ordinary expressions at 1.2 s
    and 3.4 s"; at most SUMMARY_TIMES times of each kind, then "and N more". salient: the clearest micro event,
    named `label` with `probability` by the model."""
    micro = [e for e in events if e.kind == "micro"]
    macro = [e for e in events if e.kind == "macro"]
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

    def at(items: list[Event]) -> str:
        times = [f"{e.apex / fps:.1f} s" for e in sorted(items, key=lambda e: e.apex)]
        if len(times) > SUMMARY_TIMES:  # the timeline and the JSON carry them all
            return ", ".join(times[:SUMMARY_TIMES]) + f" and {len(times) - SUMMARY_TIMES} more"
        return times[0] if len(times) == 1 else ", ".join(times[:-1]) + " and " + times[-1]

    if micro and salient is not None:
        first = f"{words.get(len(micro), len(micro))} micro-expression{'s' if len(micro) > 1 else ''} at {at(micro)}"
        first += f"; the clearest, at {salient.apex / fps:.1f} s, looks like {label}"
        if probability is not None:
            first += f" ({probability:.0%})"
    else:
        first = "no micro-expression found"
    if macro:
        n = len(macro)
        second = f"{words.get(n, n)} ordinary expression{'s' if n > 1 else ''} at {at(macro)}"
    else:
        second = "no ordinary expression either" if not micro else "no ordinary expression"
    return f"{first}; {second}"
