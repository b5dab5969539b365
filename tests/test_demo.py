"""mer.demo, the page's logic without the page: fields, frame rates, previews, checkpoints, the answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_server import write_face_clip, write_frames_zip

from mer import demo
from mer.errors import InputError
from mer.inference import DEFAULT_CHECKPOINT
from mer.weights import shipped_checkpoints

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "synthetic_surprise.webm"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("  ", None), ("12", 12), (7, 7), (3.0, 3), (" 0 ", 0)]
)
def test_an_empty_frame_field_means_detect(value, expected):
    assert demo.frame_number(value, "onset") == expected


@pytest.mark.parametrize("value", ["-1", "1.5", "twelve", float("nan")])
def test_a_wrong_frame_number_says_what_to_type(value):
    with pytest.raises(InputError, match="onset frame must be a whole number"):
        demo.frame_number(value, "onset")


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("200", 200.0), ("30 fps", 30.0), (100, 100.0)]
)
def test_frame_rate_field(value, expected):
    assert demo.frame_rate(value) == expected


@pytest.mark.parametrize("value", ["0", "fast", "20000"])
def test_a_wrong_frame_rate_is_the_visitors_to_fix(value):
    with pytest.raises(InputError, match="frame rate must be"):
        demo.frame_rate(value)


def test_a_video_says_its_frame_rate_and_where_it_came_from():
    assert demo.video_frame_rate(EXAMPLE) == (200.0, "read from the video file")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (apt-get install ffmpeg)")
def test_a_clip_browsers_cannot_play_gets_a_playable_preview(tmp_path: Path):
    from gradio.processing_utils import video_is_playable

    mp4v = write_face_clip(tmp_path / "phone.mp4", n_frames=10)
    assert not video_is_playable(str(mp4v))
    out = tmp_path / "preview"
    out.mkdir()
    preview, note = demo.browser_preview(mp4v, out)
    assert note == demo.PREVIEW_MADE and Path(preview).name == "phone.mp4" and Path(preview).parent == out
    assert video_is_playable(preview)
    assert demo.browser_preview(EXAMPLE, out) == (None, "")  # VP8 WebM plays as it is


def test_the_shelf_finds_the_shipped_checkpoint_and_ignores_a_missing_extra(tmp_path: Path):
    shelf = demo.ModelShelf(shipped_checkpoints(), extra=str(tmp_path / "nothing.safetensors"))
    assert shelf.default == DEFAULT_CHECKPOINT.name and shelf.names == list(shipped_checkpoints())
    assert DEFAULT_CHECKPOINT.name in shelf.names
    assert "synthetic data" in shelf.provenance(shelf.default)
    empty = demo.ModelShelf({})
    with pytest.raises(InputError, match="No checkpoint found"):
        empty.predictor(None)
    assert "No checkpoint found" in empty.provenance(None)


@pytest.fixture(scope="module")
def shelf() -> demo.ModelShelf:
    return demo.ModelShelf(shipped_checkpoints())


def test_an_example_answer_names_its_clip_its_frame_rate_and_groups_the_maps(shelf: demo.ModelShelf):
    answer = demo.analyse(shelf, demo.OutputFolders(), str(EXAMPLE), frames=False)
    assert answer.label == "surprise"
    assert "**synthetic_surprise.webm**" in answer.headline and "200 fps, read from the video file" in answer.headline
    result = json.loads(Path(answer.json_path).read_text())
    assert result["source"] == "synthetic_surprise.webm" and result["fps_source"] == "read from the video file"
    assert len(result["motion_curve"]) == result["frames"]
    assert [caption for _, caption in answer.pictures][:3] == [
        "Aligned face",
        f"Onset · {result['onset']}",
        f"Apex · {result['apex']}",
    ]
    assert [c for _, c in answer.maps["global"]][1:] == ["Attention"]
    assert [c for _, c in answer.maps["fusion"]] == [f"CBAM {i}" for i in range(1, 6)]
    assert all(Path(path).is_file() for group in answer.maps.values() for path, _ in group)
    assert "gates span" in answer.maps_note


def test_frames_without_a_frame_rate_ask_for_it_on_the_page(shelf: demo.ModelShelf, tmp_path: Path):
    frames = write_frames_zip(EXAMPLE, tmp_path / "frames.zip", n_frames=8)
    answer = demo.analyse_for_page(shelf, demo.OutputFolders(), str(frames), frames=True)
    assert (
        answer.headline.startswith("### This clip cannot be analysed")
        and "CASME II and SAMM are 200" in answer.headline
    )
    assert answer.label == "" and answer.json_path is None


def test_messages_lose_their_command_line_advice():
    assert demo.without_flags("apex 90 is not valid (the clip was limited to its first frames; see --max-frames)") == (
        "apex 90 is not valid (the clip was limited to its first frames)"
    )
    assert demo.without_flags("assumed 30 fps (set it with --fps; CASME II is 200)") == "assumed 30 fps"


def test_the_page_module_does_no_work_at_import_and_builds_without_a_model():
    import sys

    sys.path.insert(0, str(ROOT))
    import app

    assert app.FOLDERS._root is None and not app.SHELF._predictors  # no temp folder, no model yet
    page = app.build_demo()
    names = {d.api_name for d in page.fns.values() if d.api_visibility == "public"}
    assert {"predict", "predict_video", "predict_frames", "checkpoint_card"} <= names
    assert not app.SHELF._predictors


def test_on_gpu_is_the_function_itself_without_the_spaces_package():
    import importlib.util

    def work():
        return 1

    wrapped = demo.on_gpu(work)
    assert wrapped() == 1
    if importlib.util.find_spec("spaces") is None:
        assert wrapped is work
