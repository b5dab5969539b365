"""The Live tab: a visitor's webcam analysed as it streams in, shown as it happens.

gradio's webcam streaming calls the page once per frame with the picture the browser took from its camera (a JPEG,
decoded to RGB). It does not say when the picture was taken, so each frame is timed by its arrival here. The call
only hands the frame to the visitor's :class:`Watcher` and returns, so the camera's upload never waits for the
analysis. The analysis (a :class:`mer.spotting.live.LiveSession`) runs in a process of its own, an
:class:`Analyst`: in the server's process its Python work would hold the interpreter lock that the server needs for
every frame it receives (measured here: one busy Python thread beside gradio cut the frames it delivered from 28 to
5 a second). The Analyst is given one frame at a time, at the session's rate: a frame that comes sooner is not
analysed (a burst after a pause is taken whole), and frames wait for it in a short queue (when it is full, the
oldest goes: the session counts the gap and the status says so).

    room = Room(Recipe(checkpoint))                          # room.prepare(): an Analyst loads the model ahead
    watcher, view = room.frame(watcher, rgb, session_hash)   # each frame; view: status, chart, event rows
    view = room.stopped(watcher, folder)                     # Stop or the time limit: the rest decided, files
    room.left(session_hash)                                  # the tab closed: the stream and its process end

The first RATE_PROBE_S of frames measure the rate they come at (browsers ask for 30 but a camera in dim light gives
15, and the page's stream stalls now and then), which the session, started after them, counts its windows in; when
the Analyst falls behind, or the frames come slower than that (the page's stream slows once the analysis loads the
machine), the session restarts at a lower rate, and back at a higher one (up to the camera's) once it keeps up again
and the frames come fast enough. Nothing here imports gradio: app.py lays out the tab and binds these.

This module is the Room (every visitor, their leaving, the Analysts prepared ahead) and the tab's public entry; the
pieces: :mod:`mer.demo.live_watcher` (one visitor's stream), :mod:`mer.demo.live_rate` (the rate it is analysed
at), :mod:`mer.demo.live_analyst` (the analysis process) and :mod:`mer.demo.live_view` (what the tab shows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mer.demo.live_analyst import Analyst, Recipe
from mer.demo.live_rate import DELIVERY_S, STEADY_S, STREAM_EVERY_S, arrival_rate, camera_rate, fewer, step_up
from mer.demo.live_view import EVENT_COLUMNS, LiveView, event_rows, events_table, marks
from mer.demo.live_watcher import Watcher, failure
from mer.spotting.live import BASELINE_S, HISTORY_S

log = logging.getLogger("mer.demo.live")

TIME_LIMIT_S = 600  # one live session at most, so that visitors waiting in the queue get their turn
LATE_S = 10.0  # a frame of a visitor who left, arriving this soon after, was on its way: it starts no new stream
STOP_LATE_S = 2.0  # a frame arriving this soon after Stop was on its way then: it starts no new stream either (it
# did, and the new stream let go of the one being stopped, whose end then read "Ended: the page was closed." in a
# clean-clone run of the Chromium plain-stream check, 2026-12-06 13:35 UTC)


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
            if watcher is not None and watcher.stopped and watcher.ended is not None:
                if self.clock() - watcher.ended < STOP_LATE_S:  # on its way as Stop was pressed: nothing new
                    return watcher, LiveView(status=None)
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
            failed = failure(type(err).__name__)
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


__all__ = [
    "BASELINE_S",
    "DELIVERY_S",
    "EVENT_COLUMNS",
    "HISTORY_S",
    "LATE_S",
    "STEADY_S",
    "STOP_LATE_S",
    "STREAM_EVERY_S",
    "TIME_LIMIT_S",
    "Analyst",
    "LiveView",
    "Recipe",
    "Room",
    "Watcher",
    "arrival_rate",
    "camera_rate",
    "event_rows",
    "events_table",
    "fewer",
    "marks",
    "step_up",
]
