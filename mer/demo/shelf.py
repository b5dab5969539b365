"""The checkpoints the page offers, by name, each loaded once into a Predictor."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mer.errors import InputError

if TYPE_CHECKING:
    from mer.inference import Predictor

log = logging.getLogger("mer.demo")

CLIP_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".zip")
NO_CHECKPOINT = (
    "No model weights were found, so nothing can be analysed. The person running this page can restore the "
    "shipped weights from the repository or set MER_CHECKPOINT to a checkpoint folder, then restart it."
)


class ModelShelf:
    """The checkpoints the page offers (by name) and their Predictors, each loaded once on first use."""

    def __init__(self, shipped: dict[str, Path], extra: str | None = None) -> None:
        """Args: shipped: name -> checkpoint (the package's own weights); extra: MER_CHECKPOINT (a checkpoint
        folder or a .safetensors file), offered and pre-selected."""
        self.paths: dict[str, Path] = {name: Path(p).resolve() for name, p in shipped.items()}
        self._extra: str | None = None
        if extra:
            path = Path(extra).expanduser().resolve()
            if path.exists():
                self._extra = path.stem if path.is_file() else path.name
                self.paths[self._extra] = path
            else:
                log.warning("MER_CHECKPOINT=%s does not exist; ignoring it", extra)
        self._predictors: dict[Path, Predictor] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> ModelShelf:
        """The package's shipped weights plus MER_CHECKPOINT."""
        from mer.weights import shipped_checkpoints

        return cls(shipped_checkpoints(), os.environ.get("MER_CHECKPOINT"))

    @property
    def names(self) -> list[str]:
        return list(self.paths)

    @property
    def default(self) -> str | None:
        """MER_CHECKPOINT, else the shipped demo weights, else the first found."""
        from mer.weights import DEMO_CHECKPOINT

        for candidate in (self._extra, Path(DEMO_CHECKPOINT).name):
            if candidate in self.paths:
                return candidate
        return next(iter(self.paths), None)

    def choices(self) -> list[tuple[str, str]]:
        """(what the visitor reads, checkpoint name) for the picker: the default first, each in plain words."""
        from mer.demo.card import plain_name

        ordered = sorted(self.names, key=lambda name: name != self.default)
        return [(plain_name(self.card(name), name, default=name == self.default), name) for name in ordered]

    def predictor(self, name: str | None) -> Predictor:
        """The cached Predictor of a checkpoint name (None or "": the default)."""
        from mer.engine.device import resolve_device
        from mer.inference import Predictor

        if not self.paths:
            raise InputError(NO_CHECKPOINT)
        name = name or self.default
        if name not in self.paths:
            raise InputError(f"there are no weights called {name!r} here; pick one of: {', '.join(self.paths)}")
        path = self.paths[name]
        with self._lock:
            if path not in self._predictors:
                started = time.perf_counter()
                self._predictors[path] = Predictor.from_checkpoint(path, device=str(resolve_device("auto")))
                log.info("loaded %s in %.1f s", path, time.perf_counter() - started)
            return self._predictors[path]

    def preload(self) -> None:
        """Load the default model now (not on the first visitor's click); a broken one is logged, not raised."""
        if self.default:
            try:
                self.predictor(self.default)
            except Exception:  # the page must still come up and say what is wrong
                log.exception("could not load the default checkpoint %s", self.default)

    def card(self, name: str | None) -> dict[str, Any]:
        """The model card of a checkpoint (the loaded Predictor's, else read from disk); {} for an unknown name."""
        from mer.engine.checkpoint import read_card

        if name not in self.paths:
            return {}
        path = self.paths[name]
        if path in self._predictors:
            return dict(self._predictors[path].card)
        try:
            return read_card(path)
        except InputError as err:
            return {"note": f"The model card of {path.name} cannot be used: {err}"}

    def provenance(self, name: str | None) -> str:
        """Markdown beside the picker: where the chosen weights come from and how well they do, in plain words."""
        from mer.demo.card import card_summary

        if not self.paths:
            return f"⚠️ {NO_CHECKPOINT}"
        name = name or self.default
        return card_summary(self.card(name), name or "", default=name == self.default)


def example_clips(folder: Path) -> list[Path]:
    """The clips in a folder of examples, in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [p.resolve() for p in sorted(folder.iterdir()) if p.suffix.lower() in CLIP_SUFFIXES]


def on_gpu(function: Any) -> Any:
    """``spaces.GPU(function)`` where Hugging Face's ``spaces`` package is installed (it allots a GPU on a ZeroGPU
    Space and does nothing elsewhere); ``function`` itself where it is not."""
    try:
        import spaces
    except ImportError:
        return function
    return spaces.GPU(function)
