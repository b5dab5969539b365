"""Honest confidence: temperature scaling fitted on validation subjects, and expected calibration error.

Temperature scaling (Guo et al., 2017) divides the logits by one number T > 0 fitted to minimise the negative
log-likelihood on held-out data; the predicted class never changes, only how sure the model says it is. Here T is
fitted on the VALIDATION subjects (drawn from the training side of the split); the test subjects are only
measured: expected calibration error (ECE, 15 equal-width confidence bins, top-label) before and after.

Working from probabilities is exact: softmax(log p / T) = softmax(z / T) for p = softmax(z), because log p and z
differ by a per-sample constant.

    entry = calibration_entry(val_probs, val_labels, test_probs, test_labels, fitted_on="...", ece_data="...")
    card["calibration"] = entry                   # {"temperature", "fitted_on", "ece_before", "ece_after", ...}
    calibrated = apply_temperature(probs, entry["temperature"])
"""

from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 15
T_BOUNDS = (0.05, 20.0)
_EPS = 1e-12


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (len(probs),):
        raise ValueError(f"need probs (N, C) and labels (N,), got {probs.shape} and {labels.shape}")
    if len(probs) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError(f"labels must be class indices in [0, {probs.shape[1]})")
    return probs, labels


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """(N, C) probabilities -> softmax(log(probs) / temperature), each row summing to 1."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = np.log(np.clip(np.asarray(probs, dtype=np.float64), _EPS, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood (nats) of the true classes."""
    probs, labels = _check(probs, labels)
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], _EPS, None)).mean())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: sum over equal-width confidence bins of (bin share) x |accuracy - mean confidence| in it."""
    probs, labels = _check(probs, labels)
    if not len(probs):
        return float("nan")
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    correct = (predicted == labels).astype(np.float64)
    # bin k holds confidences in (k/bins, (k+1)/bins]; a confidence of exactly 0 cannot occur for C >= 1
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for k in range(bins):
        inside = which == k
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The T in T_BOUNDS minimising the NLL of ``apply_temperature(probs, T)`` (scipy's bounded Brent search on
    log T, where the NLL is smooth and unimodal in practice)."""
    from scipy.optimize import minimize_scalar

    probs, labels = _check(probs, labels)
    if not len(probs):
        raise ValueError("cannot fit a temperature on no samples")
    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    result = minimize_scalar(
        lambda log_t: nll(apply_temperature(probs, float(np.exp(log_t))), labels),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def calibration_entry(
    val_probs: np.ndarray,
    val_labels: np.ndarray,
    test_probs: np.ndarray,
    test_labels: np.ndarray,
    *,
    fitted_on: str,
    ece_data: str,
) -> dict[str, Any]:
    """The card's ``calibration``: T fitted on the validation predictions ONLY, and what it does on the test ones.

    Returns {"method", "temperature", "fitted_on", "n_fit", "nll_fit_before", "nll_fit_after", "ece_before",
    "ece_after", "nll_before", "nll_after", "ece_bins", "ece_data", "n_ece"}; the test predictions are read only
    after T is fixed.
    """
    temperature = fit_temperature(val_probs, val_labels)
    calibrated = apply_temperature(test_probs, temperature)
    return {
        "method": "temperature scaling (NLL, scipy bounded search)",
        "temperature": round(temperature, 4),
        "fitted_on": fitted_on,
        "n_fit": int(len(val_labels)),
        "nll_fit_before": round(nll(val_probs, val_labels), 4),
        "nll_fit_after": round(nll(apply_temperature(val_probs, temperature), val_labels), 4),
        "ece_before": round(expected_calibration_error(test_probs, test_labels), 4),
        "ece_after": round(expected_calibration_error(calibrated, test_labels), 4),
        "nll_before": round(nll(test_probs, test_labels), 4),
        "nll_after": round(nll(calibrated, test_labels), 4),
        "ece_bins": ECE_BINS,
        "ece_data": ece_data,
        "n_ece": int(len(test_labels)),
    }
