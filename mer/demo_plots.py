"""Figures and words for the browser demo (app.py): plotly charts, the card in plain words, picture helpers.

Pure functions of a prediction's numbers; mer.demo decides what to show, app.py where.
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


def nothing_to_name_chart(text: str = "No micro-expression found: nothing for the model to name") -> go.Figure:
    """An empty chart that says why it is empty (no micro event, so no class probabilities)."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, height=160, margin={"l": 10, "r": 10, "t": 10, "b": 10}
    )
    return fig


_MICRO = "#e8590c"  # micro events: the accent colour
_MACRO = "#868e96"  # ordinary (macro) expressions: grey, since they are not what the model names


def timeline_chart(
    curve: Sequence[float] | np.ndarray,
    fps: float,
    events: Sequence[Mapping[str, Any]],
    salient: int | None = None,
) -> go.Figure:
    """The clip's motion curve over time with every event shaded: micro events named, macro events as expressions.

    Args:
        curve: (N,) motion per frame (arbitrary units: how much the face moves in the AU regions).
        fps: frames per second of the clip (the x axis is in seconds; frames show on hover).
        events: dicts with ``onset``, ``apex`` and ``offset`` (frame indices, offset may be None), ``kind``
            ("micro" or "macro"), for micro events ``label`` and ``probabilities`` (class -> [0, 1]).
        salient: index into ``events`` of the micro event the answer is about (drawn stronger), or None.
    """
    values = np.asarray(curve, dtype=float).ravel()
    rate = float(fps) if fps and fps > 0 else 1.0
    seconds = np.arange(values.size) / rate
    fig = go.Figure(
        go.Scatter(
            x=seconds,
            y=values,
            mode="lines",
            line={"color": "#1c7ed6", "width": 2},
            customdata=np.arange(values.size),
            hovertemplate="%{x:.3f} s (frame %{customdata}): %{y:.3g}<extra></extra>",
            name="motion",
        )
    )
    crowded = sum(1 for e in events if e.get("kind") != "micro") > 4  # long names would overlap
    for i, event in enumerate(events):
        _shade_event(fig, event, rate, values, strong=i == salient, short=crowded)
    n_micro = sum(1 for e in events if e.get("kind") == "micro")
    found = f"{n_micro} micro" + (f", {len(events) - n_micro} ordinary (grey)" if len(events) > n_micro else "")
    fig.update_layout(
        title=f"Motion over the clip: {found} ({values.size} frames, {values.size / rate:.2f} s at {fps:g} fps)",
        xaxis={"title": "time (s)"},
        yaxis={"title": "motion (a.u.)"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=300,
        showlegend=False,
    )
    return fig


def event_name(event: Mapping[str, Any], short: bool = False) -> str:
    """Name of an event on the timeline: "happiness 72%" for a micro event, "ordinary expression" (or, short,
    "ordinary") for a macro one."""
    if event.get("kind") != "micro":
        return "ordinary" if short else "ordinary expression"
    label = event.get("label") or "micro-expression"
    probability = (event.get("probabilities") or {}).get(label)
    return f"{label} {probability:.0%}" if isinstance(probability, int | float) else str(label)


def _shade_event(
    fig: go.Figure, event: Mapping[str, Any], rate: float, values: np.ndarray, strong: bool, short: bool = False
) -> None:
    onset, apex = int(event["onset"]), int(event["apex"])
    offset = event.get("offset")
    end = int(offset) if offset is not None else apex
    micro = event.get("kind") == "micro"
    colour = _MICRO if micro else _MACRO
    fig.add_vrect(
        x0=onset / rate,
        x1=max(end, onset + 1) / rate,
        fillcolor=colour,
        opacity=0.35 if strong else 0.18,
        line_width=0,
        annotation_text=event_name(event, short),
        # micro names along the top, ordinary expressions along the bottom: many events stay readable
        annotation_position="top left" if micro else "bottom left",
        annotation_font={"color": colour if micro else "#495057", "size": 12 if micro else 10},
    )
    if 0 <= apex < values.size:
        fig.add_trace(
            go.Scatter(
                x=[apex / rate],
                y=[values[apex]],
                mode="markers",
                marker={"color": colour, "size": 10 if strong else 7},
                hovertemplate=f"{event_name(event)}: apex at frame {apex} (%{{x:.3f}} s)<br>"
                + str(event.get("reason", ""))[:120]
                + "<extra></extra>",
            )
        )


# Jargon a card may use, explained in one line each (shown only for the words the card uses).
GLOSSARY = {
    "UF1": "the F1 score (how well a class is both found and not over-used) of each class, averaged so a rare "
    "class counts as much as a common one; 1 is perfect.",
    "UAR": "the share of each class's clips named right, averaged over the classes (unweighted average recall).",
    "holdout": "some people are kept out of training altogether and used only for the test.",
    "LOSO": "leave-one-subject-out: train on everyone but one person, test on that person, repeat for each.",
}
METRIC_NAMES = {"accuracy": "accuracy", "uf1": "UF1", "uar": "UAR"}  # the headline figures a card shows


def card_summary(card: Mapping[str, Any]) -> str:
    """Markdown saying, in plain words, where a checkpoint's weights come from and how they were tested.

    Synthetic training data are said loudly; UF1, UAR, holdout and LOSO get one line of explanation each
    when the card uses them. Subject ids stay out: people are counted, not named.
    """
    metrics = card.get("metrics") if isinstance(card.get("metrics"), Mapping) else {}
    source = str(metrics.get("data_source") or card.get("dataset", ""))
    synthetic = bool(card.get("synthetic")) or "synth" in source.lower()
    lines = []
    if synthetic:
        lines.append(
            "⚠️ **Trained on synthetic data.** These weights learned from computer-made micro-expressions, "
            "not from real people: the answer shows how the method works, not what a real face felt."
        )
    data = f" on {card['dataset']}" + (" (a synthetic copy)" if synthetic else "") if card.get("dataset") else ""
    lines.append(f"**Model:** `{card.get('architecture', '?')}`, trained{data}.")
    if card.get("protocol"):
        lines.append(f"**How it was tested:** {protocol_text(card['protocol'])}.")
    shown = [
        f"{name} {metrics[key]:.0%}" if key == "accuracy" else f"{name} {metrics[key]:.2f}"
        for key, name in METRIC_NAMES.items()
        if isinstance(metrics.get(key), int | float) and not isinstance(metrics.get(key), bool)
    ]
    if shown:
        scores = ", ".join(shown)
        lines.append(f"**Scores on the test people:** {scores} (accuracy: clips named right; 1 is perfect).")
    used = " ".join(lines)
    glossary = [f"- *{word}*: {text}" for word, text in GLOSSARY.items() if word.lower() in used.lower()]
    text = "\n\n".join(lines)
    if glossary:
        text += "\n\n" + "\n".join(glossary)
    if card.get("note"):
        text += f"\n\n_{card['note']}_"
    return text


def protocol_text(protocol: Any) -> str:
    """A card's protocol in words: "a holdout test: trained on 11 people (165 clips), tested on 3 others ..."."""
    if not isinstance(protocol, Mapping):
        name = str(protocol)
        return {"loso": "LOSO (each person tested by a model that never saw them)"}.get(name.lower(), name)
    samples = protocol.get("samples") or {}

    def counted(text: str, role: str) -> str:
        return f"{text} ({samples[role]} clips)" if samples.get(role) else text

    name = str(protocol.get("name", "?"))
    pieces = []
    if protocol.get("train_subjects"):
        pieces.append(counted(f"trained on {len(protocol['train_subjects'])} people", "train"))
    if protocol.get("val_subjects"):
        pieces.append(counted(f"training length chosen on {len(protocol['val_subjects'])} of them", "val"))
    if protocol.get("test_subjects"):
        pieces.append(counted(f"tested on {len(protocol['test_subjects'])} others it never saw", "test"))
    text = f"a {name} test" + (": " + ", ".join(pieces) if pieces else "")
    selection = str(protocol.get("selection") or "")
    if selection.startswith("final epoch"):
        text += f"; the weights kept: the {selection}, fixed in advance"
    elif selection:  # e.g. "validation uf1, epoch 2": chosen on the validation people, never the test ones
        text += f"; the weights kept: the best {selection} on those {len(protocol.get('val_subjects', []))} people"
    return text


def with_colour_scale(image: np.ndarray, low: str = "low", high: str = "high") -> np.ndarray:
    """The image with a JET colour bar under it (the scale of the heat-map overlays), labelled low and high.

    Args:
        image: (H, W, 3) RGB uint8 overlay.
    Returns:
        (H + 30, W, 3) RGB uint8.
    """
    import cv2

    h, w = image.shape[:2]
    ramp = np.tile(np.linspace(0, 255, w, dtype=np.float32).astype(np.uint8), (12, 1))
    bar = cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    strip = np.full((30, w, 3), 255, dtype=np.uint8)
    strip[2:14] = bar
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
    cv2.putText(strip, low, (2, 27), font, scale, (40, 40, 40), 1, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize(high, font, scale, 1)
    cv2.putText(strip, high, (w - tw - 2, 27), font, scale, (40, 40, 40), 1, cv2.LINE_AA)
    return np.concatenate([np.asarray(image, dtype=np.uint8), strip], axis=0)


def tint_regions(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 140, 0)) -> np.ndarray:
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
