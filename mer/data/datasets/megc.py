"""The MEGC 2019 composite (CASME II + SAMM + SMIC, 3 classes) -> canonical table.

List: ``combined_3class_gt.csv``, no header, one line per sample: source database, subject, sample, class
(0 negative, 1 positive, 2 surprise). 442 samples of 68 subjects: CASME II 145 (24 subjects), SAMM 133 (28),
SMIC 164 (16). The class comes from the list; onset, apex, offset and the emotion word from each database's
own sheet; the ``source`` column says which database a sample comes from.

Layout under ROOT (each part as that database's loader expects it, with its sheet inside it or in ROOT)::

    ROOT/combined_3class_gt.csv
    ROOT/CASME2/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg   (+ CASME2-coding-20140508.xlsx)
    ROOT/SAMM/006/006_1_2/006_05562.jpg                        (+ SAMM_Micro_FACS_Codes_v2.xlsx)
    ROOT/SMIC/.../s01_ne_01/<frames>                            (any depth; "s1_ne_01" also matches)

The CASME II part may also be ROOT/CASME2_RAW_selected or ROOT/Cropped directly. SMIC has no sheet: a SMIC
sample's folder holds just its micro-expression, so onset and offset are its first and last frame numbers and
the apex is -1 (spotted from the motion at preprocessing, as for CASME II's "/" apex). When several SMIC
folders carry the same name (HS, VIS, NIR), the one under a folder named "HS" is used (MEGC 2019 used
SMIC-HS).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from mer.data.datasets import casme2, samm
from mer.data.datasets.common import (
    RAW_LABEL_SET,
    SheetRow,
    build_table,
    find_sheet,
    normalise_header,
    read_grid,
    scan_frame_folder,
)
from mer.errors import InputError
from mer.spec import MEGC_3

NAME = "megc"
DEFAULT_LABEL_SET = "megc_3"
SHEET_PATTERNS = ("combined_3class_gt.csv", "*3class*.csv")
SMIC_EMOTIONS = {"ne": "negative", "po": "positive", "sur": "surprise"}
_SMIC_SAMPLE = re.compile(r"^s(\d+)_([a-z]+)_(\d+)$", re.IGNORECASE)
LAYOUT_HINT = (
    "put CASME II in ROOT/CASME2, SAMM in ROOT/SAMM and SMIC in ROOT/SMIC, each with its sheet "
    "(see mer.data.datasets.megc)"
)


def smic_key(name: str) -> str | None:
    """ "s1_ne_01" and "s01_ne_01" -> "s01_ne_01"; None for a name that is not a SMIC sample."""
    match = _SMIC_SAMPLE.match(name)
    if not match:
        return None
    return f"s{int(match[1]):02d}_{match[2].lower()}_{int(match[3]):02d}"


def find_part(root: Path, prefixes: tuple[str, ...]) -> Path | None:
    """The child of root whose name starts with one of `prefixes` (case, '-' and '_' ignored)."""
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if normalise_header(child.name).startswith(prefixes):
            return child
    return None


def casme2_part(root: Path) -> Path | None:
    if any((root / name).is_dir() for name in casme2.LAYOUTS):
        return root
    return find_part(root, ("casme2", "casmeii"))


def smic_folders(smic_root: Path) -> dict[str, Path]:
    """Every SMIC sample folder under smic_root, by normalised name (HS copies preferred)."""
    found: dict[str, Path] = {}
    for folder, dirs, _ in os.walk(smic_root):
        dirs.sort()
        for name in dirs:
            key = smic_key(name)
            if key is None:
                continue
            path = Path(folder) / name
            if key not in found or ("HS" in path.parts and "HS" not in found[key].parts):
                found[key] = path
    return found


def read_list(path: Path) -> list[tuple[int, list[str]]]:
    """(csv line number, [source, subject, sample, class]) per line; a header line, if any, is skipped."""
    rows = []
    for number, cells in enumerate(read_grid(path), start=1):
        if not any(cells):
            continue
        cells = (cells + ["", "", "", ""])[:4]
        if number == 1 and not cells[3].strip().isdigit() and normalise_header(cells[0]) in ("dataset", "source"):
            continue
        rows.append((number, cells))
    return rows


def load(
    root: str | Path,
    sheet: str | Path | None = None,
    label_set: str | None = DEFAULT_LABEL_SET,
    skip_missing: bool = False,
) -> pd.DataFrame:
    """The composite as the canonical table (columns of `common.COLUMNS`; dataset "megc", source per sample).

    label_set: "megc_3" (the list's classes) or None / "emotion" (each source sheet's emotion word).
    """
    if label_set not in (DEFAULT_LABEL_SET, None, RAW_LABEL_SET):
        raise InputError(f"the MEGC 2019 composite has the classes {', '.join(MEGC_3)}; use --label-set megc_3")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"the dataset folder {root} does not exist; give the folder holding the three databases")
    list_path = (
        Path(sheet).expanduser()
        if sheet
        else find_sheet(root, SHEET_PATTERNS, "MEGC 2019 composite", "combined_3class_gt.csv")
    )
    entries = read_list(list_path)
    sources = {cells[0].strip().lower() for _, cells in entries}
    unknown = sources - {"casme2", "samm", "smic"}
    if unknown:
        raise InputError(f"{list_path} names unknown databases {sorted(unknown)}; expected casme2, samm, smic")
    parts = _sheet_parts(root, list_path, sources)
    smic_root, smic = _smic_part(root, list_path) if "smic" in sources else (None, {})
    rows = [_entry_row(number, cells, list_path, label_set, parts, smic_root, smic) for number, cells in entries]
    return build_table(
        NAME, rows, root, lambda base, r: r.frame_dir, label_set=label_set or RAW_LABEL_SET,
        skip_missing=skip_missing, sheet=list_path, layout_hint=LAYOUT_HINT, extra_emotions=SMIC_EMOTIONS.values(),
    )  # fmt: skip


# source -> (its layout folder, its sheet's rows by (subject, sample), its sheet)
Parts = dict[str, tuple[Path, dict[tuple[str, str], SheetRow], Path]]
SHEET_DATASETS = {"casme2": (casme2.DATASET, casme2_part), "samm": (samm.DATASET, lambda r: find_part(r, ("samm",)))}


def _sheet_parts(root: Path, list_path: Path, sources: set[str]) -> Parts:
    """The CASME II and SAMM parts the list names: each one's frames folder and its own sheet's rows."""
    parts: Parts = {}
    for source, (dataset, finder) in SHEET_DATASETS.items():
        if source not in sources:
            continue
        part = finder(root)
        if part is None:
            raise InputError(
                f"{list_path.name} lists {source} samples but {root} has no {source} folder; " + LAYOUT_HINT
            )
        patterns = dataset.sheet_patterns
        sheet_path = find_sheet(part, patterns, f"{source} annotation", patterns[0])
        rows = dataset.read_rows(sheet_path)
        base = dataset.find_base(part, rows, sheet_path)
        parts[source] = (base, {(r.subject, r.sample): r for r in rows}, sheet_path)
    return parts


def _smic_part(root: Path, list_path: Path) -> tuple[Path, dict[str, Path]]:
    smic_root = find_part(root, ("smic",))
    if smic_root is None:
        raise InputError(f"{list_path.name} lists smic samples but {root} has no SMIC folder; " + LAYOUT_HINT)
    return smic_root, smic_folders(smic_root)


def _entry_row(
    number: int,
    cells: list[str],
    list_path: Path,
    label_set: str | None,
    parts: Parts,
    smic_root: Path | None,
    smic: dict[str, Path],
) -> SheetRow:
    """One line of the composite list as a sheet row, its frames and timing taken from its source database."""
    source, subject, sample, cls = (c.strip() for c in cells[:4])
    source = source.lower()
    valid = cls.isdigit() and int(cls) < len(MEGC_3)
    # with the raw label set the emotion word becomes the label
    label = MEGC_3[int(cls)] if valid and label_set not in (None, RAW_LABEL_SET) else None
    where = f"{list_path.name} line {number}"
    row = SheetRow(number, subject, sample, "", "", "", "", source=source, label=label, where=where)
    if not valid:
        row.problem = f"malformed row: class '{cls}' is not 0, 1 or 2"
    elif source in parts:
        _fill_from_sheet(row, parts[source], SHEET_DATASETS[source][0].subject_folder(subject))
    else:
        _fill_from_smic(row, smic_root, smic)
    return row


def _fill_from_sheet(row: SheetRow, part: tuple[Path, dict, Path], subject: str) -> None:
    base, by_key, sheet_path = part
    row.subject = subject
    found = by_key.get((subject, row.sample))
    if found is None:
        row.problem = f"malformed row: {row.source} sample not in {sheet_path.name}"
        return
    row.onset, row.apex, row.offset = found.onset, found.apex, found.offset
    row.emotion, row.aus, row.note = found.emotion, found.aus, found.note
    row.where = f"{row.where}; {sheet_path.name} row {found.sheet_row}"
    row.frame_dir = base / subject / row.sample


def _fill_from_smic(row: SheetRow, smic_root: Path, smic: dict[str, Path]) -> None:
    key = smic_key(row.sample) or row.sample
    folder = smic.get(key, smic_root / row.subject / row.sample)
    row.frame_dir = folder
    frames = scan_frame_folder(folder) if folder.is_dir() else None
    row.emotion = SMIC_EMOTIONS.get(key.split("_")[1] if "_" in key else "", "")
    if frames is not None:
        row.onset, row.offset = str(min(frames.numbers)), str(max(frames.numbers))
        row.note = "SMIC: onset/offset are the folder's first/last frame"
    elif folder.is_dir():
        row.problem = f"missing frame: no frame images in {folder}"
