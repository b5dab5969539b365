"""What the page draws and says of an answer: the card in plain words, the timeline, the probabilities, the headline.

No model runs here: the card is the shipped one, the events and curves are made up for each case.
"""

from __future__ import annotations

import numpy as np
import pytest

from mer.demo import plots
from mer.demo.card import RealFigures, card_summary, plain_name
from mer.demo.view import CONFIDENCE_LINE, headline_title
from mer.engine.checkpoint import read_card
from mer.weights import DEMO_CHECKPOINT


def test_the_shipped_card_in_plain_words_with_real_and_synthetic_figures_side_by_side():
    card = read_card(DEMO_CHECKPOINT)
    text = card_summary(card, DEMO_CHECKPOINT.name, default=True)
    assert text.startswith(f"**Weights: {plain_name(card, DEMO_CHECKPOINT.name, default=True)}**")
    assert "Computer-made micro-expressions" in text and "no licensed database" in text
    assert "“casme2” only names the file layout" in text  # the card's dataset word, explained
    metrics, people = card["metrics"], len(card["protocol"]["test_subjects"])
    assert f"On {people} synthetic people it never saw: {metrics['accuracy']:.0%} named right" in text
    real = RealFigures.read(DEMO_CHECKPOINT.name)
    if real is not None:  # benchmarks/results/realfaces travels with the source tree
        assert f"told where each one is, {real.named_given:.0%} named right" in text
        assert f"finds {real.found} of {real.injected}" in text
        assert "**Why these are the default.** On real videos" in text
    assert "sub1" not in text and "sub0" not in text  # people are counted, not named
    assert "{" not in text  # no raw dicts or lists on the page


def test_a_card_from_real_data_has_no_synthetic_words():
    card = {"architecture": "mer_gfem", "dataset": "casme2", "class_names": ["a", "b", "c"], "metrics": {"n": 9}}
    text = card_summary(card, "mine")
    assert "synthetic" not in text.lower() and "Computer-made" not in text
    assert plain_name(card, "mine") == "Trained on casme2"


def _mark(start, apex, end, signal, kind, name="x", salient=False) -> plots.Mark:
    return plots.Mark(start, apex, end, int(apex * 10), signal, name, kind, name, salient)


def test_each_event_is_drawn_on_the_signal_it_was_found_on():
    times = np.arange(100) / 10.0
    motion, short = np.linspace(0, 5, 100), np.abs(np.sin(times))
    marks = [_mark(1.0, 1.2, 1.4, "short", "micro", "surprise 95%", True), _mark(4.0, 5.0, 7.0, "motion", "macro")]
    fig = plots.timeline_chart(times, motion, short, marks)
    rects = {shape.yref: (shape.x0, shape.x1) for shape in fig.layout.shapes}
    assert rects["y domain"] == (1.0, 1.4) and rects["y2 domain"] == (4.0, 7.0)  # top row: short; bottom: motion
    markers = {trace.yaxis: trace.y[0] for trace in fig.data if trace.mode and "markers" in trace.mode}
    assert markers["y"] == pytest.approx(short[12]) and markers["y2"] == pytest.approx(motion[50])
    assert not fig.layout.title.text  # the page titles the chart: nothing inside it to be cut off or covered


def test_a_long_clip_opens_on_the_event_shown_and_its_labels_do_not_collide():
    times = np.arange(1440) / 24.0  # 60 s at 24 fps
    marks = [_mark(t, t + 0.1, t + 0.3, "short", "weak", f"others {t:.0f}") for t in np.arange(2.0, 58.0, 1.5)]
    marks[20] = _mark(32.0, 32.1, 32.3, "short", "micro", "happiness 93%", True)
    marks += [_mark(t, t + 0.5, t + 1.5, "motion", "macro") for t in np.arange(0.0, 58.0, 2.0)]
    fig = plots.timeline_chart(times, np.ones(1440), np.ones(1440), marks)
    shown = fig.layout.xaxis2.range
    assert shown[1] - shown[0] == pytest.approx(plots.LONG_CLIP_S) and shown[0] < 32.1 < shown[1]
    assert fig.layout.xaxis2.rangeslider.visible
    labelled = [t for t in fig.data if t.text is not None]
    assert labelled[0].text[0] == "happiness 93%" or "happiness 93%" in [t.text[0] for t in labelled]
    assert 1 <= len(labelled) <= plots.MAX_LABELS
    apexes = sorted(t.x[0] for t in labelled)
    assert all(b - a > plots.LABEL_GAP * plots.LONG_CLIP_S for a, b in zip(apexes, apexes[1:], strict=False))
    assert all(t.text is None for t in fig.data if t.yaxis == "y2")  # ordinary expressions name themselves on hover


def test_the_probabilities_show_the_line_and_keep_their_numbers_whole():
    fig = plots.probability_chart({"happiness": 0.61, "others": 0.39}, "happiness", CONFIDENCE_LINE)
    bars = fig.data[0]
    assert bars.cliponaxis is False and list(bars.text) == ["39%", "61%"]
    assert plots.WEAK in bars.marker.color  # below the line: pale
    assert fig.layout.shapes[0].x0 == CONFIDENCE_LINE
    sure = plots.probability_chart({"happiness": 1.0, "others": 0.0}, "happiness", CONFIDENCE_LINE)
    assert plots.MICRO in sure.data[0].marker.color and sure.layout.xaxis.range[1] > 1.1  # room for "100%"


def test_the_headline_names_a_class_only_above_the_confidence_line():
    assert headline_title(["micro"], {0: ("surprise", 0.95)}, 0) == ("surprise · 95%", "surprise")
    assert headline_title(["macro"], {}, None) == ("No micro-expression found", "no micro-expression")
    weak = headline_title(["micro", "macro"], {0: ("surprise", 0.77)}, 0)
    assert weak == (f"No micro-expression above the {CONFIDENCE_LINE:.0%} line", "no micro-expression above 90%")
    mixed = headline_title(["micro", "micro"], {0: ("others", 0.6), 1: ("surprise", 0.97)}, 0)
    assert mixed[1] == "surprise" and "weaker" in mixed[0]
