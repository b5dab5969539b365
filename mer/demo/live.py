"""The Live tab: a visitor's webcam analysed as it streams in, shown as it happens.

gradio's webcam streaming calls the page once per frame with the picture the browser took from its camera (a JPEG,
decoded to RGB). It does not say when the picture was taken, so each frame is timed by its arrival here. The call
only hands the frame to the visitor's :class:`Watcher` and returns, so the camera's upload never waits for the
analysis: a worker thread per visitor feeds the newest frame to a :class:`mer.spotting.live.LiveSession`, and a frame
that arrives while the worker is still busy replaces the one waiting (skipped: the session counts the gap and the
status says so).

    room = Room(lambda fps: LiveSession(predictor, fps=fps))
    watcher, view = room.frame(watcher, rgb, session_hash)   # each frame; view: status, chart, event rows
    view = room.stopped(watcher, folder)                     # Stop or the time limit: the rest decided, files
    room.left(session_hash)                                  # the tab closed: the stream and its state let go

The first second of frames measures the camera's frame rate (browsers ask for 30 but a camera in dim light gives
15), which the session counts its windows in. Nothing here imports gradio: app.py lays out the tab and binds these.
"""

from __future__ import annotations

import json
import logging
import threading
import time
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
    from mer.spotting.live import LiveSession, LiveUpdate

log = logging.getLogger("mer.demo.live")

STREAM_EVERY_S = 1 / 30  # the browser takes a picture this often (a camera's 30 fps; faster only repeats frames)
TIME_LIMIT_S = 600  # one live session at most, so that visitors waiting in the queue get their turn
RATE_PROBE_S = 1.0  # the first second of frames measures the camera's frame rate
CAMERA_RATES = (5.0, 10.0, 12.0, 15.0, 20.0, 24.0, 25.0, 30.0, 50.0, 60.0)  # what cameras give; the measure snaps
REFRESH_S = 1.0  # the chart is redrawn this often (and when an event comes): each redraw is a plotly figure to send
STATUS_S = 0.25  # the status line at most this often: an update per frame costs the server and the browser time
JOIN_S = 10.0  # Stop waits this long for a frame being analysed before the rest is decided
EVENT_COLUMNS = ["when (s)", "kind", "label", "how sure"]

MakeSession = Callable[[float], "LiveSession"]  # frames per second -> a new session


@dataclass
class LiveView:
    """What the tab shows after a frame or at the end: `status` (Markdown, one line), `chart` (plotly JSON of the
    rolling timeline of the last HISTORY_S seconds), `rows` (the events so far, newest first, as EVENT_COLUMNS): each
    None when unchanged; `files` (CSV and JSON of the events, written at the end; None: none yet)."""

    status: str | None
    chart: str | None = None
    rows: list[list[str]] | None = None
    files: list[str] | None = None


class Watcher:
    """One visitor's live stream: frames offered as they arrive, the newest analysed by a worker thread.

    Args:
        make_session: frames per second -> the LiveSession to feed (made once the camera's rate is measured).
        clock: seconds, monotonic (a test's own clock).
    """

    def __init__(self, make_session: MakeSession, clock: Callable[[], float] = time.monotonic) -> None:
        self.make_session = make_session
        self.clock = clock
        self.session: LiveSession | None = None
        self.start: float | None = None  # arrival of the first frame: the stream's second 0
        self.probe: list[tuple[float, np.ndarray]] = []  # the first second's frames, until the rate is known
        self.previous: np.ndarray | None = None
        self.repeats = 0  # frames identical to the one before (the browser asked faster than the camera gives)
        self.received = 0
        self.waiting: tuple[float, np.ndarray] | None = None  # the newest frame, not yet analysed
        self.latest: LiveUpdate | None = None
        self.error = ""
        self.stopped = False
        self.ended: float | None = None  # when the stream was stopped (clock seconds)
        self.released = False
        self.chart = _Chart()
        self.shown_events = -1
        self.last_chart = -1e9
        self.last_status, self.last_status_at = "", -1e9
        self.worker: threading.Thread | None = None
        self.busy = False  # the worker is analysing a frame
        self.lock = threading.Condition()

    # ----------------------------------------------------------------------------------------------- frames in

    def offer(self, frame: np.ndarray | None) -> None:
        """A frame from the camera, (H, W, 3) uint8 RGB, timed now; repeats of the previous frame are dropped."""
        if frame is None or self.stopped or self.error:
            return
        now = self.clock()
        if self.start is None:
            self.start = now
        frame = np.asarray(frame)
        if self.previous is not None and _same(frame, self.previous):
            self.repeats += 1
            return
        self.previous = frame
        self.received += 1
        seconds = now - self.start
        if self.session is None:
            self.probe.append((seconds, frame))
            if seconds < RATE_PROBE_S or len(self.probe) < 3:
                return
            self._begin()
            if self.session is None:
                return
        with self.lock:
            self.waiting = (seconds, frame)
            self.lock.notify()

    def _begin(self) -> None:
        """The camera's rate measured over the first second: the session made, and a worker that analyses that
        second's frames first, then the newest frame each time it is free."""
        first = self.probe[:-1]  # the last one is the frame being offered: it goes where new frames go
        self.probe = []
        try:
            self.session = self.make_session(camera_rate(np.array([t for t, _ in first] + [self.clock() - self.start])))
        except Exception as err:  # noqa: BLE001  (any failure becomes the visitor's status, never a dead page)
            self._failed(err)
            return
        self.busy = True  # from now until the first second's frames are analysed
        self.worker = threading.Thread(target=self._work, args=(first,), name="mer-live", daemon=True)
        self.worker.start()

    def _work(self, first: list[tuple[float, np.ndarray]]) -> None:
        session = self.session
        try:
            for seconds, frame in first:
                if self.stopped:
                    return
                self.latest = session.push(seconds, frame)
            with self.lock:
                self.busy = False
                self.lock.notify_all()
            while True:
                with self.lock:
                    while self.waiting is None and not self.stopped:
                        self.lock.wait()
                    if self.waiting is None:  # stopped, nothing left to analyse
                        return
                    seconds, frame = self.waiting
                    self.waiting = None
                    self.busy = True
                self.latest = session.push(seconds, frame)
                with self.lock:
                    self.busy = False
                    self.lock.notify_all()
        except Exception as err:  # noqa: BLE001
            self._failed(err)
        finally:
            with self.lock:
                self.busy = False
                self.lock.notify_all()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every frame offered so far has been analysed or skipped (the worker idle); whether it is."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while (self.waiting is not None or self.busy) and self.worker is not None and self.worker.is_alive():
                if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    break
            return self.waiting is None and not self.busy

    def _failed(self, err: Exception) -> None:
        log.exception("live analysis failed")
        self.error = (
            f"The analysis of your stream failed ({type(err).__name__}); it was logged. Press **Stop**, then "
            "**Record** to start again."
        )

    # ----------------------------------------------------------------------------------------------- the end

    def stop(self) -> None:
        """End the stream: the frame being analysed finished, the rest decided (LiveSession.close)."""
        if self.stopped:
            return
        with self.lock:
            self.stopped = True
            self.ended = self.clock()
            self.waiting = None
            self.lock.notify()
        if self.worker is not None:
            self.worker.join(JOIN_S)
        if self.session is not None and not self.error:
            try:
                self.latest = self.session.close()
            except Exception as err:  # noqa: BLE001
                self._failed(err)

    def release(self) -> None:
        """The visitor left: stop the worker and let the session, its frames and its events go."""
        with self.lock:
            self.stopped = self.released = True
            self.waiting = None
            self.lock.notify()
        self.session, self.probe, self.previous, self.latest = None, [], None, None

    # ----------------------------------------------------------------------------------------------- the view

    @property
    def events(self) -> list[dict]:
        """Every event decided so far (dicts as Prediction.events_json's entries, with reported_s)."""
        return list(self.session.events) if self.session is not None else []

    def view(self, force: bool = False) -> LiveView:
        """The status line (None: unchanged), and the chart and the event rows when they changed (or `force`)."""
        events = self.events
        rows = None
        if force or len(events) != self.shown_events:
            rows = event_rows(events)
            self.shown_events = len(events)
        chart = None
        now = self.clock()
        if self.latest is not None and (force or now - self.last_chart >= REFRESH_S or rows is not None):
            chart = self.chart.json(self.latest, events)
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
        if self.session is None:
            if self.stopped:
                return "Stopped before the camera's first second: press **Record** to start."
            return "Starting: measuring your camera's frame rate…" if self.received else "Waiting for the camera…"
        update = self.latest
        if update is None:
            return f"Starting at {self.session.fps:g} frames a second…"
        said = update.status
        words = [f"**{said[:1].upper()}{said[1:]}**"]
        if not update.baseline_done and not self.stopped and "neutral" not in said:
            words.append(f"the first {self.session.baseline_s:g} s of your face are its neutral baseline")
        if not self.stopped and "busy" not in said:
            words.append(f"analysing {update.analysed_fps:.0f} of {self.session.fps:g} frames a second")
        if update.skipped:
            words.append(f"{update.skipped} frames skipped because the machine was behind")
        if not self.stopped:
            n = len(self.session.events)
            words.append(f"{n} event{'s' if n != 1 else ''} so far")
        return " · ".join(words)

    def write(self, folder: Path) -> list[str]:
        """The session's events as live_events.csv and live_events.json in `folder`; the two paths."""
        if self.session is None:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = folder / "live_events.csv", folder / "live_events.json"
        csv_path.write_text(self.session.to_csv())
        answer = dict(self.session.to_json(), page=self.delivery())
        json_path.write_text(json.dumps(answer, indent=2, default=_plain) + "\n")
        return [str(csv_path), str(json_path)]

    def delivery(self) -> dict[str, Any]:
        """What the browser delivered: frames received (repeats of the previous picture not counted), over how many
        seconds, and how they were timed."""
        seconds = (self.clock() if not self.stopped else self.ended) - self.start if self.start is not None else 0.0
        session = self.session
        analysed = session.frames if session is not None else 0
        push_s = session.wall.get("push", 0.0) if session is not None and hasattr(session, "wall") else 0.0
        return {
            "frames_received": self.received,
            "frames_analysed": analysed,
            "analysis_ms_per_frame": round(1000.0 * push_s / analysed, 1) if analysed else None,
            "repeats_dropped": self.repeats,
            "seconds": round(seconds, 3),
            "received_fps": round(self.received / seconds, 2) if seconds > 0 else 0.0,
            "timed_by": "arrival at the server (the browser's webcam stream does not say when a frame was taken)",
        }


class Room:
    """Every visitor's Watcher by gradio session, so a visitor who closes the tab is let go at once.

    Args:
        make_session: frames per second -> a new LiveSession (with the page's Predictor).
        clock: seconds, monotonic (a test's own clock).
    """

    def __init__(self, make_session: MakeSession, clock: Callable[[], float] = time.monotonic) -> None:
        self.make_session = make_session
        self.clock = clock
        self.watchers: dict[str, Watcher] = {}
        self.lock = threading.Lock()

    def frame(self, watcher: Watcher | None, frame: np.ndarray | None, visitor: str) -> tuple[Watcher, LiveView]:
        """A frame of `visitor`'s stream (a new Watcher for a new stream); the view to show now."""
        try:
            if watcher is None or watcher.stopped:
                watcher = Watcher(self.make_session, self.clock)
                with self.lock:
                    old = self.watchers.pop(visitor, None)
                    self.watchers[visitor] = watcher
                if old is not None and old is not watcher:
                    old.release()
            watcher.offer(frame)
            return watcher, watcher.view()
        except Exception as err:  # noqa: BLE001  (the page keeps serving; the visitor reads what happened)
            log.exception("live frame failed")
            if watcher is not None:
                watcher.error = watcher.error or f"The analysis of your stream failed ({type(err).__name__})."
            return watcher, LiveView(
                status=f"The analysis of your stream failed ({type(err).__name__}); it was logged."
            )

    def stopped(self, watcher: Watcher | None, folder: Callable[[], Path]) -> LiveView:
        """The stream ended (Stop, the time limit, or the camera lost): the rest decided, the files written."""
        if watcher is None:
            return LiveView(status="Press **Record** to start.", rows=[])
        try:
            watcher.stop()
            log.info("live stream ended: %s", watcher.delivery())
            shown = watcher.view(force=True)
            shown.files = watcher.write(folder()) or None
            if watcher.session is not None and watcher.session.last_seconds is not None:
                if watcher.session.last_seconds >= TIME_LIMIT_S - 2:
                    shown.status += f" · a live session lasts at most {TIME_LIMIT_S // 60} min: press **Record** again"
            return shown
        except Exception as err:  # noqa: BLE001
            log.exception("live stop failed")
            return LiveView(status=f"Stopping failed ({type(err).__name__}); it was logged.")

    def left(self, visitor: str) -> None:
        """The visitor closed the tab (or reloaded it): their stream and state end now."""
        with self.lock:
            watcher = self.watchers.pop(visitor, None)
        if watcher is not None:
            watcher.release()
            log.info("a live visitor left: their stream ended; %d live stream(s) remain", len(self.watchers))

    def __len__(self) -> int:
        return len(self.watchers)


# ---------------------------------------------------------------------------------------------------- helpers


def camera_rate(times: np.ndarray) -> float:
    """The camera's frame rate from arrival seconds of its frames (the median gap: the page's own start stalls a
    few), snapped to the nearest rate cameras give."""
    gaps = np.diff(np.asarray(times, dtype=float))
    gaps = gaps[gaps > 0]
    measured = 1.0 / float(np.median(gaps)) if len(gaps) else 1.0 / STREAM_EVERY_S
    return float(min(CAMERA_RATES, key=lambda r: abs(r - measured)))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two frames are the same picture (a camera's own frames always differ by their noise)."""
    return a.shape == b.shape and np.array_equal(a[::16, ::16], b[::16, ::16]) and np.array_equal(a, b)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


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


__all__ = ["BASELINE_S", "EVENT_COLUMNS", "HISTORY_S", "LiveView", "Room", "STREAM_EVERY_S", "TIME_LIMIT_S", "Watcher"]
