"""Figures and captions for the browser demo (app.py): plotly charts and a plain-language card summary.

Pure functions of a prediction's numbers, so the page code stays a list of components and one handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

_ACCENT = "#e8590c"
_MUTED = "#adb5bd"


def probability_chart(probabilities: Mapping[str, float], label: str) -> go.Figure:
    """Horizontal bar chart of class probabilities, the predicted class highlighted.

    Args:
        probabilities: class name -> probability in [0, 1] (softmax output, in the checkpoint's class order).
        label: the predicted class name.
    """
    names = list(probabilities)[::-1]  # plotly draws the first bar at the bottom
    values = [float(probabilities[n]) for n in names]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=[_ACCENT if n == label else _MUTED for n in names],
            text=[f"{v:.0%}" for v in values],
            textposition="outside",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Predicted: {label}",
        xaxis={"title": "probability", "range": [0, 1.15], "tickformat": ".0%"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=260,
        showlegend=False,
    )
    return fig


def motion_curve_chart(curve: Sequence[float] | np.ndarray, onset: int, apex: int, fps: float) -> go.Figure:
    """Line chart of the clip's motion curve with the onset and apex frames marked.

    Args:
        curve: (N,) motion per frame (arbitrary units: how much the face differs from the first frame).
        onset, apex: frame indices into the clip.
        fps: frames per second, to show time in milliseconds on hover.
    """
    values = np.asarray(curve, dtype=float).ravel()
    frames = np.arange(values.size)
    ms = frames * 1000.0 / fps if fps and fps > 0 else frames * 0.0
    fig = go.Figure(
        go.Scatter(
            x=frames,
            y=values,
            mode="lines",
            line={"color": "#1c7ed6", "width": 2},
            customdata=ms,
            hovertemplate="frame %{x} (%{customdata:.0f} ms): %{y:.3g}<extra></extra>",
            name="motion",
        )
    )
    for index, name, colour in ((onset, "onset", "#2f9e44"), (apex, "apex", _ACCENT)):
        if 0 <= index < values.size:
            fig.add_vline(x=index, line_dash="dash", line_color=colour)
            fig.add_trace(
                go.Scatter(
                    x=[index],
                    y=[values[index]],
                    mode="markers+text",
                    marker={"color": colour, "size": 10},
                    text=[f"{name} ({index})"],
                    textposition="top center",
                    cliponaxis=False,
                    name=name,
                    hovertemplate=f"{name}: frame %{{x}}<extra></extra>",
                )
            )
    fig.update_layout(
        title=f"Motion over the clip ({values.size} frames at {fps:g} fps)",
        xaxis={"title": "frame"},
        yaxis={"title": "motion (a.u.)"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=260,
        showlegend=False,
    )
    return fig


METRIC_NAMES = {"accuracy": "accuracy", "uf1": "UF1", "uar": "UAR"}  # the headline figures a card shows


def card_summary(card: Mapping[str, Any]) -> str:
    """Markdown saying where a checkpoint's weights come from; loudly when the data were synthetic."""
    metrics = card.get("metrics") or {}
    source = metrics.get("data_source") if isinstance(metrics, Mapping) else None
    synthetic = bool(card.get("synthetic")) or "synth" in str(source or card.get("dataset", "")).lower()
    parts = [f"**Model:** `{card.get('architecture', '?')}`"]
    if card.get("dataset"):
        parts.append(f"**data:** {card['dataset']}" + (" (synthetic)" if synthetic else ""))
    if card.get("protocol"):
        parts.append(f"**protocol:** {protocol_text(card['protocol'])}")
    if isinstance(metrics, Mapping):
        shown = [
            f"{name} {metrics[key]:.3f}"
            for key, name in METRIC_NAMES.items()
            if isinstance(metrics.get(key), int | float) and not isinstance(metrics.get(key), bool)
        ]
        if shown:
            parts.append("**figures:** " + ", ".join(shown) + (f" ({source})" if source else ""))
    text = " · ".join(parts)
    if synthetic:
        text = (
            "⚠️ **Trained on synthetic data.** These weights learned from computer-made micro-expressions, "
            "not from real people: the answer shows how the method works, not what a real face felt.\n\n"
            + text
        )
    if card.get("note"):
        text += f"\n\n_{card['note']}_"
    return text


def protocol_text(protocol: Any) -> str:
    """A card's protocol in words: "holdout: trained on 11 subjects (165 samples), tested on sub08 (15 samples)…"."""
    if not isinstance(protocol, Mapping):
        return str(protocol)
    samples = protocol.get("samples") or {}

    def counted(text: str, role: str) -> str:
        return f"{text} ({samples[role]} samples)" if samples.get(role) else text

    text = str(protocol.get("name", "?"))
    pieces = []
    if protocol.get("train_subjects"):
        pieces.append(counted(f"trained on {len(protocol['train_subjects'])} subjects", "train"))
    if protocol.get("val_subjects"):
        pieces.append(counted(f"epochs picked on {len(protocol['val_subjects'])} of them", "val"))
    if protocol.get("test_subjects"):
        pieces.append(counted(f"tested on {', '.join(map(str, protocol['test_subjects']))}", "test"))
    if pieces:
        text += ": " + ", ".join(pieces)
    if protocol.get("selection"):
        text += f"; model: {protocol['selection']}"
    return text


def tint_regions(
    image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 140, 0)
) -> np.ndarray:
    """Blend a colour over the pixels where mask > 0.5 (e.g. the AU regions the local branch reads).

    Args:
        image: (H, W, 3) RGB uint8.
        mask: (H, W) float or bool, same size.
    Returns:
        (H, W, 3) RGB uint8.
    """
    out = image.astype(np.float32)
    on = np.asarray(mask, dtype=np.float32) > 0.5
    out[on] = 0.55 * out[on] + 0.45 * np.asarray(colour, dtype=np.float32)
    return out.clip(0, 255).astype(np.uint8)
