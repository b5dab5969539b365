"""The view of a Prediction: what the page and ``mer predict --save-dir`` show of one answer.

It presents what the Predictor decided (the events, which one is shown, its label, the maps it drew) and adds only
the page's own reading: the confidence line under which a micro-expression is called a weak candidate, and a plain
sentence under each group of pictures. :func:`present` builds the view; :func:`save` writes it to a folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mer.demo import plots

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from mer.inference import Prediction
    from mer.spotting.events import Event

# A micro-expression is named in the headline only from this probability up. On real videos that hold none, the
# shipped weights' false micro events reached 0.83 and none 0.9 (benchmarks/results/realfaces, "ordinary" set);
# the synthetic examples are named at 0.95-1.00.
CONFIDENCE_LINE = 0.9
EMPTY_CAM = 0.05  # a Grad-CAM whose maximum is below this has nothing to show
FLAT_GATE = 0.05  # a CBAM gate whose max - min is below this weighs every place about the same
MAX_ORDINARY_PICTURES = 4
GROUPS = ("global", "local", "fusion")
# What each group of maps is, in a sentence (shown above the group on the page).
GROUP_WORDS = {
    "global": "**Global branch** (the whole face). *Grad-CAM*: warm colours mark the areas whose features pushed the "
    "model toward its answer. *Attention*: where this branch's CBAM gate let features through.",
    "local": "**Local branch** (only the action-unit regions: brows and eyes, mouth, chin, cheeks, nose). The same "
    "two maps; outside the regions this branch sees nothing.",
    "fusion": "**Fusion** (CAFFM): five CBAM attention gates in a row decide which places of the combined features "
    "count.",
}


@dataclass(frozen=True)
class Picture:
    """An RGB uint8 picture (H, W, 3) and its short caption."""

    image: np.ndarray
    caption: str


@dataclass
class View:
    """One answer as the page shows it.

    title: the headline's first line; body: Markdown under it (the Predictor's summary, the event shown, the frame
    rate, how the events were found, notes). label: the class named, or what stands in for one. probabilities,
    timeline: plotly figures; timeline_note: how to read the timeline. pictures: the clip (aligned face, onset,
    apex, movement, AU regions); maps: group -> pictures; notes: "pictures" or a group -> a plain sentence.
    timings: [stage, ms] rows. result: the JSON answer.
    """

    title: str
    body: str
    label: str
    probabilities: go.Figure
    timeline: go.Figure
    timeline_note: str
    pictures: list[Picture]
    maps: dict[str, list[Picture]]
    notes: dict[str, str]
    timings: list[list[Any]]
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        return f"### {self.title}\n\n{self.body}"

    @property
    def summary(self) -> str:
        """The answer in one line, with the frame rate used and where it came from (the API's summary)."""
        return f"{self.result['summary']}; {self.result['fps']:.4g} fps, {self.result['fps_source']}"


# ------------------------------------------------------------------------------------------------ reading


def named(pred: Prediction) -> dict[int, tuple[str, float]]:
    """Event index -> (label, its probability) for every micro event the model named."""
    return {k: (label, float(pred.event_probabilities[k][label])) for k, label in pred.labels.items()}


def sure(name: tuple[str, float] | None) -> bool:
    """Whether a named micro event is at or above the page's confidence line."""
    return name is not None and name[1] >= CONFIDENCE_LINE


def _times(pred: Prediction) -> np.ndarray:
    if pred.times is not None:
        return np.asarray(pred.times, dtype=float)
    return np.arange(pred.frame_count) / float(pred.fps)


def _when(times: np.ndarray, event: Event) -> str:
    start, end = times[event.onset], times[min(event.offset, len(times) - 1)]
    return f"{start:.2f}–{end:.2f} s"


# ------------------------------------------------------------------------------------------------ the view


def present(pred: Prediction, clip_name: str = "", fps_source: str = "") -> View:
    """The view of one Prediction.

    Args:
        pred: the Predictor's answer.
        clip_name: the clip's file name (the headline and the JSON name it; no server path leaves).
        fps_source: where the frame rate came from, in words ("read from the video file").
    """
    times, salient, names = _times(pred), pred.salient, named(pred)
    events = list(pred.events)
    title, label = headline_title([e.kind for e in events], names, salient)
    body = _body(pred, clip_name, fps_source, times, names)
    bars = (
        plots.probability_chart(pred.event_probabilities[salient], names[salient][0], CONFIDENCE_LINE)
        if salient is not None
        else plots.message_chart("No micro-expression: nothing for the model to name")
    )
    maps, map_notes = _maps(pred, names.get(salient) if salient is not None else None)
    pictures, picture_note = _pictures(pred, times, events, salient)
    result = _result(pred, clip_name, fps_source, title)
    return View(
        title=title,
        body=body,
        label=label,
        probabilities=bars,
        timeline=_timeline(pred, times, names),
        timeline_note=_timeline_note(pred, times),
        pictures=pictures,
        maps=maps,
        notes={"pictures": picture_note, **map_notes},
        timings=[[stage, round(seconds * 1000.0, 1)] for stage, seconds in pred.timings.items()],
        result=result,
    )


def headline_title(kinds: list[str], names: dict[int, tuple[str, float]], salient: int | None) -> tuple[str, str]:
    """The headline's first line and the label field: a class only at or above the confidence line.

    Args:
        kinds: each event's kind ("micro", "macro"); names: micro event index -> (label, probability);
        salient: the index of the micro event the answer is about (the Predictor's choice), or None.
    """
    line = f"{CONFIDENCE_LINE:.0%}"
    if salient is not None and sure(names.get(salient)):
        label, p = names[salient]
        return f"{label} · {p:.0%}", label
    if "micro" not in kinds:
        return "No micro-expression found", "no micro-expression"
    certain = [n for n in names.values() if sure(n)]
    if certain:  # the clearest movement is weak, yet another one is sure: name that one first
        label, p = max(certain, key=lambda n: n[1])
        return f"{label} · {p:.0%} (the movement shown below is weaker)", label
    return f"No micro-expression above the {line} line", f"no micro-expression above {line}"


def _body(
    pred: Prediction, clip_name: str, fps_source: str, times: np.ndarray, names: dict[int, tuple[str, float]]
) -> str:
    out = [f"**{clip_name}**: {pred.summary}." if clip_name else f"{pred.summary}."]
    weak = [k for k, n in sorted(names.items()) if not sure(n)]
    if weak:
        listed = "; ".join(f"{names[k][0]} {names[k][1]:.0%} at {_when(times, pred.events[k])}" for k in weak[:5])
        more = f" and {len(weak) - 5} more" if len(weak) > 5 else ""
        out.append(
            f"**Weak candidates** (below the page's {CONFIDENCE_LINE:.0%} line, pale on the timeline): {listed}{more}. "
            "On real videos that hold no micro-expression the model still finds such short movements now and then."
        )
    if pred.salient is not None:
        event = pred.events[pred.salient]
        which = "the micro-expression" if sure(names.get(pred.salient)) else "a weak candidate"
        out.append(
            f"**Shown below:** {which} at {_when(times, event)} (onset frame {event.onset}, apex frame "
            f"{event.apex}, offset frame {event.offset})."
        )
    frames = pred.frame_count
    out.append(
        f"**Frame rate:** {pred.fps:.4g} fps, {fps_source or 'as read'}: {frames} frames, {frames / pred.fps:.2f} s."
    )
    if pred.notes:
        out.append("**Notes:** " + "; ".join(pred.notes) + ".")
    return "\n\n".join(out)


def _marks(pred: Prediction, times: np.ndarray, names: dict[int, tuple[str, float]]) -> list[plots.Mark]:
    last = len(times) - 1
    found = {"short": "short movements", "motion": "the motion curve", "given": "the onset and apex given"}
    marks = []
    for i, e in enumerate(pred.events):
        name = f"{names[i][0]} {names[i][1]:.0%}" if i in names else "ordinary expression"
        kind = "macro" if e.kind != "micro" else ("micro" if sure(names.get(i)) else "weak")
        name += "?" if kind == "weak" else ""
        hover = (
            f"<b>{name}</b> · {_when(times, e)} (frames {e.onset}–{e.offset})<br>found on "
            f"{found.get(e.signal, e.signal)}<br>{e.reason[:90]}"
        )
        marks.append(
            plots.Mark(
                start_s=float(times[min(e.onset, last)]),
                apex_s=float(times[min(e.apex, last)]),
                end_s=float(times[min(e.offset, last)]),
                apex=e.apex,
                signal=e.signal,
                name=name,
                kind=kind,
                hover=hover,
                salient=i == pred.salient,
            )
        )
    return marks


def _timeline(pred: Prediction, times: np.ndarray, names: dict[int, tuple[str, float]]) -> go.Figure:
    short = pred.short_curve
    has_short = short is not None and np.isfinite(np.asarray(short, dtype=float)).any()
    return plots.timeline_chart(
        times,
        np.asarray(pred.motion_curve, dtype=float),
        np.asarray(short, dtype=float) if has_short else None,
        _marks(pred, times, names),
    )


def _timeline_note(pred: Prediction, times: np.ndarray) -> str:
    two_rows = pred.short_curve is not None and np.isfinite(np.asarray(pred.short_curve, dtype=float)).any()
    rows = (
        "Top: short movements (how far the face moved and came back within a fraction of a second), where "
        "micro-expressions are found. Bottom: the motion curve (how far the face is from the start of its window), "
        "where longer, ordinary expressions are found. "
        if two_rows
        else "The motion curve: how far the face moved, frame by frame. "
    )
    colours = (
        f"Orange: a micro-expression the model names at {CONFIDENCE_LINE:.0%} or more; pale and dotted: a weak "
        "candidate; grey: an ordinary expression (smile, talking). Hover or tap a marker for its name."
    )
    long = (
        f" This clip is {times[-1]:.0f} s long: the chart opens on {plots.LONG_CLIP_S:.0f} s around the event shown "
        "(or at the start); drag the slider under it to move along the clip."
        if len(times) and times[-1] > plots.LONG_CLIP_S
        else ""
    )
    return rows + colours + long


def _pictures(
    pred: Prediction, times: np.ndarray, events: list[Event], salient: int | None
) -> tuple[list[Picture], str]:
    """The clip's pictures and a sentence under them."""
    face = pred.face_crop
    pictures = [Picture(face, "Aligned face")] if face is not None else []
    if salient is None:
        # the ordinary expressions whose frames the Predictor kept (the strongest few), in time order
        ordinary = sorted(i for i in pred.crops if events[i].kind != "micro")[:MAX_ORDINARY_PICTURES]
        for i in ordinary:
            pictures.append(Picture(pred.crops[i]["apex"], f"Ordinary · {times[events[i].apex]:.2f} s"))
        note = "The face as the model sees it (aligned, 231 × 282 px)" + (
            ", and the peak of the strongest ordinary expressions." if ordinary else "."
        )
        return pictures, note
    event = events[salient]
    for which in ("onset", "apex"):
        crop = pred.crops.get(salient, {}).get(which)
        frame = getattr(event, which)
        if crop is not None:
            pictures.append(Picture(crop, f"{which.capitalize()} · frame {frame}"))
    if pred.flow_rgb is not None:
        pictures.append(Picture(pred.flow_rgb, "Movement"))
    apex = pred.crops.get(salient, {}).get("apex")
    if pred.model_input is not None and apex is not None:
        pictures.append(Picture(_tint(apex, pred.model_input[-1]), "AU regions"))
    return pictures, (
        "The aligned face; the onset (start) and apex (peak) of the micro-expression shown; the movement between "
        "them (colour: direction, brightness: amount); the action-unit regions the local branch reads (orange)."
    )


def _tint(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 140, 0)) -> np.ndarray:
    """Blend a colour over the pixels where mask > 0.5: (H, W, 3) uint8 and (H, W) -> (H, W, 3) uint8."""
    out = image.astype(np.float32)
    on = np.asarray(mask, dtype=np.float32) > 0.5
    out[on] = 0.55 * out[on] + 0.45 * np.asarray(colour, dtype=np.float32)
    return out.clip(0, 255).astype(np.uint8)


def _maps(pred: Prediction, answer: tuple[str, float] | None) -> tuple[dict[str, list[Picture]], dict[str, str]]:
    """The Predictor's overlays grouped by where they sit, with a caption each and a sentence under each group.

    Args:
        answer: (label, probability) of the micro event the maps explain, or None without one.
    """
    groups: dict[str, list[Picture]] = {g: [] for g in GROUPS}
    if answer is None or not pred.overlays:
        why = "No micro-expression was found, so there is no answer for the model's maps to explain."
        return groups, {g: why if g == "global" else "" for g in GROUPS}
    notes: dict[str, list[str]] = {g: [] for g in GROUPS}
    fused, spans = 0, []
    for name, picture in pred.overlays.items():  # keyed by map name, in the order the Predictor drew them
        if name.startswith("gradcam_"):
            branch = name.removeprefix("gradcam_")
            heat = np.asarray(pred.gradcam[branch])
            empty = float(heat.max()) < EMPTY_CAM
            groups.setdefault(branch, []).append(Picture(picture, "Grad-CAM: empty" if empty else "Grad-CAM"))
            notes.setdefault(branch, []).append(
                f"Its Grad-CAM is empty: none of this branch's features pushed toward “{answer[0]}”, so the answer "
                "came from the other branch."
                if empty
                else f"Warm areas of the Grad-CAM pushed the answer toward “{answer[0]}”."
            )
            continue
        gate = np.asarray(pred.cbam[name.removeprefix("cbam_")])
        lo, hi = float(gate.min()), float(gate.max())
        branch = name.removeprefix("cbam_attn_") if name.startswith("cbam_attn_") else "fusion"
        fused += branch == "fusion"
        caption = f"CBAM {fused}" if branch == "fusion" else "Attention"
        groups.setdefault(branch, []).append(Picture(picture, caption))
        spans.append(f"{caption if branch == 'fusion' else branch + ' attention'} {lo:.2f}–{hi:.2f}")
        if hi - lo < FLAT_GATE:
            notes.setdefault(branch, []).append(
                f"{caption} looks flat: its gate is between {lo:.2f} and {hi:.2f} everywhere, so it weighs every "
                "place about the same (stretched to that range, tiny differences look like noise)."
            )
    if spans:
        notes["fusion"].append(
            "Each attention map is stretched to its own range (blue: its lowest, red: its highest); the gates span "
            + ", ".join(spans)
            + "."
        )
    if not sure(answer):
        notes["global"].insert(0, f"These maps explain a weak candidate ({answer[0]} {answer[1]:.0%}).")
    return groups, {g: " ".join(n) for g, n in notes.items()}


def _result(pred: Prediction, clip_name: str, fps_source: str, title: str) -> dict[str, Any]:
    """The Prediction's JSON with names instead of the server's paths, the curves, and the page's reading."""
    result = pred.to_json()
    result["source"] = clip_name or Path(result.get("source") or "").name
    checkpoint = result.get("checkpoint")
    if isinstance(checkpoint, dict):  # "file", not "path": gradio_client takes a dict with a "path" for a file
        checkpoint["file"] = Path(checkpoint.pop("path", None) or "").name or None
    result["fps_source"] = fps_source
    for key, values in (("motion_curve", pred.motion_curve), ("short_curve", pred.short_curve)):
        if values is not None:  # NaN (no face in that frame) is not JSON: null
            result[key] = [round(float(v), 6) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]
    result["view"] = {"title": title, "confidence_line": CONFIDENCE_LINE}
    return result


# ------------------------------------------------------------------------------------------------ save


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "picture"


def save(pred: Prediction, folder: str | Path, clip_name: str = "", fps_source: str = "") -> list[Path]:
    """Write the view of `pred` to `folder`: each picture and map (PNG), the timeline (HTML that reads offline,
    with plotly.min.js beside it), the headline (Markdown) and result.json. Returns the paths written."""
    from PIL import Image

    from mer.errors import InputError

    view = present(pred, clip_name, fps_source)
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written, images = [], {}
        for group, pictures in {"clip": view.pictures, **view.maps}.items():
            for i, picture in enumerate(pictures, start=1):
                path = out / f"{group}_{i}_{_slug(picture.caption)}.png"
                Image.fromarray(np.ascontiguousarray(picture.image, dtype=np.uint8)).save(path)
                images[path.stem] = picture.caption
                written.append(path)
        timeline = out / "timeline.html"
        view.timeline.write_html(timeline, include_plotlyjs="directory", full_html=True)
        headline = out / "answer.md"
        headline.write_text(view.headline + "\n\n" + view.timeline_note + "\n")
        result = dict(view.result, images=images, notes=view.notes)
        path = out / "result.json"
        path.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    except OSError as err:
        raise InputError(f"could not write into '{out}': {err.strerror or err}; check that it is writable") from None
    return [*written, timeline, headline, path]


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays -> plain JSON."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def to_json(view: View) -> str:
    return json.dumps(view.result, indent=2, default=_json_default)


__all__ = ["CONFIDENCE_LINE", "GROUP_WORDS", "Picture", "View", "present", "save"]
