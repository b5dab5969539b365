"""What the Live tab shows: the status, the rolling timeline of the last HISTORY_S seconds and the list of events
(a :class:`LiveView`), from the events decided so far and the latest LiveUpdate's curves.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import plotly.io

from mer.demo import plots
from mer.demo.view import CONFIDENCE_LINE
from mer.spotting.live import HISTORY_S

if TYPE_CHECKING:
    from mer.spotting.live import LiveUpdate

EVENT_COLUMNS = ["when (s)", "kind", "label", "how sure"]


@dataclass
class LiveView:
    """What the tab shows after a frame or at the end: `status` (Markdown, one line), `chart` (plotly JSON of the
    rolling timeline of the last HISTORY_S seconds), `rows` (the events so far, newest first, as EVENT_COLUMNS): each
    None when unchanged; `files` (CSV and JSON of the events, written at the end; None: none yet)."""

    status: str | None
    chart: str | None = None
    rows: list[list[str]] | None = None
    files: list[str] | None = None


NONE = "—"  # a cell with nothing to say: no label (an ordinary expression, a micro one not named yet)


def _named(item: dict) -> tuple[str, float | None]:
    """(label, its probability) of a micro event, ("", None) when it has none."""
    label = item.get("label") or ""
    probability = (item.get("probabilities") or {}).get(label) if label else None
    return label, (float(probability) if probability is not None else None)


def event_rows(events: list[dict]) -> list[list[str]]:
    """The events as the list shows them, newest first: when, kind, label and how sure (micro ones)."""
    rows = []
    # newest first by when it happened: an ordinary expression is decided later than a micro one after it
    for item in sorted(events, key=lambda e: e["start_s"], reverse=True):
        label, p = _named(item)
        micro = item.get("kind") == "micro"
        kind = "micro-expression" if micro else "ordinary expression"
        if micro and p is not None and p < CONFIDENCE_LINE:
            kind = f"weak candidate (under {CONFIDENCE_LINE:.0%})"
        sure = f"{p:.0%}" if p is not None else NONE
        rows.append([f"{item['start_s']:.2f}–{item['end_s']:.2f}", kind, label or NONE, sure])
    return rows


def events_table(rows: list[list[str]]) -> str:
    """The list as an HTML table (EVENT_COLUMNS), its text escaped; a row saying so when there is none yet.

    Not a gr.Dataframe: gradio 6.31's table, updated while streaming, kept cells' old text (Chromium, 2026-12-06
    15:00 UTC: the server sent "micro-expression", the page showed "ordinary expression" from the row there
    before; rows went missing), as gradio-app/gradio#13611 and #11470 report."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in EVENT_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(EVENT_COLUMNS)}">No events yet.</td></tr>'
    return f'<table class="mer-live-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def marks(events: list[dict], times: np.ndarray) -> list[plots.Mark]:
    """The events seen in `times` (seconds of the curves shown) as the timeline draws them; micro ones named with
    their label and probability, pale and dotted under the page's confidence line."""
    if not len(times):
        return []
    shown = []
    for item in events:
        if item["end_s"] < times[0]:
            continue
        label, p = _named(item)
        micro = item.get("kind") == "micro"
        kind = "macro" if not micro else ("micro" if p is not None and p >= CONFIDENCE_LINE else "weak")
        name = "ordinary expression" if not micro else (f"{label} {p:.0%}" if label and p is not None else "micro")
        name += "?" if kind == "weak" else ""
        apex_s = float(item.get("apex_s", (item["start_s"] + item["end_s"]) / 2))
        hover = f"<b>{name}</b> · {item['start_s']:.2f}–{item['end_s']:.2f} s<br>{str(item.get('reason', ''))[:90]}"
        shown.append(
            plots.Mark(
                start_s=float(item["start_s"]),
                apex_s=apex_s,
                end_s=float(item["end_s"]),
                apex=int(min(np.searchsorted(times, apex_s), len(times) - 1)),
                signal=str(item.get("signal", "short" if micro else "motion")),
                name=name,
                kind=kind,
                hover=hover,
            )
        )
    return shown


class Chart:
    """The rolling timeline as plotly JSON. plots.timeline_chart builds the figure (about 60 ms) only when the events
    in view change; between, the curves and the time range are written into that figure's JSON (a few ms), so a
    redraw twice a second does not take frames from the stream."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.figure: dict | None = None

    def json(self, update: LiveUpdate, events: list[dict]) -> str:
        times = np.asarray(update.times, dtype=float)
        motion = np.asarray(update.curve, dtype=float)
        short = np.asarray(update.short_curve, dtype=float)
        shown = marks(events, times)
        key = tuple((m.start_s, m.end_s, m.kind) for m in shown)
        if self.figure is None or key != self.key:
            figure = plots.timeline_chart(times, motion, short, shown)
            self.figure, self.key = figure.to_plotly_json(), key
        figure = self.figure
        curves = [t for t in figure["data"] if t.get("mode") == "lines"]  # motion (bottom row), then short (top)
        for trace, values in zip(curves, (motion, short), strict=False):
            trace["x"], trace["y"] = times, values
            trace.pop("customdata", None)  # frame numbers of a clip; a stream's window has none to give
            trace["hovertemplate"] = "%{y:.2f} px at %{x:.2f} s<extra></extra>"
        end = float(times[-1]) if len(times) else 0.0
        layout = figure["layout"]
        layout["height"] = 380  # the stream's window, not a long clip: no range slider under it
        for name in ("xaxis", "xaxis2"):
            if name in layout:
                layout[name]["range"] = [max(0.0, end - HISTORY_S), max(end, HISTORY_S)]
                layout[name].pop("rangeslider", None)
        for name, values in (("yaxis", short), ("yaxis2", motion)):
            if name in layout:
                layout[name]["range"] = [0, plots._headroom(values)]
        return plotly.io.to_json(figure, validate=False)  # numpy arrays; NaN (no face) as null
