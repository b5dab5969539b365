"""The demo API via gradio_client, against `python app.py` on a free local port (tests/app_server.py).

Endpoints: /predict (a clip file: a video, or a zip with fps), /predict_video, /predict_frames (fps required),
/checkpoint_card. Each analysis answers (label, summary, result JSON, result file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_server import AppServer, shared_server, write_frames_zip
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

pytestmark = pytest.mark.slow  # one real `python app.py` server for the module


@pytest.fixture(scope="module")
def server() -> AppServer:
    return shared_server()


@pytest.fixture(scope="module")
def client(server: AppServer) -> Client:
    return Client(server.url, verbose=False)


@pytest.fixture(scope="module")
def frames_zip(server: AppServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 24 frames: 0.12 s at 200 fps, as short as a CASME II sample (onset to offset) gets
    return write_frames_zip(server.small_clip, tmp_path_factory.mktemp("zip") / "frames.zip", n_frames=24)


def test_an_example_clip_gives_its_label_summary_and_json(client: Client, server: AppServer) -> None:
    clip = server.clips[0]
    label, summary, result, json_path = client.predict(handle_file(str(clip)), api_name="/predict")
    assert label in server.class_names
    if server.shipped:  # the shipped weights name each example's class (its file name says which)
        assert label == clip.stem.removeprefix("synthetic_")
    assert result == json.loads(Path(json_path).read_text())
    assert result["label"] == label and result["source"] == clip.name
    assert set(result["probabilities"]) == set(server.class_names)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert [e["kind"] for e in result["events"]].count("micro") >= 1
    # which frame rate, and why: the examples' containers say 200
    assert result["fps"] == 200 and result["fps_source"] == "read from the video file"
    assert "200 fps, read from the video file" in summary and label in summary
    # names, never the server's paths
    assert "/" not in result["checkpoint"]["file"] and "path" not in result["checkpoint"]


def test_a_broken_file_is_a_clear_error_and_the_next_request_works(
    client: Client, server: AppServer, tmp_path: Path
) -> None:
    broken = tmp_path / "holiday.mp4"
    broken.write_text("this is a text file with a video's name\n" * 50)
    with pytest.raises(AppError, match="not a video"):
        client.predict(handle_file(str(broken)), api_name="/predict")
    assert server.alive()
    label, summary, result, _ = client.predict(handle_file(str(server.small_clip)), api_name="/predict")
    assert result["source"] == server.small_clip.name
    if label:
        assert label in server.class_names and result["label"] == label
    else:  # a 3 px mouth movement over 0.8 s: an ordinary expression, and the answer says so plainly
        assert result["label"] is None and summary.startswith("no micro-expression found")
        assert [e["kind"] for e in result["events"]] and "micro" not in [e["kind"] for e in result["events"]]


def test_frames_with_their_frame_rate_and_onset_apex(client: Client, server: AppServer, frames_zip: Path) -> None:
    out = client.predict(handle_file(str(frames_zip)), 200, None, 1, 7, api_name="/predict_frames")
    result = out[2]
    assert (result["onset"], result["apex"], result["fps"]) == (1, 7, 200)
    assert result["fps_source"] == "as chosen for these frames"
    assert result["label"] in server.class_names  # given onset/apex: one micro event, classified
    same = client.predict(handle_file(str(frames_zip)), onset=1, apex=7, fps=200, api_name="/predict")[2]
    assert same["probabilities"] == result["probabilities"]


def test_frames_without_a_frame_rate_are_refused_not_guessed(client: Client, frames_zip: Path) -> None:
    with pytest.raises(AppError, match="frame rate"):
        client.predict(handle_file(str(frames_zip)), api_name="/predict")
    with pytest.raises(AppError, match="frame rate"):
        client.predict(handle_file(str(frames_zip)), None, api_name="/predict_frames")


def test_a_video_frame_rate_given_overrides_the_file_and_says_so(client: Client, server: AppServer) -> None:
    result = client.predict(handle_file(str(server.small_clip)), fps=60, api_name="/predict_video")[2]
    assert result["fps"] == 60 and "given" in result["fps_source"]


def test_empty_or_half_given_onset_apex(client: Client, server: AppServer) -> None:
    with pytest.raises(AppError, match="both the onset and the apex"):
        client.predict(handle_file(str(server.small_clip)), onset=3, api_name="/predict_video")
    with pytest.raises(AppError, match="whole number"):
        client.predict(handle_file(str(server.small_clip)), onset=1.5, apex=6, api_name="/predict_video")


def test_no_clip_asks_for_one(client: Client) -> None:
    with pytest.raises(AppError, match="Upload a video"):
        client.predict(None, api_name="/predict_video")


def test_the_api_documents_its_parameters(client: Client) -> None:
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict", "/predict_video", "/predict_frames", "/checkpoint_card"} <= set(api)
    required = {
        name: [p["parameter_name"] for p in info["parameters"] if not p["parameter_has_default"]]
        for name, info in api.items()
    }
    assert required["/predict"] == ["clip"]
    assert required["/predict_video"] == ["video"]
    assert required["/predict_frames"] == ["frames_zip", "fps"]
    # gr.api names its values by position: label, summary, the JSON, the JSON as a file
    returns = [r["python_type"]["type"] for r in api["/predict"]["returns"]]
    assert returns == ["str", "str", "dict(str, Any)", "filepath"], returns


def test_checkpoint_picker_shows_the_card_in_plain_words(client: Client, server: AppServer) -> None:
    text = client.predict(server.checkpoint_name, api_name="/checkpoint_card")
    assert "synthetic" in text.lower() and f"`{server.checkpoint_name}`" in text


def test_uploads_over_the_cap_are_refused_by_the_server(server: AppServer, tmp_path: Path) -> None:
    import httpx

    config = httpx.get(server.url + "/config", timeout=30).json()
    cap = config["max_file_size"]
    assert cap == 50 * 2**20
    big = tmp_path / "long_recording.mp4"
    with open(big, "wb") as f:
        f.truncate(cap + 2**20)  # sparse: 51 MiB of zeros without writing them one by one
    with open(big, "rb") as f:
        response = httpx.post(server.url + "/gradio_api/upload", files={"files": f}, timeout=120)
    assert response.status_code == 413, response.text
    assert server.alive()
