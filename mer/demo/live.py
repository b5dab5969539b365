"""The Live tab: a visitor's webcam analysed as it streams in, shown as it happens.

gradio's webcam streaming calls the page once per frame with the picture the browser took from its camera (a JPEG,
decoded to RGB). It does not say when the picture was taken, so each frame is timed by its arrival here. The call
only hands the frame to the visitor's :class:`Watcher` and returns, so the camera's upload never waits for the
analysis. The analysis (a :class:`mer.spotting.live.LiveSession`) runs in a process of its own, an
:class:`Analyst`: in the server's process its Python work would hold the interpreter lock that the server needs for
every frame it receives (measured here: one busy Python thread beside gradio cut the frames it delivered from 28 to
5 a second). The Analyst is given one frame at a time; a frame that arrives while it is busy replaces the one
waiting (skipped: the session counts the gap and the status says so).

    room = Room(Recipe(checkpoint))                          # room.prepare(): an Analyst loads the model ahead
    watcher, view = room.frame(watcher, rgb, session_hash)   # each frame; view: status, chart, event rows
    view = room.stopped(watcher, folder)                     # Stop or the time limit: the rest decided, files
    room.left(session_hash)                                  # the tab closed: the stream and its process end

The first RATE_PROBE_S of frames measure the rate they come at (browsers ask for 30 but a camera in dim light gives
15, and the page's stream stalls now and then), which the session counts its windows in; when the Analyst falls
behind, the session restarts at a lower rate, and back at a higher one (up to the camera's) once it keeps up
again. Nothing here imports gradio: app.py lays out the tab and binds these.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.io

from mer.demo import plots
from mer.demo.view import CONFIDENCE_LINE
from mer.spotting.live import BASELINE_S, HISTORY_S

if TYPE_CHECKING:
    from mer.spotting.live import LiveUpdate

log = logging.getLogger("mer.demo.live")

STREAM_EVERY_S = 1 / 30  # the browser takes a picture this often (a camera's 30 fps; faster only repeats frames)
TIME_LIMIT_S = 600  # one live session at most, so that visitors waiting in the queue get their turn
RATE_PROBE_S = 2.0  # the camera's frame rate is measured over this many seconds of its first frames (the page's
# stream stalls now and then: two seconds average over more stalls than one; the probe's frames are analysed after
# it, so only the first answers wait)
CAMERA_RATES = (5.0, 10.0, 12.0, 15.0, 20.0, 24.0, 25.0, 30.0, 50.0, 60.0)  # what cameras give; the measure snaps
RATE_TOLERANCE = 0.03  # a camera's 30 measured as 29.6 (arrival times jitter) is still 30; 24 is not 25 (4 % off)
STALL = 3.0  # a gap over this many times the median gap is a stall (a page's stream can stall as it starts)
REFRESH_S = 1.0  # the chart is redrawn this often (and when an event comes): each redraw is a plotly figure to send
STATUS_S = 0.25  # the status line at most this often: an update per frame costs the server and the browser time
LATE_S = 10.0  # a frame of a visitor who left, arriving this soon after, was on its way: it starts no new stream
CLOSE_S = 30.0  # Stop waits this long for the Analyst to decide the rest
BEHIND = 0.9  # the Analyst busy this share of the last BEHIND_S: the session restarts at a rate it keeps up with...
BEHIND_S = 3.0
FIT_SHARE = 0.8  # ...the highest camera rate whose frames its recent time per frame fills to this share at most
UP_BUSY = 0.5  # at a rate below the camera's, the Analyst busy under this share of the last UP_S: the session
UP_S = 5.0  # restarts at the highest rate up to the camera's that its mean time per frame fills to FIT_SHARE...
STEADY_S = 10.0  # ...once it has run this long at its rate (each restart learns a new baseline: it must not flap)
EVENT_COLUMNS = ["when (s)", "kind", "label", "how sure"]


@dataclass
class LiveView:
    """What the tab shows after a frame or at the end: `status` (Markdown, one line), `chart` (plotly JSON of the
    rolling timeline of the last HISTORY_S seconds), `rows` (the events so far, newest first, as EVENT_COLUMNS): each
    None when unchanged; `files` (CSV and JSON of the events, written at the end; None: none yet)."""

    status: str | None
    chart: str | None = None
    rows: list[list[str]] | None = None
    files: list[str] | None = None


# ------------------------------------------------------------------------------------------- the analysis process


@dataclass(frozen=True)
class Recipe:
    """How an Analyst makes its session: the checkpoint whose model names micro events (None: left unnamed) and the
    device. It crosses to the Analyst's process, so it holds names, not objects."""

    checkpoint: str | None = None
    device: str = "cpu"


def _facts(session: Any) -> dict[str, Any]:
    return {
        "frames": int(session.frames),
        "push_s": float(session.wall.get("push", 0.0)),
        "baseline_s": float(session.baseline_s),
    }


def _serve(conn: Any, recipe: Recipe) -> None:
    """The Analyst's process: load the model, then ("start", fps), ("frame", seconds, rgb)... ("close",), each
    answered; ("restart", fps) closes the session and starts another at a lower rate. Any failure is sent back as
    ("error", its type, its traceback) and ends it."""
    try:
        from mer.inference import Predictor
        from mer.spotting.live import LiveSession

        predictor = Predictor.from_checkpoint(recipe.checkpoint, device=recipe.device) if recipe.checkpoint else None
        conn.send(("ready",))
        session = None
        while True:
            message = conn.recv()
            if message is None:
                return
            if message[0] == "start":
                session = LiveSession(predictor, fps=message[1])
                conn.send(("started", _facts(session)))
            elif message[0] == "frame":
                update = session.push(message[1], message[2])
                conn.send(("update", update, _facts(session)))
            elif message[0] == "close":
                update = session.close()
                conn.send(("closed", update, _facts(session), session.to_csv(), session.to_json()))
                return
            elif message[0] == "restart":
                try:
                    update = session.close()
                except Exception:  # noqa: BLE001  (the stream goes on at the new rate; its last events are lost)
                    import traceback

                    update = None
                    conn.send(("warning", traceback.format_exc()))
                conn.send(("restarted", update, _facts(session), session.to_csv(), session.to_json()))
                session = LiveSession(predictor, fps=message[1])
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    except Exception as err:  # noqa: BLE001  (the visitor reads what happened; the server logs it)
        import traceback

        try:
            conn.send(("error", type(err).__name__, traceback.format_exc()))
        except OSError:
            pass


class Analyst:
    """A live session in a process of its own (spawned: nothing of the server's threads is copied into it); it
    loads its model at once, so a prepared one is ready when a visitor presses Record."""

    def __init__(self, recipe: Recipe) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, recipe), name="mer-live-analysis", daemon=True)
        self.process.start()
        theirs.close()
        self.early: deque[Any] = deque()  # messages read by `ready` before anyone received them

    @property
    def ready(self) -> bool:
        """Whether its model is loaded (it has said so), without waiting."""
        while self.conn.poll():
            self.early.append(self.conn.recv())
        return any(m[0] == "ready" for m in self.early) and self.process.is_alive()

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def receive(self) -> Any:
        return self.early.popleft() if self.early else self.conn.recv()

    def end(self) -> None:
        """Ask the process to end, and make sure it has."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(2.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)
        self.conn.close()


# ------------------------------------------------------------------------------------------------ one visitor


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
        self.backlog: deque[tuple[float, np.ndarray]] = deque()  # the rate probe's frames, analysed first
        self.probe: dict[str, Any] = {}  # how the camera's rate was measured: frames, stream seconds, frames a second
        self.caught_up = False  # the probe's frames are analysed: the Analyst's load is the stream's from then on
        self.waiting: tuple[float, np.ndarray] | None = None  # the newest frame, not yet analysed
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
        self.busy: deque[tuple[float, float]] = deque()  # (clock at the answer, seconds from the frame sent to it)
        self.last_sent: float | None = None
        self.error = ""
        self.stopped = self.released = False
        self.ended: float | None = None  # when the stream was stopped (clock seconds)
        self.chart = _Chart()
        self.shown_events = -1
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
            if self.fps is None:
                self.backlog.append((seconds, frame))
                times = np.array([t for t, _ in self.backlog])
                if len(times) < 3 or steady_gaps(times).sum() < RATE_PROBE_S:
                    return
                self.fps = camera_rate(times)
                self.probe = {"frames": len(times), "until_s": round(seconds, 3), "fps": round(arrival_rate(times), 2)}
                self.backlog.pop()  # the frame being offered goes where new frames go
            self.waiting = (seconds, frame)
            self.lock.notify_all()

    def _next(self) -> tuple[str, Any] | None:
        """What the courier sends next, once there is something: ("close",) after Stop, else the next frame (the
        rate probe's first, then the newest); None when the stream is over. Lock held."""
        while True:
            if self.released or self.error:
                return None
            if self.stopped:
                return ("close",) if self.started else None
            if self.backlog:
                seconds, frame = self.backlog.popleft()
            elif self.waiting is not None:
                (seconds, frame), self.waiting = self.waiting, None
                if not self.caught_up:  # the probe's frames kept the Analyst busy; judge its load from now on
                    self.caught_up, self.rate_since = True, seconds
                    self.busy.clear()
            else:
                self.lock.wait()
                continue
            if self.last_sent is not None and seconds < self.last_sent + 0.75 / self.rate:
                continue  # too soon after the last frame for the rate the session analyses at: skipped
            self.last_sent = seconds
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
                        self.busy.append((now, now - sent))
                        while self.busy and self.busy[0][0] < now - max(BEHIND_S, UP_S):
                            self.busy.popleft()
                    self.latest, self.facts = answer[1], answer[2]
                    _take(self.events, answer[1])
                    if answer[0] == "closed":
                        self.parts.append((answer[3], answer[4]))
                        self.closed = True
                        return
                    slower = self._slower(message[1])
                    faster = None if slower else self._faster(message[1])
                if slower or faster:
                    self._restart(slower or faster, message[1])
        except (EOFError, OSError, ValueError) as err:
            if not (self.released or self.closed):
                self.error = self.error or _failed("the analysis process ended")
                log.warning("live analysis process ended: %r", err)
        except _AnalystFailed as err:
            log.error("live analysis failed:\n%s", err.args[1])
            self.error = _failed(err.args[0])
        finally:
            with self.lock:
                self.idle = True
                self.lock.notify_all()

    def _slower(self, seconds: float) -> float | None:
        """A lower rate to analyse at when the Analyst has been busy for BEHIND of the last BEHIND_S (None: it keeps
        up): the highest camera rate its recent time per frame fits. Not the frames analysed per second: a camera
        that delivers fewer pictures than its rate (a browser's stream does) would read as a machine behind."""
        if seconds - self.rate_since < BEHIND_S or self.rate <= CAMERA_RATES[0]:
            return None
        costs = self._costs(BEHIND_S)
        if sum(costs) < BEHIND * BEHIND_S:
            return None
        fits = [r for r in CAMERA_RATES if r < self.rate and r * float(np.median(costs)) <= FIT_SHARE]
        return max(fits or [CAMERA_RATES[0]])

    def _faster(self, seconds: float) -> float | None:
        """A higher rate to analyse at after a restart at a lower one (None: stay); see :func:`step_up`."""
        if self.fps is None:
            return None
        return step_up(self.rate, self.fps, self._costs(UP_S), seconds - self.rate_since)

    def _costs(self, span: float) -> list[float]:
        """The Analyst's times (clock seconds) for the frames it answered in the last `span` seconds. Lock held."""
        end = self.busy[-1][0] if self.busy else 0.0
        return [cost for at, cost in self.busy if at >= end - span]

    def _restart(self, rate: float, seconds: float) -> None:
        """Close the session (its events decided) and start one at `rate` (lower: behind; higher: it keeps up again):
        frames then go evenly at that rate, so its windows span the seconds they should (frames skipped unevenly
        would stretch them)."""
        self.analyst.send(("restart", rate))
        answer = self._expect("restarted")
        with self.lock:
            _take(self.events, answer[1])
            self.parts.append((answer[3], answer[4]))
            why = "behind" if rate < self.rate else "keeps up"
            self.rate, self.rate_since, self.last_sent = rate, seconds, None
            self.busy.clear()
            self.restarts.append({"at_s": round(seconds, 3), "fps": rate, "why": why})
        log.info("live analysis %s: restarted at %g frames a second at %.1f s", why, rate, seconds)

    def _expect(self, kind: str) -> tuple:
        answer = self.analyst.receive()
        while answer[0] == "warning":
            log.warning("live analysis: %s", answer[1])
            answer = self.analyst.receive()
        if answer[0] == "error":
            raise _AnalystFailed(answer[1], answer[2])
        if answer[0] != kind:
            raise ValueError(f"the analysis process answered {answer[0]!r} where {kind!r} was due")
        return answer

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every frame offered so far has been analysed or skipped; whether that happened in time."""
        deadline = time.monotonic() + timeout
        with self.lock:
            if self.fps is None:  # still measuring the camera's rate: nothing is being analysed yet
                return True
            while not self.error and (self.backlog or self.waiting is not None or not self.idle or not self.started):
                if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    break
            return self.error != "" or (not self.backlog and self.waiting is None and self.idle)

    # ----------------------------------------------------------------------------------------------- the end

    def stop(self) -> None:
        """End the stream: the frame with the Analyst finished, the rest decided (LiveSession.close), its process
        ended."""
        with self.lock:
            if self.stopped:
                return
            self.stopped, self.ended = True, self.clock()
            self.backlog.clear()
            self.waiting = None
            self.lock.notify_all()
        if self.courier is not None and self.started:  # (before that, nothing is left to decide)
            self.courier.join(CLOSE_S)
        if self.analyst is not None:
            self.analyst.end()

    def release(self) -> None:
        """The visitor left: the Analyst's process ends, the frames and events go."""
        with self.lock:
            self.stopped = self.released = True
            self.backlog.clear()
            self.waiting, self.previous, self.latest, self.events, self.parts = None, None, None, [], []
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
        if force or len(events) != self.shown_events:
            rows = event_rows(events)
            self.shown_events = len(events)
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
        words = [f"**{said[:1].upper()}{said[1:]}**"]
        if not update.baseline_done and not self.stopped and "neutral" not in said:
            baseline = self.facts.get("baseline_s", BASELINE_S)
            words.append(f"the first {baseline:g} s of your face are its neutral baseline")
        if not self.stopped and self.rate < self.fps:
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
        seconds, and how they were timed; how many the Analyst analysed, and its time per frame."""
        end = self.ended if self.ended is not None else self.clock()
        seconds = end - self.start if self.start is not None else 0.0
        analysed = int(self.facts.get("frames", 0))
        return {
            "frames_received": self.received,
            "frames_analysed": analysed,
            "analysis_ms_per_frame": round(1000.0 * self.facts.get("push_s", 0.0) / analysed, 1) if analysed else None,
            "repeats_dropped": self.repeats,
            "analysed_at_fps": self.rate,
            "rate_probe": self.probe,
            "seconds": round(seconds, 3),
            "received_fps": round(self.received / seconds, 2) if seconds > 0 else 0.0,
            "timed_by": "arrival at the server (the browser's webcam stream does not say when a frame was taken)",
        }


class _AnalystFailed(Exception):
    """The Analyst's process sent ("error", the exception's type name, its traceback)."""


def _failed(what: str) -> str:
    return (
        f"The analysis of your stream failed ({what}); it was logged. Press **Stop**, then **Record** to start again."
    )


# ----------------------------------------------------------------------------------------------- every visitor


class Room:
    """Every visitor's Watcher by gradio session, so a visitor who closes the tab is let go at once, and Analysts
    prepared ahead (their model loaded) so that Record starts at once.

    Args:
        recipe: how each Analyst makes its session.
        clock: seconds, monotonic (a test's own clock).
        standby: Analysts kept ready (each a process holding a model: about 0.5 GB).
    """

    def __init__(self, recipe: Recipe, clock: Callable[[], float] = time.monotonic, standby: int = 1) -> None:
        self.recipe = recipe
        self.clock = clock
        self.standby = standby
        self.prepared: list[Analyst] = []
        self.watchers: dict[str, Watcher] = {}
        self.gone: dict[str, float] = {}  # the visitors who left in the last LATE_S: when (clock seconds)
        self.lock = threading.Lock()

    def prepare(self) -> None:
        """Start Analysts until `standby` are ready or loading (the page calls it at start)."""
        with self.lock:
            for dead in [a for a in self.prepared if not a.process.is_alive()]:
                log.warning(
                    "a prepared live analysis process ended (exit code %s); starting another", dead.process.exitcode
                )
                self.prepared.remove(dead)
            while len(self.prepared) < self.standby:
                self.prepared.append(Analyst(self.recipe))

    def readiness(self) -> str:
        """What to tell a visitor who opens the tab: whether an Analyst is ready for them."""
        start = "Press **Record** under the camera to start"
        if self.standby:
            self.prepare()  # one that ended is replaced
        with self.lock:
            ready = any(a.ready for a in self.prepared)
        if ready or not self.standby:
            return start + (": the analysis is ready." if ready else ".")
        return start + " (the analysis is still loading its model: it begins once that is done)."

    def analyst(self) -> Analyst:
        """A prepared Analyst, or a new one. The one taken is replaced when a stream ends, not now: loading a model
        beside a live stream would take the machine from it."""
        with self.lock:
            self.prepared.sort(key=lambda a: not a.ready)  # a ready one first
            ready = self.prepared.pop(0) if self.prepared else None
        return ready if ready is not None and ready.process.is_alive() else Analyst(self.recipe)

    def frame(self, watcher: Watcher | None, frame: np.ndarray | None, visitor: str) -> tuple[Watcher, LiveView]:
        """A frame of `visitor`'s stream (a new Watcher for a new stream); the view to show now."""
        try:
            if watcher is None or watcher.stopped:
                with self.lock:
                    if visitor in self.gone and self.clock() - self.gone[visitor] < LATE_S:  # on its way as they left
                        return watcher, LiveView(status="Ended: the page was closed.")
                    watcher = Watcher(self.analyst, self.clock)
                    old = self.watchers.pop(visitor, None)
                    self.watchers[visitor] = watcher
                if old is not None and old is not watcher:
                    old.release()
            watcher.offer(frame)
            return watcher, watcher.view()
        except Exception as err:  # noqa: BLE001  (the page keeps serving; the visitor reads what happened)
            log.exception("live frame failed")
            failed = _failed(type(err).__name__)
            if watcher is not None:
                watcher.error = watcher.error or failed
            return watcher, LiveView(status=failed)

    def stopped(self, watcher: Watcher | None, folder: Callable[[], Path]) -> LiveView:
        """The stream ended (Stop, the time limit, or the camera lost): the rest decided, the files written."""
        if watcher is None:
            return LiveView(status="Press **Record** to start.", rows=[])
        try:
            watcher.stop()
            log.info("live stream ended: %s", watcher.delivery())
            self.prepare()
            shown = watcher.view(force=True)
            shown.files = watcher.write(folder()) or None
            if watcher.start is not None and (watcher.ended or 0.0) - watcher.start >= TIME_LIMIT_S - 2:
                shown.status += f" · a live session lasts at most {TIME_LIMIT_S // 60} min: press **Record** again"
            return shown
        except Exception as err:  # noqa: BLE001
            log.exception("live stop failed")
            return LiveView(status=f"Stopping failed ({type(err).__name__}); it was logged.")

    def left(self, visitor: str) -> None:
        """The visitor closed the tab (or reloaded it): their stream and its process end now."""
        with self.lock:
            watcher = self.watchers.pop(visitor, None)
            now = self.clock()
            self.gone = {v: t for v, t in self.gone.items() if now - t < LATE_S} | {visitor: now}
            # (only for a while: should gradio ever take a live page for gone, its next Record starts afresh)
        if watcher is not None:
            watcher.release()
            log.info("a live visitor left: their stream ended; %d live stream(s) remain", len(self.watchers))
            self.prepare()

    def close(self) -> None:
        """End every stream and prepared Analyst (the server is stopping, or a test is done)."""
        with self.lock:
            watchers, self.watchers = list(self.watchers.values()), {}
            prepared, self.prepared = self.prepared, []
        for watcher in watchers:
            watcher.release()
        for analyst in prepared:
            analyst.end()

    def __len__(self) -> int:
        return len(self.watchers)


# ---------------------------------------------------------------------------------------------------- helpers


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


def camera_rate(times: np.ndarray) -> float:
    """The rate to analyse a camera at, from arrival seconds of its frames: the highest rate cameras give that is not
    above the frames that come a second (within RATE_TOLERANCE), so that each of its slots has a frame."""
    measured = arrival_rate(times)
    return max([rate for rate in CAMERA_RATES if rate * (1.0 - RATE_TOLERANCE) <= measured] or [CAMERA_RATES[0]])


def step_up(rate: float, camera: float, costs: list[float], held_s: float) -> float | None:
    """The rate to step up to from `rate` (frames a second) after a restart at a lower rate than the `camera`'s, or
    None to stay. `costs` are the Analyst's times (seconds) for the frames it answered in the last UP_S, `held_s` the
    seconds the session has run at `rate`. When that is STEADY_S at least and the costs fill under UP_BUSY of UP_S:
    the highest camera rate up to the camera's whose frames their mean fills to FIT_SHARE at most. The mean, not the
    median: a window every few frames takes several times the others, and at the higher rate the Analyst must keep
    up with them all (on the median it would step up to a rate it then falls back from)."""
    if rate >= camera or held_s < STEADY_S or not costs or sum(costs) >= UP_BUSY * UP_S:
        return None
    mean = sum(costs) / len(costs)
    fits = [r for r in CAMERA_RATES if rate < r <= camera and r * mean <= FIT_SHARE]
    return max(fits) if fits else None


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
            if (item["kind"], item["onset"], item["offset"]) == (named["kind"], named["onset"], named["offset"]):
                events[k] = named


def _named(item: dict) -> tuple[str, float | None]:
    """(label, its probability) of a micro event, ("", None) when it has none."""
    label = item.get("label") or ""
    probability = (item.get("probabilities") or {}).get(label) if label else None
    return label, (float(probability) if probability is not None else None)


def event_rows(events: list[dict]) -> list[list[str]]:
    """The events as the list shows them, newest first: when, kind, label and how sure (micro ones)."""
    rows = []
    for item in reversed(events):
        label, p = _named(item)
        micro = item.get("kind") == "micro"
        kind = "micro-expression" if micro else "ordinary expression"
        if micro and p is not None and p < CONFIDENCE_LINE:
            kind = f"weak candidate (under {CONFIDENCE_LINE:.0%})"
        rows.append([f"{item['start_s']:.2f}–{item['end_s']:.2f}", kind, label, f"{p:.0%}" if p is not None else ""])
    return rows


def marks(events: list[dict], times: np.ndarray) -> list[plots.Mark]:
    """The events seen in `times` (seconds of the curves shown) as the timeline draws them; micro ones named with
    their label and probability, pale and dotted under the page's confidence line."""
    if not len(times):
        return []
    shown = []
    for item in events:
        if item["end_s"] < times[0]:
            continue
        label, p = _named(item)
        micro = item.get("kind") == "micro"
        kind = "macro" if not micro else ("micro" if p is not None and p >= CONFIDENCE_LINE else "weak")
        name = "ordinary expression" if not micro else (f"{label} {p:.0%}" if label and p is not None else "micro")
        name += "?" if kind == "weak" else ""
        apex_s = float(item.get("apex_s", (item["start_s"] + item["end_s"]) / 2))
        hover = f"<b>{name}</b> · {item['start_s']:.2f}–{item['end_s']:.2f} s<br>{str(item.get('reason', ''))[:90]}"
        shown.append(
            plots.Mark(
                start_s=float(item["start_s"]),
                apex_s=apex_s,
                end_s=float(item["end_s"]),
                apex=int(min(np.searchsorted(times, apex_s), len(times) - 1)),
                signal=str(item.get("signal", "short" if micro else "motion")),
                name=name,
                kind=kind,
                hover=hover,
            )
        )
    return shown


class _Chart:
    """The rolling timeline as plotly JSON. plots.timeline_chart builds the figure (about 60 ms) only when the events
    in view change; between, the curves and the time range are written into that figure's JSON (a few ms), so a
    redraw twice a second does not take frames from the stream."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.figure: dict | None = None

    def json(self, update: LiveUpdate, events: list[dict]) -> str:
        times = np.asarray(update.times, dtype=float)
        motion = np.asarray(update.curve, dtype=float)
        short = np.asarray(update.short_curve, dtype=float)
        shown = marks(events, times)
        key = tuple((m.start_s, m.end_s, m.kind) for m in shown)
        if self.figure is None or key != self.key:
            figure = plots.timeline_chart(times, motion, short, shown)
            self.figure, self.key = figure.to_plotly_json(), key
        figure = self.figure
        curves = [t for t in figure["data"] if t.get("mode") == "lines"]  # motion (bottom row), then short (top)
        for trace, values in zip(curves, (motion, short), strict=False):
            trace["x"], trace["y"] = times, values
            trace.pop("customdata", None)  # frame numbers of a clip; a stream's window has none to give
            trace["hovertemplate"] = "%{y:.2f} px at %{x:.2f} s<extra></extra>"
        end = float(times[-1]) if len(times) else 0.0
        layout = figure["layout"]
        layout["height"] = 380  # the stream's window, not a long clip: no range slider under it
        for name in ("xaxis", "xaxis2"):
            if name in layout:
                layout[name]["range"] = [max(0.0, end - HISTORY_S), max(end, HISTORY_S)]
                layout[name].pop("rangeslider", None)
        for name, values in (("yaxis", short), ("yaxis2", motion)):
            if name in layout:
                layout[name]["range"] = [0, plots._headroom(values)]
        return plotly.io.to_json(figure, validate=False)  # numpy arrays; NaN (no face) as null


__all__ = [
    "BASELINE_S",
    "EVENT_COLUMNS",
    "HISTORY_S",
    "Analyst",
    "LiveView",
    "Recipe",
    "Room",
    "TIME_LIMIT_S",
    "Watcher",
]
