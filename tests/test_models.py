"""Every registered mer_* model: shapes, gradients, determinism, safetensors, fvcore, config, hooks."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from timm.layers.cbam import CbamModule

import mer  # noqa: F401  (registers mer_* in timm)
from benchmarks import complexity, paper
from mer.spec import CASME2_5, MODALITY_CFGS, input_size

MODELS = timm.list_models("mer_*")
INPUT_SIZE = input_size("flow")
EXPECTED = {
    "mer_gfem",
    "mer_gfem_r18",
    "mer_gfem_r34",
    "mer_ltfem",
    "mer_dbfem",
    "mer_dbfem_caffm",
    "mer_dbfem_caffm_l",
    "mer_dbfem_caffm_g",
}


def make_input(batch: int = 2, size: tuple[int, int, int] = INPUT_SIZE, seed: int = 0) -> torch.Tensor:
    """Random modality channels, then a 0/1 mask of three rectangles (brows, cheek, mouth) as last channel."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = size
    x = torch.randn(batch, c, h, w, generator=g)
    mask = torch.zeros(h, w)
    mask[h // 5 : h // 3, w // 6 : 5 * w // 6] = 1
    mask[h // 2 : 2 * h // 3, w // 8 : w // 3] = 1
    mask[2 * h // 3 : 5 * h // 6, w // 4 : 3 * w // 4] = 1
    x[:, -1] = mask
    return x


@pytest.fixture(scope="module", params=MODELS)
def built(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    torch.manual_seed(0)
    return request.param, timm.create_model(request.param, num_classes=5)


def test_every_paper_variant_is_registered() -> None:
    assert EXPECTED <= set(MODELS)


def test_logits_and_gradients_are_finite(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    model.train()
    model.zero_grad(set_to_none=True)
    logits = model(make_input())
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.tensor([0, 3])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: parameters without gradient: {missing[:5]}"
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: non-finite gradients: {bad[:5]}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


def test_eval_is_deterministic_and_survives_safetensors(
    built: tuple[str, torch.nn.Module], tmp_path: Path
) -> None:
    """Two eval runs with the same weights (the model; a fresh one loaded from safetensors) agree exactly."""
    name, model = built
    model.eval()
    x = make_input(seed=1)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    torch.manual_seed(123)  # a different initialisation, overwritten by the loaded weights
    fresh = timm.create_model(name, num_classes=5)
    assert not torch.equal(fresh.head.fc.weight, model.head.fc.weight)
    fresh.load_state_dict(load_file(str(path)), strict=True)
    fresh.eval()
    with torch.no_grad():
        out = model(x)
        assert torch.isfinite(out).all()
        assert torch.equal(fresh(x), out)


@functools.cache
def counted(name: str) -> dict:
    """fvcore count of one model at batch 1 (cached: the order test reuses the per-model counts)."""
    return complexity.count_model(name, INPUT_SIZE)


def test_fvcore_counts_and_table7_target(built: tuple[str, torch.nn.Module]) -> None:
    name, _ = built
    row = counted(name)
    assert row["input_shape"] == "1x4x282x231"
    assert row["gmacs"] > 0.5 and row["params_m"] > 1
    # Convolutions and the classifier must be counted, not skipped.
    assert "convolution" not in row["uncounted_ops"] and "linear" not in row["uncounted_ops"]
    reported = paper.table7_row(name)
    if reported is not None:
        assert abs(row["params_m"] / reported["params_m"] - 1) <= complexity.TOLERANCE, row
        assert abs(row["gmacs"] / reported["gmacs"] - 1) <= complexity.TOLERANCE, row


def test_table7_order_is_kept() -> None:
    """GFEM < LTFEM < DBFEM < DBFEM+CAFFM on params and GMACs, as in the paper."""
    table = pd.DataFrame([counted(name) for name in complexity.ORDER])
    assert table["params_m"].is_monotonic_increasing and table["gmacs"].is_monotonic_increasing


def test_config_and_explain_hooks(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == INPUT_SIZE
    assert cfg["modality"] == "flow" and cfg["channels"] == ("u", "v", "strain", "au_mask")
    assert len(cfg["mean"]) == len(cfg["std"]) == 4
    assert tuple(cfg["label_names"]) == CASME2_5 and cfg["num_classes"] == model.num_classes == 5

    submodules = set(model.modules())
    layers = model.cam_target_layers()
    wanted = {"gfem": {"global"}, "ltfem": {"local"}}.get(name.split("_")[1], {"global", "local"})
    assert set(layers) == wanted
    assert all(m in submodules for m in layers.values())
    assert all(model.get_submodule(f["module"]) in submodules for f in model.feature_info)

    cbams = model.fusion_cbams()
    assert all(isinstance(m, CbamModule) and m in submodules for _, m in cbams)
    n_expected = {"mer_dbfem_caffm": 7, "mer_dbfem_caffm_l": 6, "mer_dbfem_caffm_g": 6}.get(name, 0)
    assert len(cbams) == n_expected
    if name == "mer_dbfem_caffm_l":
        assert "attn_local" in dict(cbams) and "attn_global" not in dict(cbams)
    if name == "mer_dbfem_caffm_g":
        assert "attn_global" in dict(cbams) and "attn_local" not in dict(cbams)


def test_cbam_gates_give_channel_weights_and_spatial_maps() -> None:
    model = timm.create_model("mer_dbfem_caffm", num_classes=5).eval()
    gates: dict[str, torch.Tensor] = {}
    handles = []
    for cbam_name, m in model.fusion_cbams():
        for part in ("channel", "spatial"):
            hook = lambda _m, _i, out, key=f"{cbam_name}.{part}": gates.__setitem__(key, out)  # noqa: E731
            handles.append(getattr(m, part).gate.register_forward_hook(hook))
    with torch.no_grad():
        model(make_input(batch=1))
    for h in handles:
        h.remove()
    assert gates["attn_local.channel"].shape == (1, 768, 1, 1)
    assert gates["cbam5.channel"].shape == (1, 192, 1, 1)
    for key in ("attn_global.spatial", "attn_local.spatial", "cbam1.spatial", "cbam5.spatial"):
        spatial = gates[key]
        assert spatial.shape == (1, 1, 18, 15)
        assert ((spatial >= 0) & (spatial <= 1)).all()


def test_reset_classifier_changes_num_classes() -> None:
    model = timm.create_model("mer_dbfem_caffm", num_classes=5).eval()
    model.reset_classifier(3)
    assert model.num_classes == 3 and model.get_classifier().out_features == 3
    feats = torch.randn(2, model.num_features, 18, 15)
    assert model.forward_head(feats).shape == (2, 3)
    assert model.forward_head(feats, pre_logits=True).shape == (2, model.head_hidden_size)
    model.reset_classifier(0)
    assert model.forward_head(feats).shape == (2, model.num_features)


def test_other_modalities_and_channel_counts() -> None:
    apex = timm.create_model("mer_dbfem", pretrained_cfg_overlay=MODALITY_CFGS["apex"])
    assert apex.pretrained_cfg["modality"] == "apex" and apex.pretrained_cfg["mean"] == (0.5, 0.5, 0.5, 0.0)
    assert apex.pretrained_cfg["input_size"] == INPUT_SIZE

    two = timm.create_model("mer_dbfem_caffm", in_chans=2, num_classes=3).eval()
    assert two.pretrained_cfg["input_size"] == (2, 282, 231) and two.pretrained_cfg["label_names"] is None
    with torch.no_grad():
        assert two(make_input(batch=1, size=(2, 96, 80))).shape == (1, 3)


def test_features_only_follows_feature_info() -> None:
    model = timm.create_model("mer_dbfem_caffm", features_only=True, out_indices=(7, 9, 10)).eval()
    with torch.no_grad():
        feats = model(make_input(batch=1, size=(4, 141, 116)))  # half size keeps the test quick
    assert [f.shape[1] for f in feats] == model.feature_info.channels() == [256, 768, 192]
    assert [tuple(f.shape[-2:]) for f in feats] == [(9, 8), (8, 7), (9, 8)]


def test_mask_channel_gates_the_local_branch_only() -> None:
    """Outside the AU mask the local branch sees zeros; the global branch sees the whole face."""
    model = timm.create_model("mer_dbfem", num_classes=5).eval()
    x = make_input(batch=1, size=(4, 141, 116))
    y = x.clone()
    outside = x[0, -1] == 0
    y[0, 0][outside] += 1.0
    with torch.no_grad():
        (global_in_x, local_in_x), (global_in_y, local_in_y) = model.split_input(x), model.split_input(y)
        local_x, local_y = model.local_branch(local_in_x), model.local_branch(local_in_y)
        global_x = model.global_branch.forward_features(global_in_x)
        global_y = model.global_branch.forward_features(global_in_y)
    assert torch.equal(local_x, local_y)
    assert not torch.allclose(global_x, global_y)
