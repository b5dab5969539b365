"""Checkpoints: safetensors + card round trip, and every way a bad checkpoint is refused."""

import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import mer  # noqa: F401  (registers mer_* in timm)
from mer.engine.checkpoint import card_path, load_checkpoint, save_checkpoint
from mer.errors import InputError
from mer.spec import CASME2_5

MODEL = "mer_gfem"  # the smallest of the family
SIZE = [4, 282, 231]


def card(**over):
    base = {
        "architecture": MODEL,
        "class_names": list(CASME2_5),
        "input": {
            "modality": "flow",
            "channels": ["u", "v", "strain", "au_mask"],
            "size": SIZE,
            "mean": [0, 0, 0, 0],
            "std": [1, 1, 1, 1],
        },
        "dataset": "synthetic",
        "synthetic": True,
        "metrics": {"uf1": 0.5, "data_source": "synthetic, held-out subjects"},
        "note": "test",
    }
    return base | over


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = timm.create_model(MODEL, num_classes=len(CASME2_5)).eval()
    with torch.no_grad():  # non-default BN statistics, so a load that skipped buffers would show
        for buf in m.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    return m


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, *SIZE, generator=torch.Generator().manual_seed(1))


def test_round_trip_gives_the_same_outputs_and_the_card(tmp_path, model, x):
    path = save_checkpoint(model, tmp_path / "m.safetensors", card())
    loaded, c = load_checkpoint(path)
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert c["class_names"] == list(CASME2_5) and c["synthetic"] is True
    assert c["weights"]["storage_dtype"] == "float32"
    assert c["code_version"]["mer"] == mer.__version__
    assert json.loads(card_path(path).read_text())["architecture"] == MODEL


def test_fp16_storage_halves_the_file_and_stays_close(tmp_path, model, x):
    full = save_checkpoint(model, tmp_path / "full.safetensors", card())
    half = save_checkpoint(model, tmp_path / "half.safetensors", card(), fp16=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    with safe_open(str(half), framework="pt") as fh:
        dtypes = {fh.get_tensor(k).dtype for k in fh.keys()}
    assert torch.float16 in dtypes and torch.float32 not in dtypes
    loaded, c = load_checkpoint(half)
    assert c["weights"]["storage_dtype"] == "float16"
    assert next(loaded.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(torch.softmax(loaded(x), 1), torch.softmax(model(x), 1), atol=2e-2)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".bin"])
def test_pickled_files_are_refused(tmp_path, model, suffix):
    path = tmp_path / f"m{suffix}"
    torch.save(model.state_dict(), path)
    card_path(path).write_text(json.dumps(card()))
    with pytest.raises(InputError, match="pickle"):
        load_checkpoint(path)


def test_a_pickle_renamed_to_safetensors_is_refused(tmp_path, model):
    path = tmp_path / "m.safetensors"
    torch.save(model.state_dict(), path)
    card_path(path).write_text(json.dumps(card()))
    with pytest.raises(InputError, match="not a safetensors file"):
        load_checkpoint(path)


def test_card_is_checked_against_the_weights(tmp_path, model):
    path = save_checkpoint(model, tmp_path / "m.safetensors", card())
    cpath = card_path(path)

    cpath.write_text(json.dumps(card(class_names=["a", "b", "c"])))  # 3 names, weights for 5 classes
    with pytest.raises(InputError, match="does not match"):
        load_checkpoint(path)

    cpath.write_text(json.dumps(card(architecture="mer_no_such_model")))
    with pytest.raises(InputError, match="not a registered model"):
        load_checkpoint(path)

    bad_input = card()["input"] | {"size": [4, 224, 224]}
    cpath.write_text(json.dumps(card(input=bad_input)))
    with pytest.raises(InputError, match="input size"):
        load_checkpoint(path)

    cpath.write_text(json.dumps({k: v for k, v in card().items() if k != "class_names"}))
    with pytest.raises(InputError, match="lacks"):
        load_checkpoint(path)

    cpath.unlink()
    with pytest.raises(InputError, match="no model card"):
        load_checkpoint(path)


def test_missing_tensors_are_refused(tmp_path, model):
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    dropped = sorted(state)[0]
    del state[dropped]
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    card_path(path).write_text(json.dumps(card()))
    with pytest.raises(InputError, match="missing"):
        load_checkpoint(path)


def test_save_needs_a_complete_card_and_a_safetensors_name(tmp_path, model):
    with pytest.raises(InputError, match="folder or end in .safetensors"):
        save_checkpoint(model, tmp_path / "m.pt", card())
    with pytest.raises(InputError, match="input.std"):
        save_checkpoint(
            model,
            tmp_path / "m.safetensors",
            card(input={k: v for k, v in card()["input"].items() if k != "std"}),
        )


def test_a_folder_checkpoint_loads_with_mer_and_with_timm_local_dir(tmp_path):
    """The Hub's layout: model.safetensors + timm's config.json + our card.json, read the same by both loaders."""
    model = timm.create_model(MODEL, num_classes=len(CASME2_5)).eval()
    folder = save_checkpoint(model, tmp_path / "ckpt", card(), fp16=True)
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "config.json", "model.safetensors"]
    ours, c = load_checkpoint(folder)
    theirs = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    x = torch.randn(1, *SIZE)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
        assert not torch.allclose(ours(x), model(x), atol=0)  # fp16 storage really was used ...
        assert torch.allclose(ours(x), model(x), atol=1e-2)  # ... and casts back
    assert theirs.pretrained_cfg["modality"] == "flow" and list(theirs.pretrained_cfg["label_names"]) == list(CASME2_5)
    assert ours.pretrained_cfg == ours.default_cfg


def test_a_card_that_does_not_match_its_weights_is_refused(tmp_path):
    first = save_checkpoint(timm.create_model(MODEL, num_classes=5), tmp_path / "a", card())
    second = save_checkpoint(timm.create_model(MODEL, num_classes=5), tmp_path / "b", card())
    (first / "card.json").replace(second / "card.json")
    with pytest.raises(InputError, match="other weights"):
        load_checkpoint(second)


def test_the_shipped_weights_are_a_timm_pretrained_tag():
    from mer.weights import DEMO_CHECKPOINT

    tagged = timm.create_model("mer_dbfem_caffm.realfaces", pretrained=True).eval()
    shipped, c = load_checkpoint(DEMO_CHECKPOINT)
    x = torch.randn(1, *SIZE)
    with torch.no_grad():
        assert torch.equal(tagged(x), shipped(x))
    assert Path(tagged.pretrained_cfg["file"]).parent == DEMO_CHECKPOINT
    assert c["weights"]["sha256"] and c["synthetic"] is True
