"""Every registered mer_* model (ours and the comparison systems): shapes, gradients (with auxiliary losses),
determinism, safetensors, fvcore, config, torch.compile; hooks of the dual-branch family; MOL's two paths."""

from __future__ import annotations

import functools
import sys
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
from mer.models import DualBranchNet, MicroActionNet
from mer.spec import CASME2_5, MODALITY_CFGS, input_size

MODELS = timm.list_models("mer_*")
INPUT_SIZE = input_size("flow")
# built smaller where a test needs no more: MOL's flow head on one of its 7 frame pairs per step
FAST_KWARGS = {"mer_mol": {"aux_pairs": 1}}
COMPARISON = {"mer_fr", "mer_mjfn", "mer_mol"}
EXPECTED = COMPARISON | {
    "mer_gfem",
    "mer_gfem_r18",
    "mer_gfem_r34",
    "mer_ltfem",
    "mer_dbfem",
    "mer_dbfem_caffm",
    "mer_dbfem_caffm_l",
    "mer_dbfem_caffm_g",
}


def make_input(
    batch: int = 2, size: tuple[int, int, int] = INPUT_SIZE, seed: int = 0, mask: bool = True
) -> torch.Tensor:
    """Random modality channels, then (``mask``) a 0/1 mask of three rectangles (brows, cheek, mouth) as last
    channel."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = size
    x = torch.randn(batch, c, h, w, generator=g)
    if not mask:
        return x
    mask = torch.zeros(h, w)
    mask[h // 5 : h // 3, w // 6 : 5 * w // 6] = 1
    mask[h // 2 : 2 * h // 3, w // 8 : w // 3] = 1
    mask[2 * h // 3 : 5 * h // 6, w // 4 : 3 * w // 4] = 1
    x[:, -1] = mask
    return x


def model_input(model: torch.nn.Module, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """An input of the shape the model's config declares (with an AU mask when its modality has one)."""
    cfg = model.pretrained_cfg
    return make_input(batch, tuple(cfg["input_size"]), seed, mask="au_mask" in (cfg.get("channels") or ()))


def aux_targets(model: torch.nn.Module, batch: int = 2) -> dict[str, torch.Tensor]:
    """Plausible targets for the auxiliary heads a model declares (MOL: flow between its frames, landmarks)."""
    g = torch.Generator().manual_seed(5)
    shapes = {"flow": (batch, 7, 2, 128, 128), "landmarks": (batch, 8, 68, 2)}
    out = {k: torch.randn(*shapes[k], generator=g) for k in getattr(model, "aux_targets", ())}
    if "landmarks" in out:
        out["landmarks"] = 64 + 30 * out["landmarks"]
    return out


@pytest.fixture(scope="module", params=MODELS)
def built(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    torch.manual_seed(0)
    return request.param, timm.create_model(request.param, num_classes=5, **FAST_KWARGS.get(request.param, {}))


def test_every_paper_variant_and_comparison_system_is_registered() -> None:
    assert EXPECTED <= set(MODELS)


def test_logits_and_gradients_are_finite(built: tuple[str, torch.nn.Module]) -> None:
    """Through ``forward_train`` + ``aux_losses`` where the model has them (as the training loop does): every
    parameter, auxiliary heads included, gets a finite gradient."""
    name, model = built
    model.train()
    model.zero_grad(set_to_none=True)
    x, y = model_input(model), torch.tensor([0, 3])
    if hasattr(model, "aux_losses"):
        logits, outputs = model.forward_train(x)
        terms = model.aux_losses(outputs, aux_targets(model), y)
        assert terms and all(torch.isfinite(t) and t > 0 for t in terms.values()), terms
        loss = F.cross_entropy(logits, y) + sum(terms.values())
    else:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: parameters without gradient: {missing[:5]}"
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: non-finite gradients: {bad[:5]}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


def test_eval_is_deterministic_and_survives_safetensors(built: tuple[str, torch.nn.Module], tmp_path: Path) -> None:
    """Two eval runs with the same weights (the model; a fresh one loaded from safetensors) agree exactly."""
    name, model = built
    model.eval()
    x = model_input(model, seed=1)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    torch.manual_seed(123)  # a different initialisation, overwritten by the loaded weights
    fresh = timm.create_model(name, num_classes=5, **FAST_KWARGS.get(name, {}))
    first = next(iter(fresh.get_classifier().parameters()))
    assert not torch.equal(first, next(iter(model.get_classifier().parameters())))
    fresh.load_state_dict(load_file(str(path)), strict=True)
    fresh.eval()
    with torch.no_grad():
        out = model(x)
        assert torch.isfinite(out).all()
        assert torch.equal(fresh(x), out)


@functools.cache
def counted(name: str, part: str = "model") -> dict:
    """fvcore count of one model at batch 1 on its declared input (cached: the order test reuses them)."""
    return complexity.count_model(name, part=part)


def test_fvcore_counts_and_table7_target(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    row = counted(name)
    assert row["input_shape"] == "1x" + "x".join(str(d) for d in model.pretrained_cfg["input_size"])
    assert row["gmacs"] > 0.005 and row["params_m"] > 0.5  # FR on 28 x 28 u/v: 0.013 GMACs
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


def test_config_declares_the_input_it_reads(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    cfg = model.pretrained_cfg
    modality = cfg["modality"]
    assert cfg["input_size"] == input_size(modality) and cfg["channels"] == MODALITY_CFGS[modality]["channels"]
    assert len(cfg["mean"]) == len(cfg["std"]) == cfg["input_size"][0]
    assert tuple(cfg["label_names"]) == CASME2_5 and cfg["num_classes"] == model.num_classes == 5
    assert all(model.get_submodule(f["module"]) in set(model.modules()) for f in model.feature_info)
    if name in ("mer_fr", "mer_mjfn"):
        module_doc = sys.modules[type(model).__module__].__doc__
        assert "RECONSTRUCTION" in cfg["description"] and "RECONSTRUCTION" in module_doc
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(model_input(model, batch=1))
        assert model.forward_head(feats, pre_logits=True).shape == (1, model.head_hidden_size)
    model.reset_classifier(3)
    with torch.no_grad():
        assert model.num_classes == 3 and model(model_input(model, batch=1)).shape == (1, 3)
    model.reset_classifier(5)


@pytest.mark.slow
def test_torch_compile_matches_eager(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    model.eval()
    x = model_input(model, batch=1, seed=2)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model)(x), model(x), atol=1e-4, rtol=1e-3), name


def test_mol_full_network_and_recognition_path() -> None:
    """MOL within 15 % of the 44.1 M parameters measured from its public code; its recognition path (about
    1.06 M there) runs alone and is what ``forward`` computes."""
    model = timm.create_model("mer_mol", num_classes=5).eval()
    assert isinstance(model, MicroActionNet)
    full = sum(p.numel() for p in model.full_network().parameters()) / 1e6
    recognition = model.recognition_path()
    rec = sum(p.numel() for p in recognition.parameters()) / 1e6
    assert abs(full / 44.1 - 1) <= 0.15 and 0.8 < rec < 1.3, (full, rec)
    x = make_input(1, input_size("frames8"), mask=False)
    with torch.no_grad():
        logits, flow, landmarks = model.full_network()(x)
        assert torch.equal(recognition(x), model(x)) and torch.allclose(logits, model(x))
    assert flow.shape == (1, 7, 2, 128, 128) and landmarks.shape == (1, 7, 68, 2)


def test_dual_branch_explain_hooks(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    if not isinstance(model, DualBranchNet):
        pytest.skip("Grad-CAM layers and CAFFM gates belong to the dual-branch family")
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
