"""`mer preprocess` end to end on a tiny CASME II-layout dataset made of a real face photo (scikit-image's
astronaut) with a small facial motion between onset and apex."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer.data import cache
from mer.data.cache import INDEX_COLUMNS, preprocess, read_cache
from mer.errors import InputError

SHEET_HEADER = "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n"
# subject, sample, onset, apex, offset, emotion: the "/" apex is spotted from the motion
SAMPLES = [
    ("01", "EP02_01f", 10, 14, 18, "happiness"),
    ("01", "EP03_02", 10, 13, 18, "others"),
    ("02", "EP09_03", 10, 15, 18, "disgust"),
    ("02", "EP12_01f", 10, "/", 18, "surprise"),
]


def face_frame(offset_px: float) -> np.ndarray:
    """The astronaut photo (RGB uint8, 320 x 320) with its lower face moved up by `offset_px` pixels."""
    import cv2
    import skimage.data

    photo = cv2.resize(skimage.data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    if offset_px == 0:
        return photo
    ys, xs = np.mgrid[0:320, 0:320].astype(np.float32)
    weight = np.clip((ys - 100) / 40, 0, 1) * np.exp(-(((xs - 155) / 45) ** 2))  # mouth and chin only
    return cv2.remap(photo, xs, ys + offset_px * weight, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def make_dataset(root: Path) -> Path:
    """Frames 10..18 per sample in the CASME II raw layout (motion peaking at the apex) and a coding sheet."""
    import cv2

    lines = [SHEET_HEADER]
    for subject, sample, onset, apex, offset, emotion in SAMPLES:
        folder = root / "CASME2_RAW_selected" / f"sub{subject}" / sample
        folder.mkdir(parents=True)
        peak = 14 if apex == "/" else apex
        for n in range(onset, offset + 1):
            amount = 2.0 * max(0.0, 1 - abs(n - peak) / (peak - onset))
            cv2.imwrite(str(folder / f"img{n}.jpg"), cv2.cvtColor(face_frame(amount), cv2.COLOR_RGB2BGR))
        lines.append(f"{subject},{sample},,{onset},{apex},{offset},,12,{emotion}\n")
    (root / "CASME2-coding-tiny.csv").write_text("".join(lines))
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny_casme2"))


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "inputs").glob("*.npy")}


def test_preprocess_end_to_end_then_reuse_rebuild_and_resume(dataset, tmp_path, capsys):
    out = tmp_path / "cache"
    settings = preprocess("casme2", dataset, out, workers=2, progress=False)
    index, opened = read_cache(out)
    assert opened == settings
    assert list(index.columns) == list(INDEX_COLUMNS)
    assert len(index) == 4 and set(index["subject"]) == {"sub01", "sub02"}
    labels = {"EP02_01f": "happiness", "EP03_02": "others", "EP09_03": "disgust", "EP12_01f": "surprise"}
    assert index.set_index("sample")["label"].to_dict() == labels
    for row in index.itertuples():
        x = np.load(out / row.input)
        assert x.shape == (4, 282, 231) and x.dtype == np.float16
        assert set(np.unique(x[3])) <= {0, 1}  # the AU-region mask channel
        assert (out / row.apex_image).is_file()
    # the "/" apex was spotted between onset and offset, and said so
    slash = index.set_index("sample").loc["EP12_01f"]
    assert slash["apex_source"] == "spotted" and 10 < slash["apex"] <= 18 and "spotted" in slash["notes"]
    assert index.set_index("sample").loc["EP02_01f", "apex"] == 14
    for key in ("modality", "channels", "mean", "std", "label_set", "class_names", "dataset", "flow",
                "settings_hash"):  # fmt: skip
        assert key in settings
    assert settings["modality"] == "flow" and settings["class_names"][0] == "happiness"
    assert settings["complete"] and settings["timings"]["computed"] == 4
    timings = json.loads((out / "timings.json").read_text())
    assert all(timings[s] > 0 for s in ("read", "align", "flow", "write"))

    # an unchanged rerun reuses every input: nothing recomputed, no file touched
    before = mtimes(out)
    again = preprocess("casme2", dataset, out, workers=1, progress=False)
    assert again["timings"]["computed"] == 0 and again["timings"]["reused"] == 4
    assert mtimes(out) == before and again["settings_hash"] == settings["settings_hash"]

    # a different label set only rewrites the index
    megc = preprocess("casme2", dataset, out, label_set="megc_3", workers=1, progress=False)
    assert megc["timings"]["computed"] == 0 and megc["samples"] == 3  # "others" has no MEGC class
    assert "others" in pd.read_csv(out / "skipped.csv")["problem"].iloc[0]

    # interrupted run: one input missing and a half-written temporary file -> only that sample is redone
    victim = out / "inputs" / "sub02_EP09_03.npy"
    victim.unlink()
    (out / "inputs" / "sub01_EP03_02.npy.tmp-999").write_bytes(b"partial")
    resumed = preprocess("casme2", dataset, out, workers=1, progress=False)
    assert resumed["timings"]["computed"] == 1 and resumed["timings"]["reused"] == 3
    assert victim.is_file() and not list((out / "inputs").glob("*.tmp-*"))
    assert {k: v for k, v in mtimes(out).items() if k != victim.name} == {
        k: v for k, v in before.items() if k != victim.name}  # fmt: skip

    # a changed setting rebuilds everything in the same folder
    capsys.readouterr()
    dis = preprocess("casme2", dataset, out, flow="dis", workers=1, progress=False)
    assert "settings changed (flow: tvl1 -> dis)" in capsys.readouterr().out
    assert (
        dis["flow"] == "dis" and dis["timings"]["computed"] == 4 and dis["settings_hash"] != settings["settings_hash"]
    )
    assert all(mtimes(out)[k] != v for k, v in before.items())


def test_apex_modality(dataset, tmp_path):
    out = tmp_path / "apex"
    settings = preprocess("casme2", dataset, out, modality="apex", workers=1, progress=False)
    assert settings["channels"] == ["r", "g", "b", "au_mask"]
    index, _ = read_cache(out)
    x = cache.load_input(out, index.iloc[0])
    assert x.dtype == np.float32 and x.shape == (4, 282, 231) and 0 <= x[:3].min() and x[:3].max() <= 1


def test_missing_frame_is_named_and_can_be_skipped(dataset, tmp_path, capsys):
    from mer.cli import main

    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    (broken / "CASME2_RAW_selected/sub02/EP09_03/img15.jpg").unlink()
    assert main(args_list(broken, tmp_path / "c")) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error
    assert "sub02/EP09_03 (sheet row 4): apex 15 (img15.jpg)" in error and "--skip-missing" in error

    assert main([*args_list(broken, tmp_path / "c"), "--skip-missing"]) == 0
    assert "3 samples in" in capsys.readouterr().out
    index, settings = read_cache(tmp_path / "c")
    assert "EP09_03" not in set(index["sample"]) and len(index) == 3
    skipped = pd.read_csv(tmp_path / "c" / "skipped.csv", dtype=str)
    assert skipped[["subject", "sample", "sheet_row"]].values.tolist() == [["sub02", "EP09_03", "4"]]
    assert settings["skipped"] == 1


def args_list(root: Path, out: Path) -> list[str]:
    return ["preprocess", "--dataset", "casme2", "--root", str(root), "--out", str(out), "--workers", "1"]


def test_a_sample_without_a_face_is_named_after_the_others_are_done(dataset, tmp_path):
    import cv2

    faceless = tmp_path / "faceless"
    shutil.copytree(dataset, faceless)
    folder = faceless / "CASME2_RAW_selected/sub01/EP03_02"
    for path in folder.glob("*.jpg"):
        cv2.imwrite(str(path), np.full((320, 320, 3), 128, np.uint8))
    out = tmp_path / "c"
    with pytest.raises(InputError, match=r"sub01/EP03_02: no face found") as err:
        preprocess("casme2", faceless, out, workers=1, progress=False)
    assert "the other 3 are saved" in str(err.value)
    assert len(list((out / "inputs").glob("*.npy"))) == 3
    with pytest.raises(InputError, match="incomplete"):
        read_cache(out)
    settings = preprocess("casme2", faceless, out, skip_missing=True, workers=1, progress=False)
    assert settings["samples"] == 3 and settings["timings"]["computed"] == 0  # the 3 done are reused
    assert "no face" in pd.read_csv(out / "skipped.csv")["problem"].iloc[0]


def test_refuses_a_folder_that_is_not_a_cache(dataset, tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="not a mer cache"):
        preprocess("casme2", dataset, tmp_path, workers=1, progress=False)
    with pytest.raises(InputError, match="not a preprocessed cache"):
        read_cache(tmp_path)


def test_clips_and_derived_inputs_for_the_comparison_models(dataset, tmp_path, monkeypatch):
    """Every sample keeps an 8-frame aligned clip with per-frame landmarks; FR's and MOL's inputs (and MOL's
    flow and landmark targets) are derived from the cache once; a cache without clips names the command."""
    out = tmp_path / "c"
    preprocess("casme2", dataset, out, sheet=dataset / "CASME2-coding-tiny.csv", flow="dis", progress=False)
    index, _ = read_cache(out)
    with np.load(out / index["clip"].iloc[0]) as z:
        assert z["frames"].shape == (8, 282, 231) and z["frames"].dtype == np.uint8
        assert z["landmarks"].shape == (8, 68, 2) and list(z["numbers"])[::7] == [10, 18]
        assert np.abs(z["landmarks"] - z["landmarks"][0]).max() < 12  # the aligned face stays in place
    folder = cache.ensure_modality(out, "frames8", progress=False)
    stem = Path(index["input"].iloc[0]).stem
    x = np.load(folder / f"{stem}.npy")
    with np.load(folder / f"{stem}.targets.npz") as t:
        assert x.shape == (8, 128, 128) and 0 <= x.min() and x.max() <= 1
        assert t["flow"].shape == (7, 2, 128, 128) and t["landmarks"].shape == (8, 68, 2)
        assert 0 < t["landmarks"][..., 0].mean() < 128
    first = (folder / f"{stem}.npy").stat().st_mtime_ns
    cache.ensure_modality(out, "frames8", progress=False)  # once: the second call derives nothing
    assert (folder / f"{stem}.npy").stat().st_mtime_ns == first
    uv = np.load(cache.ensure_modality(out, "flow_uv28", progress=False) / f"{stem}.npy")
    assert uv.shape == (2, 28, 28)

    for clip in (out / "clips").glob("*.npz"):
        clip.unlink()
    shutil.rmtree(out / "derived")
    with pytest.raises(InputError, match="run the same `mer preprocess`"):
        cache.ensure_modality(out, "frames8", progress=False)


def test_an_opencv_error_in_one_sample_is_listed_with_the_others(dataset, tmp_path, monkeypatch):
    import cv2

    real = cache._save_clip

    def broken(path, *args):
        if "EP03_02" in str(path):
            raise cv2.error("simulated OpenCV failure")
        return real(path, *args)

    monkeypatch.setattr(cache, "_save_clip", broken)
    with pytest.raises(InputError, match="EP03_02: error: simulated OpenCV failure"):
        preprocess(
            "casme2",
            dataset,
            tmp_path / "c",
            sheet=dataset / "CASME2-coding-tiny.csv",
            flow="dis",
            workers=1,
            progress=False,
        )  # fmt: skip  (one process: the patched writer is this one's)
    assert len(list((tmp_path / "c" / "inputs").glob("*.npy"))) == len(SAMPLES)  # the others were written
