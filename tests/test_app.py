"""The demo API via gradio_client, against `python app.py` on a free local port (tests/app_server.py)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from app_server import AppServer, shared_server
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def server() -> AppServer:
    return shared_server()


@pytest.fixture(scope="module")
def client(server: AppServer) -> Client:
    return Client(server.url, verbose=False)


def test_example_clip_gives_a_label_with_its_pictures_and_json(client: Client, server: AppServer) -> None:
    label, summary, bars, curve, pictures, explanations, timings, json_path = client.predict(
        handle_file(str(server.clips[0])), api_name="/predict"
    )
    assert label in server.class_names
    assert bars["type"] == "plotly" and curve["type"] == "plotly"
    assert len(pictures) == 5 and all(Path(p["image"]).is_file() for p in pictures)
    assert any("Grad-CAM" in (e["caption"] or "") for e in explanations)
    assert timings["data"] and all(ms >= 0 for _, ms in timings["data"])
    result = json.loads(Path(json_path).read_text())
    assert result["label"] == label
    assert set(result["probabilities"]) == set(server.class_names)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    # both the shipped demo weights and the tests' random weights are marked synthetic: every result says so
    assert "synthetic" in summary.lower()


def test_broken_file_is_a_clear_error_and_the_next_request_works(
    client: Client, server: AppServer, tmp_path: Path
) -> None:
    broken = tmp_path / "holiday.mp4"
    broken.write_text("this is a text file with a video's name\n" * 50)
    with pytest.raises(AppError, match="not a video"):
        client.predict(handle_file(str(broken)), api_name="/predict")
    assert server.alive()
    label = client.predict(handle_file(str(server.small_clip)), api_name="/predict")[0]
    assert label in server.class_names


def test_zip_of_frames_with_onset_and_apex_given(client: Client, server: AppServer, tmp_path: Path) -> None:
    import cv2

    frames = tmp_path / "frames.zip"
    capture = cv2.VideoCapture(str(server.small_clip))
    with zipfile.ZipFile(frames, "w") as archive:
        for n in range(1, 13):
            ok, bgr = capture.read()
            assert ok
            archive.writestr(f"img{n}.jpg", cv2.imencode(".jpg", bgr)[1].tobytes())
    capture.release()
    out = client.predict(video=None, frames_zip=handle_file(str(frames)), onset=1, apex=7, fps=200, api_name="/predict")
    result = json.loads(Path(out[-1]).read_text())
    assert (result["onset"], result["apex"], result["fps"]) == (1, 7, 200)
    assert result["label"] in server.class_names


def test_no_clip_asks_for_one(client: Client) -> None:
    with pytest.raises(AppError, match="Upload a video"):
        client.predict(video=None, api_name="/predict")


def test_checkpoint_picker_shows_the_card(client: Client, server: AppServer) -> None:
    text = client.predict(server.checkpoint.stem, api_name="/checkpoint_card")
    assert "synthetic data" in text.lower() and "mer_" in text


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
