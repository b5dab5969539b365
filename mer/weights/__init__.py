"""The weights shipped inside the package, each a folder in the Hugging Face Hub's layout (see mer.engine.checkpoint).

``mer_dbfem_caffm.synth``: the demo checkpoint, trained on synthetic micro-expressions (its ``card.json`` says on
what, how, and with which figures). ``timm.create_model("mer_dbfem_caffm.synth", pretrained=True)`` loads it offline.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent
DEMO_CHECKPOINT = WEIGHTS_DIR / "mer_dbfem_caffm.synth"


def shipped_checkpoints() -> dict[str, Path]:
    """Name -> folder of every checkpoint shipped in this package (a folder holding model.safetensors)."""
    return {p.name: p for p in sorted(WEIGHTS_DIR.iterdir()) if (p / "model.safetensors").is_file()}
