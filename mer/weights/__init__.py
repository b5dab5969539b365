"""Where the shipped weights are: the top-level ``checkpoints/`` folder of the source tree, which ``pip install``
puts inside the package as ``mer/checkpoints/`` (pyproject.toml maps it). Each is a folder in the Hugging Face
Hub's layout (see mer.engine.checkpoint and checkpoints/README.md).

- ``mer_dbfem_caffm.realfaces``: the demo checkpoint: ``.synth`` fine-tuned on synthetic micro-expressions from nine
  real photographs made to look like real video, with a calibration temperature;
- ``mer_dbfem_caffm.synth``: trained on synthetic micro-expressions from two photographs (the first demo weights).

Each ``card.json`` says on what, how, and with which figures (all from synthetic data).
``timm.create_model("mer_dbfem_caffm.realfaces", pretrained=True)`` loads one offline.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
# installed (wheel or sdist): mer/checkpoints/; a source tree, an editable install or the Space: ../checkpoints/
_CANDIDATES = (_PACKAGE / "checkpoints", _PACKAGE.parent / "checkpoints")


def checkpoints_dir() -> Path:
    """The folder holding the shipped checkpoints (the first candidate that has one; else the source tree's)."""
    for folder in _CANDIDATES:
        if folder.is_dir() and any((p / "model.safetensors").is_file() for p in folder.iterdir()):
            return folder
    return _CANDIDATES[-1]


WEIGHTS_DIR = checkpoints_dir()
DEMO_CHECKPOINT = WEIGHTS_DIR / "mer_dbfem_caffm.realfaces"
FIRST_CHECKPOINT = WEIGHTS_DIR / "mer_dbfem_caffm.synth"


def shipped_checkpoints() -> dict[str, Path]:
    """Name -> folder of every checkpoint shipped with this package (a folder holding model.safetensors)."""
    if not WEIGHTS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(WEIGHTS_DIR.iterdir()) if (p / "model.safetensors").is_file()}
