"""benchmarks.flip: naming by the mean of an input's logits and its mirror image's (issue 23), on the shipped
checkpoint (its weights in this repository)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import flip
from mer.inference import Predictor

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mer_dbfem_caffm.realfaces"


def test_the_mirror_image_reverses_columns_and_negates_only_u():
    x = np.random.default_rng(0).normal(size=(4, 6, 5)).astype(np.float32)
    got = flip.mirrored(x, u_channel=0)
    assert np.array_equal(got[0], -x[0, :, ::-1]) and np.array_equal(got[1:], x[1:, :, ::-1])
    assert np.array_equal(flip.mirrored(got, u_channel=0), x)  # twice is the input again
    assert np.array_equal(x, np.random.default_rng(0).normal(size=(4, 6, 5)).astype(np.float32))  # input kept


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_checkpoint(SHIPPED)


def test_flip_averaging_changes_an_asymmetric_input_and_not_a_symmetric_one(predictor):
    rng = np.random.default_rng(1)
    c, h, w = predictor.card["input"]["size"]
    lopsided = np.zeros((c, h, w), np.float32)
    lopsided[:2, h // 3 : h // 2, : w // 3] = rng.normal(0, 2, size=(2, h // 2 - h // 3, w // 3))  # one side moves
    symmetric = lopsided + flip.mirrored(lopsided, u_channel=0)  # its mirror image is itself

    ways = flip.way_logits(predictor, [lopsided, symmetric])
    usual, averaged = ways["usual"], ways["flip-averaged"]

    assert np.allclose(averaged[1], usual[1], atol=1e-2)  # bf16 on some CPUs
    assert not np.allclose(averaged[0], usual[0], atol=1e-2)


def test_figures_count_what_is_right_and_calibrate_with_the_temperature():
    logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    labels = np.array([0, 1, 1])
    cool, hot = flip.figures(logits, labels, ["a", "b"], 1.0), flip.figures(logits, labels, ["a", "b"], 100.0)
    assert cool["right"] == 2 and cool["accuracy"] == pytest.approx(2 / 3) and cool["n"] == 3
    assert hot["nll"] == pytest.approx(np.log(2), abs=0.02) and hot["accuracy"] == cool["accuracy"]
