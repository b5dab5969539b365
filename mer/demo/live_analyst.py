"""The Live tab's analysis process: an Analyst runs a visitor's :class:`mer.spotting.live.LiveSession` in a process
of its own. In the server's process its Python work would hold the interpreter lock that the server needs for every
frame it receives (measured here: one busy Python thread beside gradio cut the frames it delivered from 28 to 5 a
second).

Messages, each answered: ("start", fps) -> ("started", facts); ("frame", seconds, rgb) -> ("update", LiveUpdate,
facts); ("restart", fps) -> ("restarted", LiveUpdate, facts, csv, json) and a new session at that rate; ("close",)
-> ("closed", LiveUpdate, facts, csv, json). A failure is ("error", its type, its traceback); ("warning", text) may
come before an answer.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from dataclasses import dataclass
from typing import Any


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


THREADS = 1  # each Analyst computes on one thread (OpenCV's and torch's): the stream's frames come one at a time,
# and the cores are the browser's and the server's too. The man's stream at 25 frames a second, this machine, quiet:
# 22.4 ms a frame on its default threads but 36.2 ms of CPU (1.6 cores), 26.8 ms on one thread and 28.1 ms of CPU
# (/tmp script of the 2026-12-06 session); a visitor each, several Analysts share the cores without overbooking them


def _one_thread() -> None:
    import cv2
    import torch

    cv2.setNumThreads(THREADS)
    torch.set_num_threads(THREADS)


def _warm_up() -> None:
    """Load now what a session's first face would load: the face models and the modules the spotter imports as it
    first needs them (scipy's signal and ndimage bring scipy.stats: 0.7 s on this machine). Loaded by a visitor's
    first frames, they cost the CPU the browser and the server share just as the stream begins, and the page's
    frames then came at 6-12 a second for 2 s (against 25 after)."""
    import numpy as np
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401

    from mer.spotting import mesh

    grey = np.full((480, 640, 3), 128, dtype=np.uint8)
    mesh.detect(grey)
    mesh.fit(grey, mesh.roi_from_box((220.0, 140.0, 420.0, 340.0)))


def _serve(conn: Any, recipe: Recipe) -> None:
    """The Analyst's process: load the model, then ("start", fps), ("frame", seconds, rgb)... ("close",), each
    answered; ("restart", fps) closes the session and starts another at that rate, with its baseline. Any failure
    is sent back as ("error", its type, its traceback) and ends it."""
    try:
        from mer.inference import Predictor
        from mer.spotting.live import LiveSession

        _one_thread()
        predictor = Predictor.from_checkpoint(recipe.checkpoint, device=recipe.device) if recipe.checkpoint else None
        _warm_up()
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
                # the person's baseline goes on: a new one would be learnt over whatever the face does now
                session = LiveSession(predictor, fps=message[1], baseline=session.noise)
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


class AnalystFailed(Exception):
    """The Analyst's process sent ("error", the exception's type name, its traceback)."""
