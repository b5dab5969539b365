"""mer: dual-branch micro-expression recognition (ResNet-12 global branch, Inception AU-region branch, CAFFM).

Importing the package registers the model family in timm's registry (names prefixed ``mer_``): at once when timm
is already imported, else the moment timm is, so ``import mer`` stays light (``mer --help`` needs no torch).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

from mer.errors import InputError

__version__ = "0.1.0"
__all__ = ["InputError", "__version__"]


def _register_models() -> None:
    from mer import models  # noqa: F401  (registers mer_* in timm)


class _RegisterWithTimm(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when timm is first imported, registers the mer models right after timm has loaded."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001 (the import system's signature)
        if name != "timm":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("timm")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module) -> None:  # noqa: ANN001
            exec_module(module)
            _register_models()

        spec.loader.exec_module = exec_then_register
        return spec


if "timm" in sys.modules:
    _register_models()
elif not any(isinstance(finder, _RegisterWithTimm) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithTimm())
