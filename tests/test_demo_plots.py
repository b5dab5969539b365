"""What the demo page draws and says: the card in plain words, the timeline of events, the colour scale."""

from __future__ import annotations

import numpy as np

from mer.demo_plots import card_summary, event_name, timeline_chart, with_colour_scale
from mer.engine.checkpoint import read_card
from mer.inference import DEFAULT_CHECKPOINT


def test_the_shipped_card_in_plain_words_with_its_jargon_explained():
    card = read_card(DEFAULT_CHECKPOINT)
    text = card_summary(card)
    assert text.startswith("⚠️ **Trained on synthetic data.**")
    protocol, metrics = card["protocol"], card["metrics"]
    train, val = len(protocol["train_subjects"]), len(protocol["val_subjects"])
    assert f"trained on {train} people (" in text and f"training length chosen on {val} of them" in text
    assert f"tested on 3 others it never saw ({metrics['n']} clips)" in text
    assert f"the best {protocol['selection']} on those {val} people" in text
    assert f"UF1 {metrics['uf1']:.2f}" in text and f"accuracy {metrics['accuracy']:.0%}" in text
    for word in ("UF1", "UAR", "holdout"):
        assert f"- *{word}*: " in text  # one line each
    assert "LOSO" not in text  # explained only where the card uses it
    assert "sub08" not in text  # people are counted, not named
    assert "{" not in text  # no raw dicts or lists on the page


def test_a_card_from_real_data_has_no_synthetic_warning():
    card = {"architecture": "mer_gfem", "dataset": "casme2", "protocol": "loso", "metrics": {"uf1": 0.61, "n": 255}}
    text = card_summary(card)
    assert "synthetic" not in text.lower()
    assert text.startswith("**Model:** `mer_gfem`, trained on casme2.")
    assert "UF1 0.61" in text and "- *LOSO*: leave-one-subject-out" in text and "UAR" not in text


def test_the_timeline_shades_each_event_and_names_micro_and_macro_apart():
    curve = np.r_[np.zeros(20), np.hanning(10), np.zeros(20), 4 * np.hanning(60), np.zeros(10)]
    events = [
        {
            "onset": 20,
            "apex": 25,
            "offset": 30,
            "kind": "micro",
            "label": "surprise",
            "probabilities": {"surprise": 0.8, "others": 0.2},
        },
        {"onset": 50, "apex": 80, "offset": 110, "kind": "macro"},
    ]
    fig = timeline_chart(curve, 100.0, events, salient=0)
    shapes = fig.layout.shapes
    assert len(shapes) == 2
    assert (shapes[0].x0, shapes[0].x1) == (0.2, 0.3) and (shapes[1].x0, shapes[1].x1) == (0.5, 1.1)  # seconds
    names = [a.text for a in fig.layout.annotations]
    assert names == ["surprise 80%", "ordinary expression"]
    assert "1 micro, 1 ordinary (grey)" in fig.layout.title.text
    crowded = timeline_chart(curve, 100.0, [dict(events[1], onset=10 * i, apex=10 * i + 2) for i in range(5)])
    assert {a.text for a in crowded.layout.annotations} == {"ordinary"}  # five long names would overlap
    assert event_name({"kind": "micro", "label": None}) == "micro-expression"


def test_an_empty_timeline_still_draws_the_curve():
    fig = timeline_chart(np.linspace(0, 1, 30), 30.0, [])
    assert len(fig.data) == 1 and not fig.layout.shapes and "0 micro" in fig.layout.title.text


def test_the_colour_scale_runs_from_blue_to_red_under_the_picture():
    image = np.full((282, 231, 3), 128, np.uint8)
    out = with_colour_scale(image)
    assert out.shape == (312, 231, 3) and (out[:282] == image).all()
    left, right = out[288, 2].astype(int), out[288, -3].astype(int)  # JET: blue at low, red at high
    assert left[2] > left[0] + 80 and right[0] > right[2] + 80
