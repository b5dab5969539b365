"""A checkpoint's card in plain words: what the weights learned from, how well they do on synthetic people and on
real videos (``benchmarks/results/realfaces/``), and why the page picks the default one."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mer.demo.view import CONFIDENCE_LINE
from mer.weights import DEMO_CHECKPOINT

# The real-faces section (python -m benchmarks.realfaces) measured each shipped checkpoint into its own folder.
REALFACES_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "realfaces"
REAL_FIGURES = {DEMO_CHECKPOINT.name: "realfaces.csv", "mer_dbfem_caffm.synth": "synth_checkpoint/realfaces.csv"}
GLOSSARY = {
    "UF1": "the F1 score of each class (found and not over-used), averaged so a rare class counts as much as a "
    "common one; 1 is perfect.",
    "F1": "how well the micro-expressions are both found and not invented; 1 is perfect.",
}


@dataclass(frozen=True)
class RealFigures:
    """What the real-faces benchmark measured for one checkpoint (fractions, counts)."""

    named_given: float  # micro-expressions put into real videos, named right when told where they are
    injected: int  # how many were put in
    found: int  # of those, found by the spotter on its own
    spotting_f1: float
    false_per_minute: float  # micro events on real videos that have none
    largest_false: float  # the highest probability any of them got

    @classmethod
    def read(cls, name: str, root: Path = REALFACES_DIR) -> RealFigures | None:
        """The figures of checkpoint `name`, or None when this copy of the project has none for it."""
        path = root / REAL_FIGURES.get(name, "")
        if name not in REAL_FIGURES or not path.is_file():
            return None
        with path.open(newline="") as f:
            rows = {(r["set"], r["figure"]): r for r in csv.DictReader(f)}
        try:
            recall = rows["injected", "spotting_recall"]
            return cls(
                named_given=float(rows["injected", "accuracy_true_onset_apex"]["value"]),
                injected=int(recall["n"]),
                found=round(float(recall["value"]) * int(recall["n"])),
                spotting_f1=float(rows["injected", "spotting_f1"]["value"]),
                false_per_minute=float(rows["ordinary", "micro_events_per_minute"]["value"]),
                largest_false=float(rows["ordinary", "largest_micro_probability"]["value"]),
            )
        except (KeyError, ValueError):
            return None


def _photos(card: Mapping[str, Any]) -> int | None:
    sources = card.get("data_sources")
    photos = sources.get("photos") if isinstance(sources, Mapping) else None
    return len(photos) if isinstance(photos, list) else None


def plain_name(card: Mapping[str, Any], name: str, default: bool = False) -> str:
    """The name the checkpoint picker shows: what the weights learned from, e.g. "Synthetic, 9 photos, video-like
    (default)"; the folder name when the card says nothing we can use."""
    if not card.get("synthetic"):
        text = f"Trained on {card['dataset']}" if card.get("dataset") else name
    else:
        photos = _photos(card)
        protocol = card.get("protocol") if isinstance(card.get("protocol"), Mapping) else {}
        train = (protocol.get("samples") or {}).get("train")
        # short: it fits the picker on a phone; the card beside it says the rest
        text = "Synthetic" + (f", {photos} photos" if photos else f", {train} clips" if train else "")
        sources = card.get("data_sources")
        if isinstance(sources, Mapping) and sources.get("video_like"):
            text += ", video-like"
    return text + (" (default)" if default else "")


def card_summary(card: Mapping[str, Any], name: str, default: bool = False, root: Path = REALFACES_DIR) -> str:
    """Markdown: the weights in plain words. Synthetic training is said first; the figures on synthetic people
    and on real videos stand side by side; subject ids stay out (people are counted, not named)."""
    if not card.get("architecture"):
        return f"_{card.get('note', 'No model card.')}_"
    lines = [f"**Weights: {plain_name(card, name, default)}** (`{name}`)"]
    lines.append("**What they learned from.** " + _learned_from(card))
    figures = _figures(card, RealFigures.read(name, root))
    if figures:
        lines.append("**How well they do.**\n" + "\n".join(f"- {f}" for f in figures))
    if default:
        lines.append("**Why these are the default.** " + _why_default(name, root))
    used = " ".join(lines)
    words = [f"- *{w}*: {t}" for w, t in GLOSSARY.items() if f" {w} " in used.replace("(", " ").replace(";", " ")]
    return "\n\n".join(lines) + ("\n\n" + "\n".join(words) if words else "")


def _learned_from(card: Mapping[str, Any]) -> str:
    if not card.get("synthetic"):
        return f"{card.get('dataset', 'data the card does not name')}."
    sources = card.get("data_sources")
    photos = sources.get("photos") if isinstance(sources, Mapping) else None
    licences = sorted({str(p.get("licence")) for p in photos if isinstance(p, Mapping)}) if photos else []
    text = "Computer-made micro-expressions: small movements of the facial action units drawn onto " + (
        f"{len(photos)} real photographs (licences: {', '.join(licences)})" if photos else "real photographs"
    )
    if isinstance(sources, Mapping) and sources.get("video_like"):
        text += ", made to look like video (compression, light, head movement)"
    return text + (
        ". No real person's micro-expression and no licensed database: the card's “casme2” only names the file "
        "layout the made-up clips were written in. The answer shows how the method works, not what someone felt."
    )


def _figures(card: Mapping[str, Any], real: RealFigures | None) -> list[str]:
    out = []
    metrics = card.get("metrics") if isinstance(card.get("metrics"), Mapping) else {}
    protocol = card.get("protocol") if isinstance(card.get("protocol"), Mapping) else {}
    accuracy = metrics.get("accuracy")
    if isinstance(accuracy, int | float):
        people = len(protocol.get("test_subjects") or [])
        who = f"{people} synthetic people it never saw" if people else "synthetic people it never saw"
        clips = f", {metrics['n']} clips" if metrics.get("n") else ""
        uf1 = f"; UF1 {metrics['uf1']:.2f}" if isinstance(metrics.get("uf1"), int | float) else ""
        classes = len(card.get("class_names") or []) or 5
        out.append(f"On {who}: {accuracy:.0%} named right ({classes} classes, chance {1 / classes:.0%}{clips}{uf1}).")
    if real is not None:
        out.append(
            f"On real videos with {real.injected} micro-expressions put into them: told where each one is, "
            f"{real.named_given:.0%} named right; on its own the page finds {real.found} of {real.injected} "
            f"(F1 {real.spotting_f1:.2f})."
        )
        sure = (
            f"none above {real.largest_false:.0%} sure, under the page's {CONFIDENCE_LINE:.0%} line"
            if real.largest_false < CONFIDENCE_LINE
            else f"up to {real.largest_false:.0%} sure, over the page's {CONFIDENCE_LINE:.0%} line: with these "
            "weights even a sure answer can be wrong"
        )
        out.append(
            f"On real videos with no micro-expression: {real.false_per_minute:.1f} wrongly found per minute, {sure}."
        )
    elif card.get("synthetic"):
        out.append("On real videos: not measured for these weights.")
    return out


def _why_default(name: str, root: Path) -> str:
    mine = RealFigures.read(name, root)
    others = {n: RealFigures.read(n, root) for n in REAL_FIGURES if n != name}
    better = [(n, f) for n, f in others.items() if f is not None]
    if mine is None or not better:
        return "They are the weights this page was made with."
    other, figures = better[0]
    return (
        f"On real videos they name the micro-expressions put into them better ({mine.named_given:.0%}, against "
        f"{figures.named_given:.0%} for `{other}`), and a visitor's clip is a real video. The other weights score "
        "higher on their synthetic test people, who are made from the same photos as their training people."
    )
