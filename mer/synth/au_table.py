"""How often each action-unit combination codes each class in the real coding sheets, and drawing from it.

``au_counts.json`` (next to this file) holds only counts: per CASME II class, how many micro-expressions of CASME II's
``CASME2-coding-20140508.xlsx`` and SAMM's ``SAMM_Micro_FACS_Codes_v2.xlsx`` were coded with each AU combination.
The sheets themselves are licensed with their databases and are never shipped; ``count_sheets`` rebuilds the table
from a user's copies (``python -m mer.synth.au_table CASME2_SHEET SAMM_SHEET > au_counts.json``).

Reading the sheets: an AU code keeps its number only (side L/R, asymmetry A, intensity A-E, ``ref(...)`` and the
first of ``X or Y`` alternatives all read as AU X, bilateral); AUs py-feat's AU -> mesh model cannot move
(``mer.synth.anatomy``: 8, 13, 16, 18, 21, 31, 38, 39, 56, 61-64 ...) are dropped, and a sample left with none is
not counted (``dropped`` says how many). Classes: CASME II's five (fear and sadness are others, as in
``mer.spec.CASME2_5``); SAMM's happiness, surprise and disgust are those, its anger, contempt, fear, sadness and
other are others (SAMM has no repression).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mer.spec import CASME2_5

COUNTS_FILE = Path(__file__).with_name("au_counts.json")
# Sheet emotion (lower case) -> CASME II 5-class name
TO_CLASS = {
    "happiness": "happiness", "disgust": "disgust", "surprise": "surprise", "repression": "repression",
    "others": "others", "other": "others", "fear": "others", "sadness": "others", "anger": "others",
    "contempt": "others",
}  # fmt: skip


def parse_aus(code: Any, known: tuple[int, ...]) -> tuple[int, ...]:
    """The sorted AU numbers of a sheet's Action Units cell that are in `known` ("4+L10" -> (4, 10); "(R6 or
    R12)+R15" -> (6, 15); "?" -> ())."""
    out = set()
    for part in str(code).split("+"):
        number = re.search(r"\d+", part)
        if number and int(number.group()) in known:
            out.add(int(number.group()))
    return tuple(sorted(out))


def _count(rows: list[tuple[Any, Any]], known: tuple[int, ...]) -> tuple[dict[str, Counter], int]:
    table: dict[str, Counter] = defaultdict(Counter)
    dropped = 0
    for code, emotion in rows:
        aus = parse_aus(code, known)
        name = TO_CLASS.get(str(emotion).strip().lower())
        if not aus or name is None:
            dropped += 1
            continue
        table[name]["+".join(map(str, aus))] += 1
    return table, dropped


def count_sheets(casme2_sheet: str | Path, samm_sheet: str | Path) -> dict[str, Any]:
    """The table ``au_counts.json`` holds, counted from the two real sheets: {"sources", "classes": {class:
    {"4+7": count, ...}}, "per_sheet": {sheet: {class: {...}}}, "dropped": {sheet: count}}."""
    import pandas as pd

    from mer.synth.anatomy import load_model

    known = load_model().aus
    casme = pd.read_excel(casme2_sheet)
    samm = pd.read_excel(samm_sheet, header=None)
    header = next(i for i, row in samm.iterrows() if "Action Units" in {str(v).strip() for v in row.values})
    samm = pd.read_excel(samm_sheet, header=header)
    sheets = {
        Path(casme2_sheet).name: list(zip(casme["Action Units"], casme["Estimated Emotion"], strict=True)),
        Path(samm_sheet).name: list(zip(samm["Action Units"], samm["Estimated Emotion"], strict=True)),
    }
    per_sheet, dropped, total = {}, {}, defaultdict(Counter)
    for name, rows in sheets.items():
        table, dropped[name] = _count(rows, known)
        per_sheet[name] = {c: dict(table[c].most_common()) for c in CASME2_5 if c in table}
        for c, counter in table.items():
            total[c].update(counter)
    return {
        "sources": "counts of the Action Units column per Estimated Emotion in CASME2-coding-20140508.xlsx "
        "(CASME II) and SAMM_Micro_FACS_Codes_v2.xlsx (SAMM); read by mer.synth.au_table.count_sheets",
        "classes": {c: dict(total[c].most_common()) for c in CASME2_5},
        "per_sheet": per_sheet,
        "dropped": dropped,
    }


@lru_cache(maxsize=1)
def class_counts() -> dict[str, dict[tuple[int, ...], int]]:
    """Class -> {AU combination: count} from ``au_counts.json``."""
    table = json.loads(COUNTS_FILE.read_text())["classes"]
    return {c: {tuple(int(a) for a in k.split("+")): int(v) for k, v in table[c].items()} for c in CASME2_5}


def draw_aus(rng: np.random.Generator, emotion: str) -> tuple[int, ...]:
    """An AU combination for a sample of `emotion`, drawn at the sheets' frequencies."""
    combos = class_counts()[emotion]
    keys = list(combos)
    p = np.array([combos[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def bayes_accuracy() -> float:
    """The best accuracy any classifier could reach on samples drawn from the table with classes equally likely
    and only the AU combination to go by (each combination named its most likely class)."""
    counts = class_counts()
    share = {c: {k: v / sum(t.values()) for k, v in t.items()} for c, t in counts.items()}
    combos = {k for t in share.values() for k in t}
    return float(sum(max(s.get(k, 0.0) for s in share.values()) for k in combos) / len(share))


if __name__ == "__main__":
    import sys

    print(json.dumps(count_sheets(sys.argv[1], sys.argv[2]), indent=1))
