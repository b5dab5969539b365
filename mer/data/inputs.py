"""The model input: one (4, 282, 231) float32 tensor = three modality channels + the sample's AU-region mask.

modality "flow": u, v (onset->apex optical flow, pixels), optical strain magnitude, AU mask.
modality "apex": the aligned apex frame's r, g, b in [0, 1], AU mask.
The global branch reads channels 0-2; the local branch reads channels 0-2 times the mask (see mer.models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mer.models.cfg import MODALITY_CFGS


@dataclass(frozen=True)
class Modality:
    name: str
    channels: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


# One source of truth with the models' pretrained configs.
MODALITIES: dict[str, Modality] = {
    name: Modality(name, tuple(cfg["channels"]), tuple(cfg["mean"]), tuple(cfg["std"]))
    for name, cfg in MODALITY_CFGS.items()
}


def build_input(
    onset_rgb: np.ndarray,
    apex_rgb: np.ndarray,
    landmarks: np.ndarray,
    modality: str = "flow",
    flow: str = "tvl1",
) -> np.ndarray:
    """Unnormalised model input from two aligned crops ((282, 231, 3) uint8 RGB) and the crop's 68 landmarks.

    Returns (4, 282, 231) float32. `flow`: 'tvl1' (accurate) or 'dis' (fast), used by the flow modality only.
    """
    from mer.data.face import au_region_mask
    from mer.data.motion import optical_flow, optical_strain

    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {sorted(MODALITIES)}")
    onset_rgb, apex_rgb = np.asarray(onset_rgb), np.asarray(apex_rgb)
    mask = au_region_mask(landmarks, shape=apex_rgb.shape[:2])
    if modality == "flow":
        uv = optical_flow(onset_rgb, apex_rgb, flow)
        channels = [uv[..., 0], uv[..., 1], optical_strain(uv)]
    else:
        channels = list(np.moveaxis(apex_rgb.astype(np.float32) / 255.0, -1, 0))
    return np.stack([*channels, mask]).astype(np.float32)


def normalize(x: np.ndarray, mean, std) -> np.ndarray:
    """(x - mean) / std per channel, x of shape (C, H, W) or (B, C, H, W)."""
    mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32)
