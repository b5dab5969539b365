"""benchmarks.naming: how a validation set of training identities ranks candidate checkpoints against the figure
measured on real videos (issue 23). Pure table logic here; the measured figures themselves need the real videos
and minutes of CPU (``python -m benchmarks.naming``)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmarks import naming


def test_rank_agreement_reads_the_same_and_the_opposite_order():
    assert naming.rank_agreement([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.9])["spearman"] == pytest.approx(1.0)
    assert naming.rank_agreement([0.1, 0.2, 0.3, 0.4], [0.9, 0.7, 0.6, 0.5])["kendall"] == pytest.approx(-1.0)
    assert math.isnan(naming.rank_agreement([0.1, 0.2], [0.3, 0.4])["spearman"])  # two points rank nothing


def test_agreement_counts_a_lower_validation_nll_as_better():
    table = pd.DataFrame({
        "val_accuracy": [0.5, 0.6, 0.7], "val_uf1": [0.5, 0.6, 0.7], "val_nll": [1.2, 1.0, 0.8],
        "gaussian_accuracy": [0.4, 0.5, 0.6], "anatomy_accuracy": [0.6, 0.5, 0.4],
    })  # fmt: skip
    got = naming.agreement(table)
    assert got["val_nll vs gaussian_accuracy"]["spearman"] == pytest.approx(1.0)
    assert got["val_accuracy vs anatomy_accuracy"]["spearman"] == pytest.approx(-1.0)
