"""What every database loader shares: reading a sheet, finding frame folders, validating, the canonical table.

A loader turns its sheet into `SheetRow`s (raw values plus the row number a spreadsheet user sees), then
`build_table` checks every row (numbers, frames on disk, emotion words) and either returns the canonical table
or raises one `InputError` listing every problem. Nothing is dropped silently: skipped rows go to
``table.attrs["skipped"]`` (and a `DatasetWarning`), rows outside the label set to
``table.attrs["excluded"]``.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mer.errors import InputError
from mer.spec import EMOTION_MAPS, LABEL_SETS, RAW_LABEL_SET

# The canonical table, in column order. apex is -1 when the sheet gives none ("spot it from the motion").
COLUMNS: tuple[str, ...] = (
    "dataset",  # what was loaded: casme2 | samm | megc
    "source",  # the database the sample comes from (differs from dataset only for megc)
    "subject",  # folder name of the subject: "sub01" (CASME II), "006" (SAMM), "s01" (SMIC)
    "sample",  # folder name of the sample: "EP02_01f", "006_1_2", "s01_ne_01"
    "onset",
    "apex",
    "offset",  # frame numbers as in the sheet (and in the frame file names)
    "emotion",  # the sheet's emotion word, lower-cased
    "label",  # class name in the chosen label set
    "aus",  # action units as written in the sheet
    "frame_dir",  # absolute folder of the sample's frames
    "frame_pattern",  # file name with {} for the frame number, e.g. "img{}.jpg", "006_{:05d}.jpg"
    "sheet_row",  # row number in the sheet as a spreadsheet shows it (1-based, header included)
    "note",  # what the loader changed or decided for this row ("" when nothing)
)
SKIPPED_COLUMNS: tuple[str, ...] = ("subject", "sample", "sheet_row", "problem")
APEX_UNKNOWN = -1
# Apex cells meaning "no apex annotated" (CASME II sub04 EP12_01f has "/").
NO_APEX_CELLS = {"/", "", "-", "?", "nan", "none", "n/a"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
# "raw" label set: no class mapping, the label is the sheet's emotion word.


class DatasetWarning(UserWarning):
    """A dataset was loaded with something left out or decided by a rule; the message says what."""


@dataclass
class SheetRow:
    """One data row of a sheet, values as text (already normalised by the loader)."""

    sheet_row: int
    subject: str
    sample: str
    onset: str
    apex: str
    offset: str
    emotion: str
    aus: str = ""
    label: str | None = None  # set when the sheet gives the class itself (MEGC composite)
    source: str = ""
    note: str = ""
    frame_dir: Path | None = None  # set when the loader already knows the folder (SMIC)
    where: str = ""  # where a user finds the row, when not "sheet row N" (MEGC: csv line and source sheet row)
    problem: str = ""  # "kind: detail" found by the loader itself (e.g. "malformed row: not in the sheet")


@dataclass
class FrameFolder:
    """The frame files of one sample folder: the name pattern and the frame numbers present."""

    pattern: str
    numbers: frozenset[int]


@dataclass
class Problems:
    """Everything wrong with a dataset, collected per sample so that one error can list it all."""

    items: list[tuple[str, str, int, str]] = field(default_factory=list)  # subject, sample, sheet row, text
    where: dict[tuple[str, str, int], str] = field(default_factory=dict)  # how to find the row, for the message

    def add(self, row: SheetRow, text: str) -> None:
        self.items.append((row.subject, row.sample, row.sheet_row, text))
        self.where[(row.subject, row.sample, row.sheet_row)] = row.where or f"sheet row {row.sheet_row}"

    def keys(self) -> set[tuple[str, str, int]]:
        return {(s, m, r) for s, m, r, _ in self.items}

    def __bool__(self) -> bool:
        return bool(self.items)


# ---------------------------------------------------------------------------------------------------- sheets


def normalise_header(name: object) -> str:
    """'Estimated Emotion' -> 'estimatedemotion': case, spaces and punctuation do not matter in headers."""
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


def cell_text(value: object) -> str:
    """A cell as text: 46.0 -> '46', None -> '', strings stripped."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def read_grid(path: Path) -> list[list[str]]:
    """All cells of the first worksheet of an .xlsx (or of a .csv) as text, one list per sheet row."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises many types for a broken file
            raise InputError(f"cannot read the sheet {path}: {err}; save it again as .xlsx or .csv") from err
        try:
            return [[cell_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [[cell_text(v) for v in row] for row in csv.reader(f)]
    raise InputError(f"the sheet {path} is neither .xlsx nor .csv; save it as one of those (Excel: Save As)")


def read_table_sheet(
    path: Path, required: dict[str, Sequence[str]], first_header: str = "subject"
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a sheet whose header row is the first row whose first non-empty cell is `first_header`.

    `required` maps our field name to the normalised header names accepted for it (sheet revisions differ).
    Returns (sheet row number, {field: text}) for every non-blank row under the header; other columns are
    ignored.
    """
    if not path.is_file():
        raise InputError(f"the sheet {path} does not exist; give the path of the annotation sheet with --sheet")
    grid = read_grid(path)
    header_at = next(
        (
            i
            for i, row in enumerate(grid)
            if [c for c in row if c][:1] and normalise_header([c for c in row if c][0]) == first_header
        ),
        None,
    )
    if header_at is None:
        raise InputError(
            f"no header row starting with '{first_header.title()}' in {path}; is this the right annotation sheet?"
        )
    header = [normalise_header(c) for c in grid[header_at]]
    columns: dict[str, int] = {}
    for name, accepted in required.items():
        found = [header.index(a) for a in accepted if a in header]
        if found:
            columns[name] = found[0]
    missing = [name for name in required if name not in columns]
    if missing:
        raise InputError(
            f"{path} (header on row {header_at + 1}) lacks the column(s) {', '.join(missing)}; "
            f"it has {', '.join(c for c in grid[header_at] if c)}"
        )
    rows = []
    for i in range(header_at + 1, len(grid)):
        cells = grid[i]
        if not any(cells):
            continue
        rows.append((i + 1, {name: cells[j] if j < len(cells) else "" for name, j in columns.items()}))
    return rows


def find_sheet(root: Path, patterns: Sequence[str], what: str, example: str) -> Path:
    """The one annotation sheet in `root` (else its parent, else its sub-folders) matching `patterns`.

    A clear error for none, or for several in the first place that has any.
    """
    children = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in (root, root.parent, *children):
        found = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
        found = [p for p in found if not p.name.startswith("~$")]  # Excel lock files
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(str(p) for p in found)
            raise InputError(f"several {what} sheets found ({names}); choose one with --sheet FILE")
    raise InputError(f"no {what} sheet found in {root}; pass it with --sheet FILE (e.g. {example})")


def sheet_rows(
    root: Path,
    sheet: str | Path | None,
    read_rows: Callable[[Path], list[SheetRow]],
    patterns: Sequence[str],
    what: str,
    example: str,
) -> tuple[Path, list[SheetRow]]:
    """The annotation sheet (``sheet``, else the one `find_sheet` finds in ``root``) and its rows.

    InputError when the sheet has a header but no rows.
    """
    path = Path(sheet).expanduser() if sheet else find_sheet(root, patterns, what, example)
    rows = read_rows(path)
    if not rows:
        raise InputError(f"the sheet {path} has a header but no rows")
    return path, rows


# ---------------------------------------------------------------------------------------------------- frames

_FRAME_NAME = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)(?P<suffix>\.[A-Za-z]+)$")


def scan_frame_folder(folder: Path) -> FrameFolder | None:
    """The frame files in `folder`, or None when it holds none.

    The name pattern is that of the most common (prefix, extension) among numbered images: "img46.jpg" gives
    "img{}.jpg", "006_05562.jpg" (zero-padded) gives "006_{:05d}.jpg".
    """
    groups: dict[tuple[str, str], list[str]] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        match = _FRAME_NAME.match(name)
        if match and match["suffix"].lower() in IMAGE_SUFFIXES:
            groups.setdefault((match["prefix"], match["suffix"]), []).append(match["number"])
    if not groups:
        return None
    (prefix, suffix), digits = max(groups.items(), key=lambda item: len(item[1]))
    widths = {len(d) for d in digits}
    padded = any(d.startswith("0") and len(d) > 1 for d in digits) and len(widths) == 1
    number = f"{{:0{widths.pop()}d}}" if padded else "{}"
    pattern = prefix.replace("{", "{{").replace("}", "}}") + number + suffix
    return FrameFolder(pattern, frozenset(int(d) for d in digits))


def frame_path(row: pd.Series | dict, n: int) -> Path:
    """Path of frame number `n` of a sample (a row of the canonical table)."""
    return Path(row["frame_dir"]) / str(row["frame_pattern"]).format(int(n))


def choose_base(
    root: Path,
    rows: Sequence[SheetRow],
    sample_dir: Callable[[Path, SheetRow], Path],
    preferred: Sequence[str] = (),
) -> tuple[Path, int]:
    """The folder under which most of the sheet's sample folders exist: `root`, a child or a grandchild.

    Ties go to the child named first in `preferred`. Returns (folder, number of sample folders found there).
    """
    if not root.is_dir():
        raise InputError(f"the dataset folder {root} does not exist; give the folder holding the frames with --root")
    candidates = [root]
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        candidates.append(child)
        candidates.extend(sorted(p for p in child.iterdir() if p.is_dir() and p.name in preferred))
    probe = list(rows)

    def score(base: Path) -> tuple[int, int]:
        found = sum(sample_dir(base, r).is_dir() for r in probe)
        rank = len(preferred) - preferred.index(base.name) if base.name in preferred else 0
        return found, rank

    scored = [(score(c), c) for c in candidates]
    (found, _), best = max(scored, key=lambda item: item[0])
    return best, found


# ---------------------------------------------------------------------------------------------------- table


def parse_frame(text: str) -> int | None:
    """A frame number cell -> int, or None when it is not a whole number."""
    return int(text) if re.fullmatch(r"\d+", text.strip()) else None


def label_map(label_set: str | None) -> Callable[[str], str | None]:
    """emotion word -> class name for a label set (None/"emotion": the word itself)."""
    if label_set in (None, RAW_LABEL_SET):
        return lambda emotion: emotion or None
    if label_set not in EMOTION_MAPS:
        raise InputError(f"unknown label set '{label_set}'; choose one of {', '.join([*LABEL_SETS, RAW_LABEL_SET])}")
    mapping = EMOTION_MAPS[label_set]
    return lambda emotion: mapping.get(emotion.strip().lower())


def known_emotions(extra: Iterable[str] = ()) -> set[str]:
    """Emotion words some label set knows (a word outside them is a typo, not a class left out)."""
    return {w for m in EMOTION_MAPS.values() for w in m} | set(extra)


def build_table(
    dataset: str,
    rows: Sequence[SheetRow],
    base: Path,
    sample_dir: Callable[[Path, SheetRow], Path],
    *,
    label_set: str | None,
    skip_missing: bool,
    sheet: Path,
    layout_hint: str,
    extra_emotions: Iterable[str] = (),
) -> pd.DataFrame:
    """Validate `rows`; return the canonical table (see COLUMNS) or raise one InputError listing all problems.

    Checks per row: subject and sample present, onset/offset whole numbers with onset < offset, apex a whole
    number in [onset, offset] (or a no-apex cell, kept as -1 with a note), a known emotion word, no duplicate
    sample, the sample folder present, and the onset, apex and offset frame files present in it.
    """
    problems = Problems()
    to_label = label_map(label_set)
    known = known_emotions(extra_emotions)
    seen: dict[tuple[str, str], int] = {}
    records: list[dict] = []
    excluded: list[dict] = []
    for row in rows:
        if _identity_problem(row, seen, problems):
            continue
        before = len(problems.items)
        onset, apex, offset, note = _timing(row, problems)
        emotion = row.emotion.strip().lower()
        if row.label is None and emotion not in known and label_set not in (None, RAW_LABEL_SET):
            problems.add(row, f"malformed row: unknown emotion '{row.emotion}'")
        if len(problems.items) > before:
            continue
        folder = row.frame_dir or sample_dir(base, row)
        frames = _frames_of(row, folder, (onset, apex, offset), problems)
        if frames is None:
            continue
        label = row.label if row.label is not None else to_label(emotion)
        record = {
            "dataset": dataset, "source": row.source or dataset, "subject": row.subject, "sample": row.sample,
            "onset": onset, "apex": apex, "offset": offset, "emotion": emotion, "label": label, "aus": row.aus,
            "frame_dir": str(folder.resolve()), "frame_pattern": frames.pattern, "sheet_row": row.sheet_row,
            "note": note,
        }  # fmt: skip
        if label is None:
            excluded.append({**record, "problem": f"label set {label_set} has no class for '{emotion}'"})
        else:
            records.append(record)
    if problems and not skip_missing:
        raise InputError(_problem_report(dataset, base, sheet, problems, len(rows), layout_hint))
    table = pd.DataFrame(records, columns=list(COLUMNS))
    for name in ("onset", "apex", "offset", "sheet_row"):
        table[name] = table[name].astype("int64")
    table.attrs["skipped"] = _skipped(dataset, problems, len(rows))
    table.attrs["excluded"] = _excluded(dataset, excluded, label_set)
    _warn_unknown_apex(dataset, table)
    table.attrs["label_set"] = label_set or RAW_LABEL_SET
    table.attrs["sheet"] = str(sheet)
    table.attrs["base"] = str(base)
    return table


def _identity_problem(row: SheetRow, seen: dict[tuple[str, str], int], problems: Problems) -> bool:
    """Record the first of: no subject or sample, the loader's own problem, a missing folder, a duplicate."""
    key = (row.subject, row.sample)
    if not row.subject or not row.sample:
        problems.add(row, "malformed row: Subject or Filename is empty")
    elif row.problem:
        problems.add(row, row.problem)
    elif row.frame_dir is not None and not row.frame_dir.is_dir():
        problems.add(row, f"missing folder: {row.frame_dir}")
    elif key in seen:
        problems.add(row, f"malformed row: the same sample as sheet row {seen[key]}")
    else:
        seen[key] = row.sheet_row
        return False
    return True


def _timing(row: SheetRow, problems: Problems) -> tuple[int | None, int | None, int | None, str]:
    """(onset, apex, offset, note) of a row; a malformed number or order is recorded in ``problems``."""
    onset, offset, apex = parse_frame(row.onset), parse_frame(row.offset), parse_frame(row.apex)
    note = row.note
    if onset is None:
        problems.add(row, f"malformed row: onset '{row.onset}' is not a frame number")
    if offset is None:
        problems.add(row, f"malformed row: offset '{row.offset}' is not a frame number")
    if apex is None and row.apex.strip().lower() in NO_APEX_CELLS:
        apex = APEX_UNKNOWN
        note = _join(note, f"no apex in the sheet ('{row.apex}'): spotted from the motion at preprocessing")
    elif apex is None:
        problems.add(row, f"malformed row: apex '{row.apex}' is not a frame number")
    if onset is not None and offset is not None and onset >= offset:
        problems.add(row, f"malformed row: onset {onset} is not before offset {offset}")
    elif None not in (onset, offset) and apex not in (None, APEX_UNKNOWN) and not onset <= apex <= offset:
        problems.add(row, f"malformed row: apex {apex} is outside onset..offset ({onset}..{offset})")
    return onset, apex, offset, note


def _frames_of(row: SheetRow, folder: Path, numbers: tuple, problems: Problems) -> FrameFolder | None:
    """The sample's frame folder when it holds the onset, apex and offset frames, else None (problem noted)."""
    frames = scan_frame_folder(folder)
    if frames is None:
        problems.add(row, f"{'missing folder' if not folder.is_dir() else 'no frame images in folder'}: {folder}")
        return None
    wanted = zip(("onset", "apex", "offset"), numbers, strict=True)
    absent = [
        f"{name} {n} ({frames.pattern.format(n)})"
        for name, n in wanted
        if n != APEX_UNKNOWN and n not in frames.numbers
    ]
    if absent:
        problems.add(row, f"missing frame: {', '.join(absent)} in {folder}")
        return None
    return frames


def _skipped(dataset: str, problems: Problems, n_rows: int) -> pd.DataFrame:
    """The samples left out for their problems (one row each, problems joined), with a DatasetWarning."""
    skipped = pd.DataFrame(
        [dict(zip(SKIPPED_COLUMNS, item, strict=True)) for item in problems.items], columns=list(SKIPPED_COLUMNS)
    )
    if not problems:
        return skipped
    skipped = skipped.groupby(["subject", "sample", "sheet_row"], sort=False)["problem"].agg("; ".join).reset_index()
    warnings.warn(
        f"{dataset}: skipped {len(skipped)} of {n_rows} samples with problems (--skip-missing): "
        + "; ".join(f"{s}/{m} (sheet row {r}): {p}" for s, m, r, p in skipped.itertuples(index=False)),
        DatasetWarning,
        stacklevel=5,
    )
    return skipped


def _excluded(dataset: str, excluded: list[dict], label_set: str | None) -> pd.DataFrame:
    """The samples whose emotion the label set has no class for, with a DatasetWarning."""
    table = pd.DataFrame(excluded, columns=[*COLUMNS, "problem"])
    if len(table):
        counts = Counter(table["emotion"])
        warnings.warn(
            f"{dataset}: label set {label_set} has no class for "
            + ", ".join(f"'{e}' ({n} samples)" for e, n in sorted(counts.items()))
            + "; those samples are left out (listed in table.attrs['excluded'] and the cache's skipped.csv)",
            DatasetWarning,
            stacklevel=5,
        )
    return table


def _warn_unknown_apex(dataset: str, table: pd.DataFrame) -> None:
    unknown = table[table["apex"] == APEX_UNKNOWN]
    if len(unknown):
        where = unknown[["subject", "sample", "sheet_row"]].itertuples(index=False)
        warnings.warn(
            f"{dataset}: no apex in the sheet for "
            + ", ".join(f"{s}/{m} (sheet row {r})" for s, m, r in where)
            + "; apex = -1: preprocessing spots it from the motion between onset and offset",
            DatasetWarning,
            stacklevel=5,
        )


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _problem_report(dataset: str, base: Path, sheet: Path, problems: Problems, total: int, layout_hint: str) -> str:
    """One message listing every problem, grouped by kind, with how to fix or skip."""
    by_kind: dict[str, list[str]] = {}
    for subject, sample, sheet_row, text in problems.items:
        kind, _, detail = text.partition(": ")
        where = problems.where[(subject, sample, sheet_row)]
        by_kind.setdefault(kind, []).append(f"  {subject}/{sample} ({where}): {detail}")
    affected = len(problems.keys())
    lines = [f"{dataset} at {base} with sheet {sheet}: {affected} of {total} samples have problems"]
    for kind in sorted(by_kind):
        lines.append(f"{kind} ({len(by_kind[kind])}):")
        lines.extend(by_kind[kind])
    lines.append(
        f"fix: {layout_hint}; correct the sheet rows named above; or skip these samples with --skip-missing "
        "(load_dataset(..., skip_missing=True)), which lists them in the cache's skipped.csv"
    )
    return "\n".join(lines)


def require_some(found: int, rows: Sequence[SheetRow], root: Path, sheet: Path, layout_hint: str) -> None:
    """A short error (instead of hundreds of 'missing folder' lines) when `root` holds none of the samples."""
    if rows and found == 0:
        first = rows[0]
        raise InputError(
            f"none of the {len(rows)} sample folders of {sheet.name} is under {root} "
            f"(e.g. {first.subject}/{first.sample}); {layout_hint}"
        )
