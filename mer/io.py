"""Files written whole or not at all, and JSON read back: one way for the whole package.

A reader never sees half a file: each write goes to a temporary name in the same folder (unique per process, so
two writers never share one) and is renamed over the target; an interrupted write leaves only that temporary file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"  # temporary names are NAME.tmp-PID; a cleaner may delete "*.tmp-*" left by a killed run


def write_atomic(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file to ``path``; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """``text`` to ``path``, atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, obj: Any) -> Path:
    """``obj`` as indented JSON to ``path``, atomically."""
    return write_text(path, json.dumps(obj, indent=2) + "\n")


def read_json(path: str | Path, damaged_ok: bool = False) -> Any:
    """The JSON in ``path``, or None when there is no such file. A damaged file raises json.JSONDecodeError, or
    with ``damaged_ok`` (a file this package rewrites anyway, like a cache's settings) is None too."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        if damaged_ok:
            return None
        raise
