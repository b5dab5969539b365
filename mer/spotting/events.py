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

from dataclasses import dataclass
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

    label and probabilities: deprecated here (the answer's, :class:`mer.inference.Prediction`, holds them); kept
    while the page still reads them from the event."""

    onset: int
    apex: int
    offset: int
    strength: float
    kind: str = "macro"
    reason: str = ""
    label: str | None = None
    probabilities: dict[str, float] | None = None
    signal: str = "motion"
    region: str = "all"

    def to_json(self, fps: float, times: np.ndarray | None = None) -> dict:
        """The event as SPOTTING.md gives it: onset, apex, offset, start_s, end_s (from the frames' own times
        when `times` ((N,) seconds) is given, else frame / fps), kind, strength, reason, signal, region (and label,
        probabilities for micro events, when set)."""

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
        if self.kind == "micro":
            out["label"] = self.label
            out["probabilities"] = {k: round(float(v), 6) for k, v in (self.probabilities or {}).items()}
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
    second = np.diff(values, 2)
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
        if prominence < NOISE_FACTOR * quiet:
            continue
        onset = int(np.clip(np.floor(lo), 0, apex - 1))
        offset = int(np.clip(np.ceil(hi), apex, len(values) - 1))
        events.append(Event(onset, int(apex), offset, float(prominence)))
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
SHORT_NOISE_FACTOR = 9.0  # ...and this many times the frame-to-frame noise of its curve there (within NOISE_S)
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
        if values[peak] - floor < max(SHORT_NOISE_FACTOR * noise_level(near), SHORT_MIN_PX):
            continue
        onset = int(np.clip(round(peak - (peak - lo) / (1 - SHORT_EDGE)), 0, max(peak - 1, 0)))
        offset = int(np.clip(round(peak + (hi - peak) / (1 - SHORT_EDGE)), peak + 1, len(values) - 1))
        events.append(Event(onset, int(peak), offset, float(values[peak] - floor)))
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


def decide(brief: list[Event], longer: list[Event], short: list[Event]) -> list[Event]:
    """THE rule for a clip's events, one per movement: the motion curve's peaks of brief windows (:func:`is_brief`:
    a face seen that briefly, or a clip that is one database sample starting at its onset) as they are; of longer
    windows, only the macro ones (a micro-expression there is found by the short-movement signal, which also
    finds fast large movements); and the short movements (:func:`find_short_events`). Returns them in time
    order (:func:`merge`)."""
    longer_macro = [e for e in merge(longer) if e.kind == "macro"]
    return merge(merge(brief) + longer_macro + short)


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


def summary(events: list[Event], fps: float, salient: Event | None) -> str:
    """One plain sentence on what was found, e.g. "no micro-expression found; two ordinary expressions at 1.2 s
    and 3.4 s"."""
    micro = [e for e in events if e.kind == "micro"]
    macro = [e for e in events if e.kind == "macro"]
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

    def at(items: list[Event]) -> str:
        times = [f"{e.apex / fps:.1f} s" for e in sorted(items, key=lambda e: e.apex)]
        return times[0] if len(times) == 1 else ", ".join(times[:-1]) + " and " + times[-1]

    if micro and salient is not None:
        first = f"{words.get(len(micro), len(micro))} micro-expression{'s' if len(micro) > 1 else ''} at {at(micro)}"
        first += f"; the clearest, at {salient.apex / fps:.1f} s, looks like {salient.label}"
        if salient.probabilities and salient.label in salient.probabilities:
            first += f" ({salient.probabilities[salient.label]:.0%})"
    else:
        first = "no micro-expression found"
    if macro:
        n = len(macro)
        second = f"{words.get(n, n)} ordinary expression{'s' if n > 1 else ''} at {at(macro)}"
    else:
        second = "no ordinary expression either" if not micro else "no ordinary expression"
    return f"{first}; {second}"
