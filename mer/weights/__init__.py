"""The weights shipped inside the package, each a folder in the Hugging Face Hub's layout (see mer.engine.checkpoint).

- ``mer_dbfem_caffm.realfaces``: the demo checkpoint: ``.synth`` fine-tuned on synthetic micro-expressions from nine
  real photographs made to look like real video, with a calibration temperature;
- ``mer_dbfem_caffm.synth``: trained on synthetic micro-expressions from two photographs (the first demo weights).

Each ``card.json`` says on what, how, and with which figures (all from synthetic data).
``timm.create_model("mer_dbfem_caffm.realfaces", pretrained=True)`` loads one offline.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent
DEMO_CHECKPOINT = WEIGHTS_DIR / "mer_dbfem_caffm.realfaces"
FIRST_CHECKPOINT = WEIGHTS_DIR / "mer_dbfem_caffm.synth"


def shipped_checkpoints() -> dict[str, Path]:
    """Name -> folder of every checkpoint shipped in this package (a folder holding model.safetensors)."""
    return {p.name: p for p in sorted(WEIGHTS_DIR.iterdir()) if (p / "model.safetensors").is_file()}
