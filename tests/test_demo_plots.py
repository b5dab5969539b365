"""What the demo page says about a checkpoint: the shipped card in words, synthetic data loudly."""

from __future__ import annotations

from mer.demo_plots import card_summary
from mer.engine.checkpoint import read_card
from mer.inference import DEFAULT_CHECKPOINT


def test_the_shipped_card_in_plain_words():
    text = card_summary(read_card(DEFAULT_CHECKPOINT))
    assert text.startswith("⚠️ **Trained on synthetic data.**")
    assert "trained on 11 subjects (165 samples), tested on sub08, sub09, sub11 (45 samples)" in text
    assert "model: final epoch (40)" in text
    assert "UF1 0.956" in text and "held-out subjects" in text
    assert "{" not in text  # no raw dicts or lists on the page


def test_a_card_from_real_data_has_no_synthetic_warning():
    card = {"architecture": "mer_gfem", "dataset": "casme2", "protocol": "loso", "metrics": {"uf1": 0.61, "n": 255}}
    text = card_summary(card)
    assert "synthetic" not in text.lower()
    assert text == "**Model:** `mer_gfem` · **data:** casme2 · **protocol:** loso · **figures:** UF1 0.610"
