"""Where the model looked: Grad-CAM per branch, the fusion's CBAM attention, overlays on the apex frame.

Grad-CAM comes from pytorch-grad-cam; its target layers are the last conv stage of each branch as the model
names them (``model.cam_target_layers()``). One forward pass serves the prediction, both Grad-CAMs and the
CBAM maps: the logits are ``cam.outputs``. The backward pass is kept short by starting the graph at the target
layers (their outputs become leaves that need a gradient; the weights need none), so only the fusion and the
head are differentiated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

BRANCH_CAPTIONS = {
    "global": "Grad-CAM, global branch (whole face)",
    "local": "Grad-CAM, local branch (AU regions)",
}


class BranchGradCAM(GradCAM):
    """GradCAM that also keeps one map per target layer (pytorch-grad-cam averages them into one).

    After a call, ``per_layer`` holds a (B, H, W) map in [0, 1] for each target layer, in the given order.
    """

    per_layer: list[np.ndarray]

    def aggregate_multi_layers(self, cam_per_target_layer):
        # each entry is (B, 1, H, W), scaled to [0, 1] and resized to the input by compute_cam_per_layer
        self.per_layer = [np.asarray(c[:, 0], dtype=np.float32) for c in cam_per_target_layer]
        return super().aggregate_multi_layers(cam_per_target_layer)


@dataclass
class Explanation:
    """What one explained forward pass gives.

    logits: (K,) float32. target: the class the maps explain.
    gradcam: branch ("global"/"local") -> (H, W) float32 in [0, 1] at the input's size.
    cbam_spatial: CBAM name -> (H, W) float32 spatial gate in [0, 1] (bilinearly upsampled from the fused
    feature grid). cbam_channel: CBAM name -> (C,) float32 channel gate in [0, 1].
    forward_s / backward_s: seconds in the forward pass and in the Grad-CAM part (backward + maps).
    """

    logits: np.ndarray
    target: int
    gradcam: dict[str, np.ndarray] = field(default_factory=dict)
    cbam_spatial: dict[str, np.ndarray] = field(default_factory=dict)
    cbam_channel: dict[str, np.ndarray] = field(default_factory=dict)
    forward_s: float = 0.0
    backward_s: float = 0.0


@contextmanager
def _hooks(handles: list) -> Iterator[None]:
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    """Weights need no gradient for Grad-CAM; restore their flags afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _graph_starts_here(_module: nn.Module, _inputs, output: torch.Tensor) -> torch.Tensor:
    # A leaf that needs a gradient: the backward pass stops here instead of running through the whole branch.
    # The clone keeps in-place ops that may follow (an inplace ReLU) off the leaf itself. Float32, so that under
    # bf16/fp16 autocast the activations and gradients Grad-CAM reads (as numpy) are float32 too.
    return output.detach().float().requires_grad_(True).clone()


def _upsample(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(1, 1, h, w) -> (H, W) float32, bilinear, clipped to [0, 1]."""
    up = torch.nn.functional.interpolate(maps.detach().float(), size=size, mode="bilinear", align_corners=False)
    return up[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)


def explain(
    model: nn.Module,
    x: torch.Tensor,
    target: int | None = None,
    gradcam: bool = True,
) -> Explanation:
    """Run ``model`` once on ``x`` (1, C, H, W) (normalised) and explain the answer.

    Args:
        model: a mer model in eval mode; ``cam_target_layers()`` and ``fusion_cbams()`` are used when present.
        x: the normalised model input, batch of one.
        target: class index the Grad-CAMs explain; None = the predicted class.
        gradcam: False skips Grad-CAM (forward under ``torch.inference_mode``; CBAM maps are still kept).

    Returns:
        an :class:`Explanation`.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"explain expects one sample (1, C, H, W), got {tuple(x.shape)}")
    size = (int(x.shape[-2]), int(x.shape[-1]))
    layers = dict(model.cam_target_layers()) if (gradcam and hasattr(model, "cam_target_layers")) else {}
    cbams = list(model.fusion_cbams()) if hasattr(model, "fusion_cbams") else []

    spatial: dict[str, torch.Tensor] = {}
    channel: dict[str, torch.Tensor] = {}

    def keep(store: dict, name: str):
        def hook(_m, _i, out):
            store[name] = out.detach()

        return hook

    clock: dict[str, float] = {}
    handles = [
        model.register_forward_pre_hook(lambda *_: clock.__setitem__("start", time.perf_counter())),
        model.register_forward_hook(lambda *_: clock.__setitem__("end", time.perf_counter())),
        model.register_forward_hook(lambda _m, _i, out: out.float()),  # logits as float32 under autocast too
    ]
    for name, m in cbams:
        handles.append(m.spatial.gate.register_forward_hook(keep(spatial, name)))
        handles.append(m.channel.gate.register_forward_hook(keep(channel, name)))

    maps: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    with _hooks(handles):
        if layers:
            with ExitStack() as stack:
                stack.enter_context(_frozen(model))
                # registered before GradCAM's own hooks, so they see the leaf
                leaf_handles = [m.register_forward_hook(_graph_starts_here) for m in layers.values()]
                stack.enter_context(_hooks(leaf_handles))
                cam = stack.enter_context(BranchGradCAM(model=model, target_layers=list(layers.values())))
                targets = None if target is None else [ClassifierOutputTarget(int(target))]
                with torch.enable_grad():
                    cam(input_tensor=x, targets=targets)
                logits = cam.outputs.detach()
                maps = {name: cam.per_layer[i][0] for i, name in enumerate(layers)}
        else:
            with torch.inference_mode():
                logits = model(x)
    total = time.perf_counter() - t0
    forward_s = clock.get("end", t0 + total) - clock.get("start", t0)

    logits_np = logits[0].float().cpu().numpy().astype(np.float32)
    chosen = int(np.argmax(logits_np)) if target is None else int(target)
    return Explanation(
        logits=logits_np,
        target=chosen,
        gradcam=maps,
        cbam_spatial={name: _upsample(t, size) for name, t in spatial.items()},
        cbam_channel={name: t.float().flatten().cpu().numpy() for name, t in channel.items()},
        forward_s=forward_s,
        backward_s=max(0.0, total - forward_s) if layers else 0.0,
    )


def stretch(heat: np.ndarray) -> np.ndarray:
    """Min-max scale a map to [0, 1] for display (a flat map becomes zeros)."""
    heat = np.asarray(heat, dtype=np.float32)
    lo, hi = float(heat.min()), float(heat.max())
    return (heat - lo) / (hi - lo) if hi - lo > 1e-8 else np.zeros_like(heat)


def overlay(image_rgb: np.ndarray, heat: np.ndarray, image_weight: float = 0.5) -> np.ndarray:
    """A heat map (H, W) in [0, 1] as a JET overlay on an RGB uint8 image of the same size -> RGB uint8."""
    import cv2

    if heat.shape != image_rgb.shape[:2]:
        heat = cv2.resize(heat, (image_rgb.shape[1], image_rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    base = image_rgb.astype(np.float32) / 255.0
    return show_cam_on_image(base, np.clip(heat, 0.0, 1.0), use_rgb=True, image_weight=image_weight)


def overlays(apex_rgb: np.ndarray, expl: Explanation) -> dict[str, np.ndarray]:
    """Caption -> overlay on the apex frame: each branch's Grad-CAM, then each fusion CBAM's spatial attention
    (stretched to its own min-max, since a sigmoid gate often varies little)."""
    out = {
        BRANCH_CAPTIONS.get(name, f"Grad-CAM, {name}"): overlay(apex_rgb, heat) for name, heat in expl.gradcam.items()
    }
    for i, (name, m) in enumerate(expl.cbam_spatial.items(), start=1):
        lo, hi = float(m.min()), float(m.max())
        caption = f"CBAM {i} spatial attention, fusion {name} (gate {lo:.2f} to {hi:.2f}, stretched)"
        out[caption] = overlay(apex_rgb, stretch(m))
    return out


__all__ = ["BranchGradCAM", "Explanation", "explain", "overlay", "overlays", "stretch"]
