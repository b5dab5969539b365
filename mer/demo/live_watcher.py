"""One visitor's live stream, a :class:`Watcher`: frames offered as they arrive (timed by their arrival: the
browser's webcam stream does not say when a picture was taken), the rate measured, the frames taken at that rate
(bursts kept whole) handed to the visitor's Analyst by a courier thread (so the page's server never waits for the
analysis), the session restarted at another rate when the analysis falls behind, the frames come slower, or both
come back, the status line, the view, and the events' files.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mer.demo.live_analyst import Analyst, AnalystFailed
from mer.demo.live_rate import (
    BEHIND,
    BEHIND_S,
    BUCKET,
    DELIVERY_LONG_S,
    DELIVERY_S,
    LOWEST_FALL,
    QUEUE_S,
    RATE_PROBE_S,
    UP_S,
    arrival_rate,
    camera_rate,
    fewer,
    fitting,
    recent_rate,
    steady_gaps,
    step_up,
)
from mer.demo.live_view import Chart, LiveView, event_rows
from mer.spotting.live import BASELINE_S

if TYPE_CHECKING:
    from mer.spotting.live import LiveUpdate

log = logging.getLogger("mer.demo.live")

REFRESH_S = 1.0  # the chart is redrawn this often (and when an event comes): each redraw is a plotly figure to send
STATUS_S = 0.25  # the status line at most this often: an update per frame costs the server and the browser time
CLOSE_S = 30.0  # Stop waits this long for the Analyst to decide the rest
COUNTED_S = 30  # the page's JSON gives the frames received and taken in each of the first this many seconds


class Watcher:
    """One visitor's live stream: frames offered as they arrive, the newest analysed by an Analyst.

    Args:
        analyst: gives the Analyst to use (the Room's prepared one), asked on the first frame.
        clock: seconds, monotonic (a test's own clock).
    """

    def __init__(self, analyst: Callable[[], Analyst], clock: Callable[[], float] = time.monotonic) -> None:
        self.get_analyst = analyst
        self.clock = clock
        self.analyst: Analyst | None = None
        self.courier: threading.Thread | None = None
        self.fps: float | None = None  # the camera's rate, once measured
        self.start: float | None = None  # arrival of the first frame: the stream's second 0
        self.probe_times: list[float] = []  # arrival seconds of the rate probe's frames (they only measure the rate)
        self.probe: dict[str, Any] = {}  # how the camera's rate was measured: frames, stream seconds, frames a second
        self.caught_up = False  # the stream's first frame is with the Analyst: its load is judged from then on
        self.queue: deque[tuple[float, float, np.ndarray]] = deque()  # frames taken at the rate, not yet analysed:
        # (the second the session is told, its arrival second, the frame)
        self.told: float | None = None  # the second the last frame taken was told as (see _allowed)
        self.arrived = 0.0  # arrival second of the frame with the Analyst
        self.arrivals: deque[float] = deque()  # stream seconds of the frames received in the last 6 s
        self.tokens, self.tokens_at = BUCKET, 0.0  # frames the rate allows now (a bucket: see live_rate.BUCKET)
        self.delivery_since = 0.0  # stream second from which the frames' rate is judged (the probe's end, a restart)
        self.taken = self.dropped = 0  # frames taken at the rate; of them, those the full queue let go
        self.by_second = np.zeros((2, COUNTED_S), dtype=int)  # frames received, taken, in each of the first seconds
        self.previous: np.ndarray | None = None
        self.repeats = 0  # frames identical to the one before (the browser asked faster than the camera gives)
        self.received = 0
        self.started = self.closed = False
        self.idle = True  # no frame is with the Analyst
        self.latest: LiveUpdate | None = None
        self.events: list[dict] = []  # every event decided so far (dicts as Prediction.events_json's entries)
        self.facts: dict[str, Any] = {}
        self.parts: list[tuple[str, dict]] = []  # CSV text and JSON of each session closed (restarts, then Stop)
        self.rate = 0.0  # the frames a second the session analyses (the camera's, or lower once behind)
        self.rate_since = 0.0  # stream second the session began at that rate
        self.restarts: list[dict] = []
        self.busy: deque[tuple[float, float]] = deque()  # (clock at the answer, seconds the frame held the Analyst)
        self.error = ""
        self.stopped = self.released = False
        self.ended: float | None = None  # when the stream was stopped (clock seconds)
        self.chart = Chart()
        self.shown_events: list[tuple] | None = None  # (kind, start, label) of the rows on the page
        self.last_chart = -1e9
        self.last_status, self.last_status_at = "", -1e9
        self.lock = threading.Condition()

    # ----------------------------------------------------------------------------------------------- frames in

    def offer(self, frame: np.ndarray | None) -> None:
        """A frame from the camera, (H, W, 3) uint8 RGB, timed now; repeats of the previous frame are dropped.
        It only leaves the frame for the courier (:meth:`_courier`), so the page's server never waits here."""
        if frame is None or self.stopped or self.error:
            return
        now = self.clock()
        if self.start is None:
            self.start = now
            self.analyst = self.get_analyst()
            self.courier = threading.Thread(target=self._courier, name="mer-live-courier", daemon=True)
            self.courier.start()
        frame = np.asarray(frame)
        if self.previous is not None and _same(frame, self.previous):
            self.repeats += 1
            return
        self.previous = frame
        self.received += 1
        seconds = now - self.start
        with self.lock:
            self.arrivals.append(seconds)
            if seconds < COUNTED_S:
                self.by_second[0, int(seconds)] += 1
            while self.arrivals[0] < seconds - max(DELIVERY_LONG_S, UP_S):
                self.arrivals.popleft()
            if self.fps is None:
                self.probe_times.append(seconds)
                times = np.array(self.probe_times)
                if len(times) < 3 or steady_gaps(times).sum() < RATE_PROBE_S:
                    return
                self.fps = camera_rate(times)
                self.probe = {"frames": len(times), "until_s": round(seconds, 3), "fps": round(arrival_rate(times), 2)}
                # the probe's frames are not analysed: catching up on them (2 s of frames, 2-5 s of a core's work)
                # would load the 2 cores that the browser, the server and the Analyst share just as the page's stream
                # stalls (1-2 s as the analysis begins, see live_rate.flowing_rate). The session starts with the
                # first frame after the probe.
                self.probe_times.clear()
                self.tokens, self.tokens_at, self.delivery_since = BUCKET, seconds, seconds
            if not self._allowed(seconds):
                return  # the frames come faster than the session's rate: this one is not analysed
            self.taken += 1
            if seconds < COUNTED_S:
                self.by_second[1, int(seconds)] += 1
            # a burst is spread over the rate's slots: its frames were taken 1/rate apart (the stream bunched them),
            # and the session counts a gap between two frames' seconds as frames missing
            told = seconds if self.told is None else max(seconds, self.told + 1.0 / (self.rate or self.fps))
            self.told = told
            self.queue.append((told, seconds, frame))
            while len(self.queue) > max(2, round(QUEUE_S * (self.rate or self.fps))):
                self.queue.popleft()  # the Analyst is behind (it will restart lower): the oldest waiting goes
                self.dropped += 1
            self.lock.notify_all()

    def _allowed(self, seconds: float) -> bool:
        """Whether a frame arriving at `seconds` is analysed: the rate allows one a 1/rate seconds, a burst of up to
        BUCKET after a pause (a bucket of frames, filled at the rate). Frames spaced at least 0.75/rate apart, as it
        was, threw most of each burst of the page's stream away: 11 of its 21 frames a second reached a session
        counting 25. Lock held."""
        rate = self.rate or self.fps
        self.tokens = min(BUCKET, self.tokens + (seconds - self.tokens_at) * rate)
        self.tokens_at = seconds
        if self.tokens < 1.0 - 1e-6:
            return False
        self.tokens -= 1.0
        return True

    def _next(self) -> tuple[str, Any] | None:
        """What the courier sends next, once there is something: ("close",) after Stop, else the next frame taken
        (in order); None when the stream is over. Lock held."""
        while True:
            if self.released or self.error:
                return None
            if self.stopped:
                return ("close",) if self.started else None
            if self.queue:
                seconds, self.arrived, frame = self.queue.popleft()
                if not self.caught_up:  # the stream's first frame analysed: judge the Analyst's load from now on
                    self.caught_up, self.rate_since = True, seconds
                    self.busy.clear()
            else:
                self.lock.wait()
                continue
            return ("frame", seconds, frame)

    def _courier(self) -> None:
        """Everything between this visitor and their Analyst, in one thread that waits on the pipe or on the
        next frame without holding up the server: the model loaded, the session started at the camera's rate,
        one frame at a time, its answer, and at the end the rest decided."""
        try:
            self._expect("ready")
            with self.lock:
                while self.fps is None and not (self.stopped or self.error):
                    self.lock.wait()
                if self.fps is None:
                    return
            self.analyst.send(("start", self.fps))
            self.facts = self._expect("started")[1]
            with self.lock:
                self.started, self.rate = True, self.fps
            while True:
                with self.lock:
                    self.idle = True
                    self.lock.notify_all()
                    message = self._next()
                    if message is None:
                        return
                    self.idle = False
                sent = self.clock()
                self.analyst.send(message)
                answer = self._expect("closed" if message[0] == "close" else "update")
                with self.lock:
                    if message[0] == "frame":
                        now = self.clock()
                        # held from the previous answer when the frame was already waiting then (the courier's own
                        # work between two frames is the Analyst's load too), else from its arrival
                        began = max(self.busy[-1][0], self.start + self.arrived) if self.busy else sent
                        self.busy.append((now, now - min(began, sent)))
                        while self.busy and self.busy[0][0] < now - max(BEHIND_S, UP_S):
                            self.busy.popleft()
                    self.latest, self.facts = answer[1], answer[2]
                    _take(self.events, answer[1])
                    if answer[0] == "closed":
                        self.parts.append((answer[3], answer[4]))
                        self.closed = True
                        return
                    now = self.clock() - self.start
                    slower = self._slower(message[1])
                    why = "behind" if slower else ""
                    if slower is None and (slower := fewer(self.rate, self.arrivals, now, self.delivery_since)):
                        why = "frames come slower"
                        costs = self._costs(BEHIND_S)  # and no faster than the Analyst keeps up with (one restart,
                        if len(costs) >= 10:  # not a second one 3 s later for being behind)
                            slower = fitting(float(np.mean(costs)), slower)
                    faster = None if slower else self._faster(message[1], now)
                if slower or faster:
                    self._restart(slower or faster, message[1], why or "keeps up")
        except (EOFError, OSError, ValueError) as err:
            if not (self.released or self.closed):
                self.error = self.error or failure("the analysis process ended")
                log.warning("live analysis process ended: %r", err)
        except AnalystFailed as err:
            log.error("live analysis failed:\n%s", err.args[1])
            self.error = failure(err.args[0])
        finally:
            with self.lock:
                self.idle = True
                self.lock.notify_all()

    def _slower(self, seconds: float) -> float | None:
        """A lower rate to analyse at when the Analyst has been busy for BEHIND of the last BEHIND_S (None: it keeps
        up): the highest camera rate its recent mean time per frame fits (live_rate.fitting; the mean: on the median,
        which leaves out the windows' frames, it fell from 15 to 12 and 5 s later to 10 on the page). Not the frames
        analysed per second: a camera that delivers fewer pictures than its rate (a browser's stream does) would read
        as a machine behind."""
        if seconds - self.rate_since < BEHIND_S or self.rate <= LOWEST_FALL:
            return None
        costs = self._costs(BEHIND_S)
        if sum(costs) < BEHIND * BEHIND_S:
            return None
        return fitting(float(np.mean(costs)), self.rate - 1e-6)

    def _faster(self, seconds: float, now: float) -> float | None:
        """A higher rate to analyse at after a restart at a lower one (None: stay); see :func:`step_up` (the frames
        that came over the last UP_S bound it). `seconds`: the frame's stream second, `now` the stream's."""
        if self.fps is None:
            return None
        arriving = recent_rate(self.arrivals, now, UP_S)
        return step_up(self.rate, self.fps, self._costs(UP_S), seconds - self.rate_since, arriving)

    def _costs(self, span: float) -> list[float]:
        """The seconds (clock) each frame answered in the last `span` seconds held the Analyst: from the answer
        before it when it was waiting then, else from its arrival. Lock held."""
        end = self.busy[-1][0] if self.busy else 0.0
        return [cost for at, cost in self.busy if at >= end - span]

    def _restart(self, rate: float, seconds: float, why: str) -> None:
        """Close the session (its events decided) and start one at `rate` (lower: `why` "behind" or "frames come
        slower"; higher: "keeps up"): frames then go at that rate, so its windows span the seconds they should
        (fewer frames would stretch them)."""
        self.analyst.send(("restart", rate))
        answer = self._expect("restarted")
        with self.lock:
            _take(self.events, answer[1])
            self.parts.append((answer[3], answer[4]))
            now = self.clock() - self.start
            self.rate, self.rate_since, self.delivery_since = rate, seconds, now
            self.tokens, self.tokens_at, self.told = min(self.tokens, 1.0), now, None
            self.busy.clear()
            self.restarts.append({"at_s": round(seconds, 3), "fps": rate, "why": why})
        log.info("live analysis %s: restarted at %g frames a second at %.1f s", why, rate, seconds)

    def _expect(self, kind: str) -> tuple:
        answer = self.analyst.receive()
        while answer[0] == "warning":
            log.warning("live analysis: %s", answer[1])
            answer = self.analyst.receive()
        if answer[0] == "error":
            raise AnalystFailed(answer[1], answer[2])
        if answer[0] != kind:
            raise ValueError(f"the analysis process answered {answer[0]!r} where {kind!r} was due")
        return answer

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every frame offered so far has been analysed or skipped; whether that happened in time."""
        deadline = time.monotonic() + timeout
        with self.lock:
            if self.fps is None:  # still measuring the camera's rate: nothing is being analysed yet
                return True
            while not self.error and (self.queue or not self.idle or not self.started):
                if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    break
            return self.error != "" or (not self.queue and self.idle)

    # ----------------------------------------------------------------------------------------------- the end

    def stop(self) -> None:
        """End the stream: the frame with the Analyst finished, the rest decided (LiveSession.close), its process
        ended."""
        with self.lock:
            if self.stopped:
                return
            self.stopped, self.ended = True, self.clock()
            self.probe_times.clear()
            self.queue.clear()
            self.lock.notify_all()
        if self.courier is not None and self.started:  # (before that, nothing is left to decide)
            self.courier.join(CLOSE_S)
        if self.analyst is not None:
            self.analyst.end()

    def release(self) -> None:
        """The visitor left: the Analyst's process ends, the frames and events go."""
        with self.lock:
            self.stopped = self.released = True
            self.probe_times.clear()
            self.queue.clear()
            self.previous, self.latest, self.events, self.parts = None, None, [], []
            self.lock.notify_all()
        if self.analyst is not None:
            self.analyst.end()

    # ----------------------------------------------------------------------------------------------- the view

    def view(self, force: bool = False) -> LiveView:
        """The status line, the chart and the event rows, each None when unchanged (all of them with `force`)."""
        with self.lock:
            events, latest = list(self.events), self.latest
        now = self.clock()
        rows = None
        shown = [(e["kind"], e["start_s"], e.get("label")) for e in events]  # a label follows its event: shown too
        if force or shown != self.shown_events:
            rows = event_rows(events)
            self.shown_events = shown
        chart = None
        if latest is not None and (force or now - self.last_chart >= REFRESH_S or rows is not None):
            chart = self.chart.json(latest, events)
            self.last_chart = now
        status = self.status()
        if force or (status != self.last_status and now - self.last_status_at >= STATUS_S) or rows is not None:
            self.last_status, self.last_status_at = status, now
        else:
            status = None
        return LiveView(status=status, chart=chart, rows=rows)

    def status(self) -> str:
        """One line: what the session is doing, how many frames it analyses, what was skipped, events so far."""
        if self.released:
            return "Ended: the page was closed."
        if self.error:
            return self.error
        update = self.latest
        if update is None:
            if self.stopped:
                return "Stopped before the analysis began: press **Record** to start."
            if not self.received:
                return "Waiting for the camera…"
            if self.fps is None:
                return "Starting: measuring your camera's frame rate…"
            return f"Starting at {self.fps:g} frames a second: loading the model…"
        said = update.status
        if self.stopped and len(self.parts) > 1 and said.startswith("stopped: ") and "event(s) found" in said:
            said = f"stopped: {len(self.events)} event(s) found"  # every part's, not the last rate's alone
        words = [f"**{said[:1].upper()}{said[1:]}**"]
        if not update.baseline_done and not self.stopped and "neutral" not in said:
            baseline = self.facts.get("baseline_s", BASELINE_S)
            words.append(f"the first {baseline:g} s of your face are its neutral baseline")
        why = next((r["why"] for r in reversed(self.restarts) if r["why"] != "keeps up"), "")
        if not self.stopped and self.rate < self.fps and why == "frames come slower":
            with self.lock:  # (the courier's thread and the server's add to it)
                arrivals = list(self.arrivals)
            arriving = recent_rate(arrivals, self.clock() - self.start, DELIVERY_S)
            words.append(f"frames arrive at ~{arriving:.0f} a second: analysing at {self.rate:g}")
        elif not self.stopped and self.rate < self.fps:
            words.append(f"the machine is busy: analysing {self.rate:g} of the camera's {self.fps:g} frames a second")
        elif not self.stopped and "busy" not in said:
            words.append(f"analysing {update.analysed_fps:.0f} of {self.rate:g} frames a second")
        if update.skipped:
            words.append(f"{update.skipped} frames not analysed (the camera sent fewer, or the machine was behind)")
        if not self.stopped:
            n = len(self.events)
            words.append(f"{n} event{'s' if n != 1 else ''} so far")
        return " · ".join(words)

    def write(self, folder: Path) -> list[str]:
        """The session's events as live_events.csv and live_events.json in `folder`; the two paths ([] before the
        stream was closed). A stream restarted at a lower rate has one part per rate: their rows, one header."""
        if not self.closed:
            return []
        texts = [text.splitlines(keepends=True) for text, _ in self.parts]
        answer = dict(self.parts[-1][1], events=list(self.events), restarts=self.restarts, page=self.delivery())
        folder.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = folder / "live_events.csv", folder / "live_events.json"
        csv_path.write_text("".join(texts[0] + [line for lines in texts[1:] for line in lines[1:]]))
        json_path.write_text(json.dumps(answer, indent=2, default=_plain) + "\n")
        return [str(csv_path), str(json_path)]

    def delivery(self) -> dict[str, Any]:
        """What the browser delivered: frames received (repeats of the previous picture not counted), over how many
        seconds, and how they were timed; how many the Analyst analysed (every part of a restarted stream) and how
        many a second (against the rate the session counts in: fewer stretch its windows), and its time per frame
        (the last part)."""
        end = self.ended if self.ended is not None else self.clock()
        seconds = end - self.start if self.start is not None else 0.0
        last = int(self.facts.get("frames", 0))
        analysed = last + sum(int(part["frames"]) for _, part in self.parts[: len(self.restarts)])
        return {
            "frames_received": self.received,
            "frames_analysed": analysed,
            "analysis_ms_per_frame": round(1000.0 * self.facts.get("push_s", 0.0) / last, 1) if last else None,
            "repeats_dropped": self.repeats,
            "analysed_at_fps": self.rate,
            "rate_probe": self.probe,
            "frames_taken": self.taken,
            "queue_dropped": self.dropped,
            "received_by_second": self.by_second[0, : int(seconds) + 1].tolist(),
            "taken_by_second": self.by_second[1, : int(seconds) + 1].tolist(),
            "restarts": [f"{r['at_s']:.1f}s->{r['fps']:g} ({r['why']})" for r in self.restarts],
            "seconds": round(seconds, 3),
            "received_fps": round(self.received / seconds, 2) if seconds > 0 else 0.0,
            "analysed_fps": round(analysed / seconds, 2) if seconds > 0 else 0.0,
            "timed_by": (
                "arrival at the server, a burst's frames spread 1/rate apart (the browser's webcam stream does not"
                " say when a frame was taken)"
            ),
        }


def failure(what: str) -> str:
    return (
        f"The analysis of your stream failed ({what}); it was logged. Press **Stop**, then **Record** to start again."
    )


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two frames are the same picture (a camera's own frames always differ by their noise)."""
    return a.shape == b.shape and np.array_equal(a[::16, ::16], b[::16, ::16]) and np.array_equal(a, b)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def _take(events: list[dict], update: LiveUpdate | None) -> None:
    """Add an update's new events to `events`, and the label of each micro event it named since (reported earlier
    without one: the model names them in a thread of its own, LiveUpdate.named_events) in place of its entry."""
    if update is None:
        return
    events.extend(update.new_events)
    for named in getattr(update, "named_events", []):
        for k, item in enumerate(events):
            key = ("kind", "onset", "offset", "start_s")  # start_s: a restarted stream's parts count frames anew
            if all(item.get(k) == named.get(k) for k in key):
                events[k] = named
