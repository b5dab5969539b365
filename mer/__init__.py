"""mer: dual-branch micro-expression recognition (ResNet-12 global branch, Inception AU-region branch, CAFFM).

Importing the package registers the model family in timm's registry (names prefixed ``mer_``).
"""

from mer import models  # noqa: F401  (registers mer_* in timm)
from mer.errors import InputError

__version__ = "0.1.0"
__all__ = ["InputError", "__version__"]
