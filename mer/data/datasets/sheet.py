"""A database whose annotation sheet lists its samples (CASME II, SAMM): one class, configured per database.

Each database module builds one :class:`SheetDataset` with its sheet's names, columns, frame layout and known
annotation errors; reading the sheet, finding the frames and building the canonical table are the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mer.data.datasets.common import SheetRow, build_table, choose_base, read_table_sheet, require_some, sheet_rows


@dataclass(frozen=True)
class SheetDataset:
    """What differs between sheet-based databases; the reading is shared.

    Args:
        name: the dataset's name ("casme2").
        default_label_set: the classes unless told otherwise.
        sheet_patterns: glob patterns that find the sheet in the root or its parent.
        sheet_columns: our field -> the normalised header names the sheet revisions use for it.
        sheet_kind, sheet_example: how error messages name the sheet ("CASME II coding", its usual file name).
        layouts: folders under the root that may hold the subject folders, preferred first.
        layout_hint: where the frames belong, for error messages.
        subject_folder: the sheet's subject cell -> the subject's folder name.
        emotion_words: the sheet's emotion word (lower-cased) -> the word the label maps use.
        known_errors: sample -> (field, value in the sheet, corrected value, why): annotation errors fixed here,
            only while the sheet still holds the wrong value.
    """

    name: str
    default_label_set: str
    sheet_patterns: tuple[str, ...]
    sheet_columns: dict[str, tuple[str, ...]]
    sheet_kind: str
    sheet_example: str
    layouts: tuple[str, ...]
    layout_hint: str
    subject_folder: Callable[[str], str]
    emotion_words: dict[str, str] = field(default_factory=dict)
    known_errors: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)

    def read_rows(self, sheet: Path, source: str | None = None) -> list[SheetRow]:
        """The sheet's data rows, subjects as folder names, known errors fixed (each fix noted on its row)."""
        return [
            self._row(number, cells, source or self.name)
            for number, cells in read_table_sheet(sheet, self.sheet_columns)
        ]

    def _row(self, number: int, cells: dict[str, str], source: str) -> SheetRow:
        emotion = cells["emotion"].strip().lower()
        row = SheetRow(
            sheet_row=number,
            subject=self.subject_folder(cells["subject"]),
            sample=cells["sample"].strip(),
            onset=cells["onset"],
            apex=cells["apex"],
            offset=cells["offset"],
            emotion=self.emotion_words.get(emotion, emotion),
            aus=cells["aus"],
            source=source,
        )
        fix = self.known_errors.get(row.sample)
        if fix and getattr(row, fix[0]) == fix[1]:
            setattr(row, fix[0], fix[2])
            row.note = f"{fix[0]} {fix[1]} -> {fix[2]}: {fix[3]}"
        return row

    @staticmethod
    def sample_dir(base: Path, row: SheetRow) -> Path:
        return base / row.subject / row.sample

    def find_base(self, root: Path, rows: list[SheetRow], sheet: Path) -> Path:
        """The layout folder holding the subject folders (one of ``layouts``, or the root itself)."""
        base, found = choose_base(root, rows, self.sample_dir, preferred=self.layouts)
        require_some(found, rows, root, sheet, self.layout_hint)
        return base

    def load(
        self,
        root: str | Path,
        sheet: str | Path | None = None,
        label_set: str | None = "default",
        skip_missing: bool = False,
    ) -> pd.DataFrame:
        """The canonical table (see `mer.data.datasets.common.COLUMNS`) from the frames under ``root``.

        sheet: the annotation sheet (default: found in root or its parent). label_set: "default" is the
        database's own. Raises InputError listing every problem unless skip_missing.
        """
        root = Path(root).expanduser()
        label_set = self.default_label_set if label_set == "default" else label_set
        sheet_path, rows = sheet_rows(
            root, sheet, self.read_rows, self.sheet_patterns, self.sheet_kind, self.sheet_example
        )
        base = self.find_base(root, rows, sheet_path)
        return build_table(
            self.name, rows, base, self.sample_dir, label_set=label_set, skip_missing=skip_missing,
            sheet=sheet_path, layout_hint=self.layout_hint,
        )  # fmt: skip
