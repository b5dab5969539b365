"""`mer predict` as a user runs it: a subprocess on files written here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import timm
import torch

import mer  # noqa: F401  (registers mer_* in timm)
from mer.cli import main
from mer.engine.checkpoint import card_for, save_checkpoint
from mer.spec import CASME2_5


def face_video(path: Path, n: int = 16, fps: float = 30.0) -> Path:
    """A real face photograph (scikit-image's astronaut) with a small smile-like lift of the mouth corners."""
    from mer.synth.real_media import astronaut_lift_frames

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for frame in astronaut_lift_frames(n, onset=round(n * 0.3), apex=round(n * 0.6), offset=round(n * 0.9)):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def mer_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mer", *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(1)
    model = timm.create_model("mer_dbfem_caffm", num_classes=len(CASME2_5))
    card = card_for(model, CASME2_5, preprocessing={"flow": "tvl1"}, synthetic=True,
                    note="trained on synthetic data (test card)")  # fmt: skip
    ckpt = save_checkpoint(model, root / "model.safetensors", card)
    pickled = root / "model.pth"
    torch.save(model.state_dict(), pickled)
    notvideo = root / "notes.mp4"
    notvideo.write_text("not a video at all\n")
    grey = root / "grey.avi"
    writer = cv2.VideoWriter(str(grey), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for _ in range(5):
        writer.write(np.full((120, 160, 3), 128, np.uint8))
    writer.release()
    video = face_video(root / "face.mp4")
    truncated = root / "cut.mp4"
    truncated.write_bytes(video.read_bytes()[:2000])
    empty = root / "empty_folder"
    empty.mkdir()
    return {
        "ckpt": ckpt,
        "pickled": pickled,
        "video": video,
        "truncated": truncated,
        "notvideo": notvideo,
        "grey": grey,
        "empty": empty,
        "root": root,
    }


def test_json_on_stdout_and_saved_pictures(files):
    out = files["root"] / "saved"
    result = mer_cli("predict", files["video"], "--checkpoint", files["ckpt"], "--json", "--save-dir", out)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert set(info["probabilities"]) == set(CASME2_5)
    assert sum(info["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert info["label"] in CASME2_5 and 0 <= info["onset"] < info["apex"] < 16
    assert info["fps"] == 30.0
    assert {"align", "spot", "input", "model", "gradcam", "overlays", "total"} <= set(info["timings"])
    assert info["checkpoint"]["note"] == "trained on synthetic data (test card)"
    # what the page shows (mer.demo.view.save): its pictures, maps, timeline and the answer
    saved = json.loads((out / "result.json").read_text())
    assert saved["label"] == info["label"] and len(saved["motion_curve"]) == 16 and saved["source"] == "face.mp4"
    assert (out / "timeline.html").is_file() and (out / "answer.md").read_text().strip()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert any(name.startswith("clip_") for name in pngs) and any(name.startswith("global_") for name in pngs)
    assert set(saved["images"]) == {Path(name).stem for name in pngs}
    assert all(cv2.imread(str(out / name)) is not None for name in pngs)


def test_readable_summary_with_given_onset_apex(files, capfd):
    args = [files["video"], "--checkpoint", files["ckpt"], "--onset", "1", "--apex", "9"]
    status = main(["predict", *map(str, args)])
    out, err = capfd.readouterr()
    assert status == 0, err
    assert "answer:      one micro-expression at " in out and "onset/apex:  1 / 9 (given)" in out
    assert "most salient micro-expression: " in out and "probabilities are uncalibrated" in out
    assert "trained on synthetic data (test card)" in out


def test_bad_clip_in_a_real_process(files):
    # a separate interpreter: nothing (OpenCV, FFmpeg, torch) may print more than the one error line
    result = mer_cli("predict", files["notvideo"], "--checkpoint", files["ckpt"], "--json")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and "is not a video" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    "case, message",
    [
        ("truncated", "damaged or truncated"),
        ("grey", "no face found"),
        ("empty", "contains no frames"),
        ("missing_clip", "does not exist"),
        ("missing_ckpt", "does not exist"),
        ("pickled", "pickled checkpoint"),
        ("onset_only", "both --onset and --apex"),
        ("apex_out_of_range", "0 <= onset < apex <= 15"),
    ],
)
def test_bad_input_gives_one_error_line_and_status_2(files, capfd, case, message):
    args = {
        "truncated": [files["truncated"], "--checkpoint", files["ckpt"]],
        "grey": [files["grey"], "--checkpoint", files["ckpt"]],
        "empty": [files["empty"], "--checkpoint", files["ckpt"]],
        "missing_clip": [files["root"] / "nope.webm", "--checkpoint", files["ckpt"]],
        "missing_ckpt": [files["video"], "--checkpoint", files["root"] / "nope.safetensors"],
        "pickled": [files["video"], "--checkpoint", files["pickled"]],
        "onset_only": [files["video"], "--checkpoint", files["ckpt"], "--onset", "2"],
        "apex_out_of_range": [files["video"], "--checkpoint", files["ckpt"], "--onset", "2", "--apex", "16"],
    }[case]
    status = main(["predict", *map(str, args), "--json"])
    out, err = capfd.readouterr()  # file-descriptor level: catches what C libraries print too
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in err and out == ""


def test_many_clips_one_json_line_each_and_status_2_when_one_fails(files):
    clips = files["root"] / "clips"
    clips.mkdir(exist_ok=True)
    (clips / "a.mp4").write_bytes(files["video"].read_bytes())
    (clips / "b.mp4").write_text("not a video at all\n")
    result = mer_cli("predict", files["video"], clips, "--checkpoint", files["ckpt"], "--json")
    assert result.returncode == 2, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["source"]).name for line in lines] == ["face.mp4", "a.mp4", "b.mp4"]
    assert lines[0]["events"] == lines[1]["events"] and "is not a video" in lines[2]["error"]
    assert "Traceback" not in result.stderr


def test_many_clips_as_text_and_onset_apex_only_for_one(files, capfd):
    status = main(["predict", str(files["video"]), str(files["video"]), "--checkpoint", str(files["ckpt"])])
    out, err = capfd.readouterr()
    assert status == 0, err
    assert out.count("answer:      ") == 2
    status = main(
        [
            "predict",
            str(files["video"]),
            str(files["video"]),
            "--checkpoint",
            str(files["ckpt"]),
            "--onset",
            "1",
            "--apex",
            "9",
        ]
    )
    out, err = capfd.readouterr()
    assert status == 2 and "--onset/--apex belong to one clip" in err


def test_progress_on_a_watched_terminal_only(files, capsys, monkeypatch):
    """tqdm's bar on stderr while a person watches (stderr a terminal); none with -q or with --json piped."""
    args = ["predict", str(files["video"]), "--checkpoint", str(files["ckpt"])]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(args) == 0
    assert "100%" in capsys.readouterr().err
    for extra in (["-q"], ["--json"]):  # under pytest stdout is not a terminal: --json goes to a pipe
        assert main([*args, *extra]) == 0
        assert "%" not in capsys.readouterr().err, extra
