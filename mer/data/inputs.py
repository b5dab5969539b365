"""The model input: one (4, 282, 231) float32 tensor = three modality channels + the sample's AU-region mask.

modality "flow": u, v (onset->apex optical flow, pixels), optical strain magnitude, AU mask.
modality "apex": the aligned apex frame's r, g, b in [0, 1], AU mask.
The global branch reads channels 0-2; the local branch reads channels 0-2 times the mask (see mer.models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mer.errors import InputError
from mer.spec import CROP_HW, MODALITY_CFGS


@dataclass(frozen=True)
class Modality:
    """What the model input's channels are, and the per-channel mean/std that normalise them."""

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
    from mer.spotting.face import au_region_mask
    from mer.spotting.motion import FLOWS, optical_flow, optical_strain

    if modality not in MODALITIES:
        raise InputError(f"unknown input modality {modality!r}; choose one of {', '.join(MODALITIES)}")
    if modality == "flow" and flow not in FLOWS:
        raise InputError(f"unknown optical flow {flow!r}; choose one of {', '.join(FLOWS)}")
    onset_rgb, apex_rgb = np.asarray(onset_rgb), np.asarray(apex_rgb)
    for what, image in (("onset", onset_rgb), ("apex", apex_rgb)):
        if image.shape != (*CROP_HW, 3):
            raise InputError(
                f"the {what} frame must be an aligned {CROP_HW[0]} x {CROP_HW[1]} RGB face crop, got shape "
                f"{image.shape}; align the clip with mer.spotting.face.FaceAligner first"
            )
    mask = au_region_mask(landmarks, shape=CROP_HW)
    if modality == "flow":
        uv = optical_flow(onset_rgb, apex_rgb, flow)
        channels = [uv[..., 0], uv[..., 1], optical_strain(uv)]
    else:
        channels = list(np.moveaxis(apex_rgb.astype(np.float32) / 255.0, -1, 0))
    return np.stack([*channels, mask]).astype(np.float32)


def preprocessing_settings() -> dict[str, Any]:
    """Everything besides modality and flow name that changes the model input: the alignment geometry, the AU-region
    geometry version and the flow parameters. A cache keyed by these rebuilds when any of them changes."""
    from mer.spotting import face, motion

    return {
        "crop_size": list(CROP_HW),
        "eye_distance": face.EYE_DISTANCE,
        "eye_center": list(face.EYE_CENTER),
        "au_regions": face.AU_REGIONS_VERSION,
        "tvl1": dict(motion.TVL1_PARAMS),
        "dis_preset": "medium",
    }


def normalize(x: np.ndarray, mean: Any, std: Any) -> np.ndarray:
    """(x - mean) / std per channel; x of shape (C, H, W) or (B, C, H, W), mean/std of C values. float32."""
    x = np.asarray(x, dtype=np.float32)
    mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    if x.ndim not in (3, 4) or len(mean) != x.shape[-3] or len(std) != x.shape[-3]:
        raise InputError(f"cannot normalise an input of shape {x.shape} with {len(mean)} means and {len(std)} stds")
    return ((x - mean) / std).astype(np.float32)
