"""The charts of the view of an answer (plotly): the class probabilities and the timeline of events.

Pure functions of numbers the Prediction holds; no chart carries a title of its own (the page writes one above
it, where a phone's width cannot cut it off and the chart's toolbar cannot cover it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MICRO = "#e8590c"  # a micro-expression above the confidence line: the accent colour
WEAK = "#f4a261"  # a micro-expression candidate below it: the same hue, paler, dashed
MACRO = "#868e96"  # ordinary (macro) expressions: grey, since they are not what the model names
MUTED = "#ced4da"
CURVE = "#1c7ed6"
LONG_CLIP_S = 20.0  # longer clips open zoomed on the event shown, with a range slider over the whole clip
LABEL_GAP = 0.14  # two labels closer than this share of the visible time would collide at phone width
MAX_LABELS = 4
_SYMBOL = {True: "diamond", False: "circle"}


def probability_chart(probabilities: Mapping[str, float], label: str, line: float) -> go.Figure:
    """Horizontal bars of class probabilities, the named class highlighted, the page's confidence line drawn.

    Args:
        probabilities: class name -> probability in [0, 1] (in the checkpoint's class order).
        label: the class the model names.
        line: the page's confidence line in [0, 1]; a top bar short of it is drawn pale.
    """
    names = list(probabilities)[::-1]  # plotly draws the first bar at the bottom
    values = [float(probabilities[n]) for n in names]
    top = MICRO if float(probabilities.get(label, 0.0)) >= line else WEAK
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=[top if n == label else MUTED for n in names],
            text=[f"{v:.0%}" for v in values],
            textposition="outside",
            cliponaxis=False,  # "100%" stays whole at phone width
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    # the line is a dotted rule with its own tick (the page's label says what it is): no text near the toolbar
    fig.add_vline(x=line, line={"color": "#495057", "dash": "dot", "width": 1})
    ticks = [0.0, 0.5, line] if abs(line - 1.0) > 0.05 else [0.0, 0.5, 1.0]
    fig.update_layout(
        xaxis={"range": [0, 1.22], "tickformat": ".0%", "tickvals": ticks, "fixedrange": True},
        yaxis={"automargin": True, "fixedrange": True},
        margin={"l": 8, "r": 8, "t": 40, "b": 8},  # the page's label sits over the top left
        modebar={"orientation": "v"},
        height=240,
        showlegend=False,
    )
    return fig


def message_chart(text: str) -> go.Figure:
    """An empty chart that says why it is empty."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 13})
    fig.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, height=120, margin={"l": 8, "r": 8, "t": 8, "b": 8}
    )
    return fig


@dataclass(frozen=True)
class Mark:
    """One event as the timeline draws it: seconds, which signal it was found on, its name and how sure."""

    start_s: float
    apex_s: float
    end_s: float
    apex: int  # frame index, for the marker on the signal
    signal: str  # "short" (short-movement signal) or "motion" (motion curve); "given" is drawn on the motion curve
    name: str  # "surprise 95%" for a micro event, "ordinary expression" for a macro one
    kind: str  # "micro", "weak" (a micro candidate below the line) or "macro"
    hover: str
    salient: bool = False


def timeline_chart(times: np.ndarray, motion: np.ndarray, short: np.ndarray | None, marks: Sequence[Mark]) -> go.Figure:
    """Each event drawn on the signal it was found on: micro events on the short-movement signal (top row), the
    longer, ordinary ones on the motion curve (bottom row); a long clip opens on the event shown, with a range
    slider over the whole clip.

    Args:
        times: (N,) seconds of each frame. motion: (N,) crop px, the motion curve (NaN where there is no face).
        short: (N,) crop px, the short-movement signal, or None when the clip had none (too short, or onset and
            apex given): then one row.
        marks: the events, in time order.
    """
    rows = 2 if short is not None else 1
    fig = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55] if rows == 2 else None
    )
    row_of = {"short": 1, "motion": rows, "given": rows}
    signals = {rows: motion} | ({1: short} if short is not None else {})
    for row, values in signals.items():
        name = "short movement" if row == 1 and rows == 2 else "motion"
        fig.add_trace(_curve(times, values, name), row=row, col=1)
    duration = float(times[-1]) if len(times) else 0.0
    visible = _visible_range(marks, duration)
    labelled = _labelled(marks, (visible[1] - visible[0]) or 1.0)
    for i, mark in enumerate(marks):
        row = row_of.get(mark.signal, rows)
        _draw(fig, mark, row, rows, signals[row], label=i in labelled)
    for row, values in signals.items():  # room above the highest point for a label
        title = "short (px)" if row == 1 and rows == 2 else "motion (px)"
        fig.update_yaxes(title={"text": title, "font": {"size": 11}}, range=[0, _headroom(values)], row=row, col=1)
    long = duration > LONG_CLIP_S
    fig.update_xaxes(range=list(visible), row=rows, col=1, title={"text": "time (s)", "font": {"size": 11}})
    if long:
        fig.update_xaxes(rangeslider={"visible": True, "thickness": 0.08}, row=rows, col=1)
    fig.update_layout(
        height=(300 if rows == 1 else 380) + (50 if long else 0),
        margin={"l": 8, "r": 8, "t": 40, "b": 8},  # the page's label sits over the top left
        modebar={"orientation": "v"},  # down the right edge, clear of the page's label over the top left
        hovermode="closest",
        showlegend=False,  # the colours are said under the chart, where a phone's width cannot squeeze them
    )
    return fig


def _headroom(values: np.ndarray) -> float:
    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    return 1.35 * float(finite.max()) + 0.1 if finite.size else 1.0


def _curve(times: np.ndarray, values: np.ndarray, name: str) -> go.Scatter:
    frames = np.arange(len(values))
    return go.Scatter(
        x=times,
        y=values,
        mode="lines",
        line={"color": CURVE, "width": 1.5},
        customdata=frames,
        hovertemplate=f"{name} %{{y:.2f}} px at %{{x:.2f}} s (frame %{{customdata}})<extra></extra>",
        showlegend=False,
    )


def _visible_range(marks: Sequence[Mark], duration: float) -> tuple[float, float]:
    """The whole clip, or for a long one LONG_CLIP_S around the event shown (the salient one, else the first)."""
    if duration <= LONG_CLIP_S:
        return 0.0, max(duration, 1e-3)
    focus = next((m for m in marks if m.salient), marks[0] if marks else None)
    centre = focus.apex_s if focus else 0.0
    start = min(max(0.0, centre - LONG_CLIP_S / 2), duration - LONG_CLIP_S)
    return start, start + LONG_CLIP_S


def _labelled(marks: Sequence[Mark], span: float) -> set[int]:
    """Which micro events get a text label: the salient one first, then the surest, none closer than LABEL_GAP of
    the visible span to another, at most MAX_LABELS (the others say their name on hover)."""
    order = sorted(
        (i for i, m in enumerate(marks) if m.kind != "macro"),
        key=lambda i: (not marks[i].salient, marks[i].kind != "micro", marks[i].start_s),
    )
    kept: list[int] = []
    for i in order:
        if len(kept) < MAX_LABELS and all(abs(marks[i].apex_s - marks[k].apex_s) > LABEL_GAP * span for k in kept):
            kept.append(i)
    return set(kept)


def _draw(fig: go.Figure, mark: Mark, row: int, rows: int, values: np.ndarray, label: bool) -> None:
    colour = {"micro": MICRO, "weak": WEAK, "macro": MACRO}[mark.kind]
    width = max(mark.end_s - mark.start_s, 1e-3)
    fig.add_vrect(
        x0=mark.start_s,
        x1=mark.start_s + width,
        fillcolor=colour,
        opacity=0.4 if mark.salient else (0.25 if mark.kind != "macro" else 0.15),
        line={"width": 1 if mark.kind == "weak" else 0, "dash": "dot", "color": colour},
        row=row,
        col=1,
    )
    y = float(values[mark.apex]) if 0 <= mark.apex < len(values) and np.isfinite(values[mark.apex]) else 0.0
    fig.add_trace(
        go.Scatter(
            x=[mark.apex_s],
            y=[y],
            mode="markers+text" if label else "markers",
            text=[mark.name] if label else None,
            textposition="top center",
            textfont={"color": colour, "size": 12},
            cliponaxis=False,
            marker={"color": colour, "size": 11 if mark.salient else 7, "symbol": _SYMBOL[mark.salient]},
            hovertemplate=mark.hover + "<extra></extra>",
            showlegend=False,
        ),
        row=row,
        col=1,
    )
