"""The rate a live stream is analysed at: the camera's, measured from the arrivals of its first frames, and when to
restart the session at a lower rate (the analysis falls behind, or the frames come slower than they did) or back at
a higher one (it keeps up again, and the frames come fast enough). A :class:`mer.spotting.live.LiveSession` counts
its windows in frames at its rate, so the frames it is given must come at that rate: fewer would stretch its
windows.
"""

from __future__ import annotations

import math

import numpy as np

STREAM_EVERY_S = 1 / 30  # the browser takes a picture this often (a camera's 30 fps; faster only repeats frames)
RATE_PROBE_S = 2.0  # the camera's frame rate is measured over this many seconds of its first frames (the page's
# stream stalls now and then: two seconds average over more stalls than one); the session starts after them
CAMERA_RATES = (5.0, 10.0, 12.0, 15.0, 20.0, 24.0, 25.0, 30.0, 50.0, 60.0)  # what cameras give; the measure snaps
RATE_TOLERANCE = 0.03  # a camera's 30 measured as 29.6 (arrival times jitter) is still 30; 24 is not 25 (4 % off)
STALL = 3.0  # a gap over this many times the median gap is a stall (a page's stream can stall as it starts)
BEHIND = 0.9  # the Analyst busy this share of the last BEHIND_S: the session restarts at a rate it keeps up with...
BEHIND_S = 3.0
FIT_SHARE = 0.8  # ...the highest camera rate whose frames its recent time per frame fills to this share at most
FALL_SHARE = 0.65  # a fall (behind, or the frames come slower) picks a rate the mean time per frame fills to this
# share at most: the page's machine is shared, and its time per frame rose from ~35 to ~50 ms within seconds there
# (load 5-7 on 2 cores): filled to 80 %, the session fell a second time 4-6 s after the first, into an expression
LOWEST_FALL = 10.0  # a fall never goes under this rate: at 5 a second the live spotter's 1 s windows hold 5 frames
# and a 0.3 s movement 1-2 of them (on the page, busy readings at 15 a second took a quiet machine's session down to 5
# and its restart's new baseline over the micro-expression); a machine slower than that analyses 10, skipping frames
UP_BUSY = 0.5  # at a rate below the camera's, the Analyst busy under this share of the last UP_S: the session
UP_S = 5.0  # restarts at the highest rate up to the camera's that its mean time per frame fills to FIT_SHARE...
STEADY_S = 10.0  # ...once it has run this long at its rate (each restart is a second blind: it must not flap)
# and the frames came over the last UP_S at the higher rate at least (within RATE_TOLERANCE)
DELIVERY_S = 3.0  # once a session has run this long (from the probe's end, or its restart), the frames that came
SLOWER = 0.85  # over the last DELIVERY_S under this share of its rate: it restarts at their rate, snapped down (the
# page's stream comes at ~28 a second during the probe, then at 12-21 once the analysis loads the machine). Short, so
# that the restart's new baseline is over before a visitor's first expression (a stream's first seconds are still)
DELIVERY_LONG_S = 6.0  # later, over the session's last this many seconds at most: over 3 s the page's stream came
# at 13-26 a second from one second to the next, and a session at 20 fell to 12 at 15 s, into an expression
STALL_S = 0.5  # a gap this long is a stall, not the rate (a camera's slowest frames come 0.2 s apart)
BUCKET = 3.0  # frames: up to this many that come together after a pause are all taken (the page's stream comes in
# bursts: frames spaced evenly would throw most of a burst away), while over a second no more than the rate are
QUEUE_S = 0.25  # frames taken but not yet analysed wait in a queue of this many seconds of the rate at most (at
# least 2 frames): a burst waits its turn instead of replacing the frame before it; when full, the oldest goes


def steady_gaps(times: np.ndarray) -> np.ndarray:
    """The gaps (seconds) between the arrivals `times` (seconds, ascending), less the longest one when it is a stall
    (over STALL times the median gap): a page's stream can stall as it starts (1.2 s before its second frame, once,
    on a loaded machine)."""
    gaps = np.diff(np.asarray(times, dtype=float))
    if len(gaps) >= 3 and gaps.max() > STALL * float(np.median(gaps)):
        gaps = np.delete(gaps, int(np.argmax(gaps)))
    return gaps


def arrival_rate(times: np.ndarray) -> float:
    """Frames a second that arrived at `times` (seconds): frames over the seconds they span, one stall left out.
    Not the median gap: a browser's stream sends most frames 33 ms apart but stalls often, so the median reads 30
    where 17-25 frames a second come (measured on the page), and a session counting 30 would stretch its windows."""
    gaps = steady_gaps(times)
    return len(gaps) / float(gaps.sum()) if len(gaps) and gaps.sum() > 0 else 1.0 / STREAM_EVERY_S


def snapped(measured: float) -> float:
    """The highest rate cameras give (frames a second) not above `measured` (within RATE_TOLERANCE), at least the
    lowest one."""
    return max([rate for rate in CAMERA_RATES if rate * (1.0 - RATE_TOLERANCE) <= measured] or [CAMERA_RATES[0]])


def camera_rate(times: np.ndarray) -> float:
    """The rate to analyse a camera at, from arrival seconds of its frames: the highest rate cameras give that is not
    above the frames that come a second (within RATE_TOLERANCE), so that each of its slots has a frame."""
    return snapped(arrival_rate(times))


def recent_rate(times: np.ndarray, now: float, span: float) -> float:
    """Frames a second that arrived at `times` (seconds) in the `span` seconds up to `now`: their count over the
    span. Stalls count (the frames that did not come are missing from the session's windows too)."""
    times = np.asarray(times, dtype=float)
    return float(np.count_nonzero((times > now - span) & (times <= now))) / span


def flowing_rate(times: np.ndarray, now: float, span: float) -> float:
    """Frames a second that arrived at `times` (seconds) in the `span` seconds up to `now`, one stall left out: the
    longest gap (the span's ends included) when it is over STALL_S. The page's stream stalls for 1-2 s as the
    analysis begins (measured in Chromium: 28 frames a second in the probe, then 12, 0 and 13 in the next three
    seconds, then 21-29 for good), which is not the rate it comes at; a second stall in the span counts."""
    times = np.asarray(times, dtype=float)
    inside = np.sort(times[(times > now - span) & (times <= now)])
    gaps = np.diff(np.r_[now - span, inside, now])
    left = span - (gaps.max() if gaps.max() > STALL_S else 0.0)
    return len(inside) / max(left, 1e-6)


def fewer(rate: float, times: np.ndarray, now: float, since: float) -> float | None:
    """The lower rate to restart at when the frames come slower than the session's `rate` (frames a second), or
    None: `times` are the arrival seconds of the frames, `now` the stream's second, `since` the second the session's
    rate was set (the probe's end or its restart). Once it has run DELIVERY_S, the frames since (the last
    DELIVERY_LONG_S at most; one stall left out: :func:`flowing_rate`) under SLOWER of its rate: their rate, with a
    burst's slack, snapped down (e.g. 12.4 a second at 25: 12)."""
    if now - since < DELIVERY_S:
        return None
    span = min(now - since, DELIVERY_LONG_S)
    measured = flowing_rate(times, now, span)
    if measured >= SLOWER * rate:
        return None
    # a burst's slack: where the span begins and ends cuts a burst (up to BUCKET frames) in or out (12 a second in
    # bursts of 3 counted 25-34 frames over 2.5-3 s, 10 read where 12 came)
    lower = snapped(measured + BUCKET / span)
    return lower if lower < rate else None


def fitting(cost: float, most: float) -> float:
    """The rate to fall to: the highest camera rate up to `most` (frames a second) whose frames a mean time per frame
    of `cost` seconds fills to FALL_SHARE at most; LOWEST_FALL (or `most`, when lower) when none does."""
    fits = [r for r in CAMERA_RATES if LOWEST_FALL <= r <= most and r * cost <= FALL_SHARE]
    return max(fits or [min(LOWEST_FALL, most)])


def step_up(rate: float, camera: float, costs: list[float], held_s: float, arriving: float = math.inf) -> float | None:
    """The rate to step up to from `rate` (frames a second) after a restart at a lower rate than the `camera`'s, or
    None to stay. `costs` are the Analyst's times (seconds) for the frames it answered in the last UP_S, `held_s` the
    seconds the session has run at `rate`. When that is STEADY_S at least and the costs fill under UP_BUSY of UP_S:
    the highest camera rate up to the camera's whose frames their mean fills to FIT_SHARE at most. The mean, not the
    median: a window every few frames takes several times the others, and at the higher rate the Analyst must keep
    up with them all (on the median it would step up to a rate it then falls back from). And no rate above the
    frames `arriving` a second over the last UP_S (within RATE_TOLERANCE): a session that fell because the frames
    came slower steps up only once they come faster again (else it would step up and fall back, each time a new
    baseline)."""
    if rate >= camera or held_s < STEADY_S or not costs or sum(costs) >= UP_BUSY * UP_S:
        return None
    mean = sum(costs) / len(costs)
    fits = [
        r
        for r in CAMERA_RATES
        if rate < r <= camera and r * mean <= FIT_SHARE and r * (1.0 - RATE_TOLERANCE) <= arriving
    ]
    return max(fits) if fits else None
