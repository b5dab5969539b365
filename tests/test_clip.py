"""read_clip on real files written here: every container, folders, zips, and every way a clip can be bad."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from mer.errors import InputError
from mer.spotting.source import Clip, file_numbers, natural_key, read_clip

W, H = 160, 120


def face_frames(n: int, size: tuple[int, int] = (W, H)) -> list[np.ndarray]:
    """n RGB frames of a real face photograph (scikit-image's astronaut) with a small sub-pixel drift."""
    from skimage.data import astronaut

    face = astronaut()[0:300, 100:340]  # her head and shoulders
    frames = []
    for i in range(n):
        shift = np.float32([[1, 0, 0.3 * i], [0, 1, 0.2 * i]])
        moved = cv2.warpAffine(face, shift, (face.shape[1], face.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        frames.append(cv2.resize(moved, size, interpolation=cv2.INTER_AREA))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fourcc: str, fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def coded_frames(n: int) -> list[np.ndarray]:
    """Frames whose brightness encodes their index (10 * i), to check the order they come back in."""
    return [np.full((H, W, 3), 10 * i, dtype=np.uint8) for i in range(n)]


def write_folder(folder: Path, frames: list[np.ndarray], pattern: str = "img{}.png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / pattern.format(i)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def index_order(clip: Clip) -> list[int]:
    return [int(round(f.mean() / 10)) for f in clip.frames]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    frames = face_frames(12)
    # a red left half and a blue right half, to catch BGR/RGB mix-ups
    frames[0][:, : W // 2] = (255, 0, 0)
    frames[0][:, W // 2 :] = (0, 0, 255)
    kinds = {"mp4": "mp4v", "avi": "MJPG", "mov": "mp4v", "mkv": "mp4v", "webm": "VP80"}
    return {ext: write_video(root / f"clip.{ext}", frames, fourcc) for ext, fourcc in kinds.items()}


@pytest.mark.parametrize("ext", ["mp4", "avi", "mov", "mkv", "webm"])
def test_every_video_container_reads_as_rgb(videos, ext):
    clip = read_clip(videos[ext])
    assert len(clip) == 12
    assert clip.fps == pytest.approx(25.0)
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in clip.frames)
    first = clip.frames[0].astype(int)
    left, right = first[10:-10, 10 : W // 2 - 10].mean((0, 1)), first[10:-10, W // 2 + 10 : -10].mean((0, 1))
    assert left[0] > 200 and left[2] < 60, f"left half should be red in RGB, got {left}"
    assert right[2] > 200 and right[0] < 60, f"right half should be blue in RGB, got {right}"
    assert clip.notes == []


def test_long_video_keeps_the_beginning_and_says_so(videos):
    clip = read_clip(videos["mp4"], max_frames=5)
    assert len(clip) == 5
    assert any("only the first 5 frames" in note for note in clip.notes)


def test_large_frames_are_downscaled(videos):
    clip = read_clip(videos["avi"], max_side=80)
    assert clip.frames[0].shape == (60, 80, 3)
    assert any("downscaled from 160x120 to 80x60" in note for note in clip.notes)


def test_fps_argument_overrides_the_container(videos):
    assert read_clip(videos["mp4"], fps=200).fps == 200.0


def test_natural_sort():
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "IMG3.jpg"]
    assert sorted(names, key=natural_key) == ["img1.jpg", "img2.jpg", "IMG3.jpg", "img10.jpg"]


def test_frame_folder_in_natural_order_with_assumed_fps(tmp_path):
    folder = write_folder(tmp_path / "EP01_01", coded_frames(12))
    (folder / "notes.txt").write_text("not a frame")
    clip = read_clip(folder)
    assert index_order(clip) == list(range(12))  # img2 before img10
    assert clip.fps == 30.0
    assert any("assumed 30 fps" in note for note in clip.notes)
    assert read_clip(folder, fps=200).fps == 200.0


def test_frame_folder_limited_to_max_frames(tmp_path):
    folder = write_folder(tmp_path / "long", coded_frames(12), pattern="reg_img{}.jpg")
    clip = read_clip(folder, max_frames=4)
    assert index_order(clip) == [0, 1, 2, 3]
    assert any("12 frames; only the first 4" in note for note in clip.notes)


def _zip_folder(zpath: Path, folder: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, prefix + f.name)
    return zpath


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Points the temporary-folder location at an empty folder, to see what extraction leaves behind."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def test_zip_with_nested_folders_is_read_and_cleaned_up(tmp_path, private_tmp):
    folder = write_folder(tmp_path / "frames", coded_frames(11))
    zpath = _zip_folder(tmp_path / "clip.zip", folder, prefix="sub01/EP02_01f/")
    with zipfile.ZipFile(zpath, "a") as zf:  # macOS resource forks are not frames
        zf.writestr("__MACOSX/sub01/EP02_01f/._img1.png", b"\x00\x05\x16\x07")
    clip = read_clip(zpath)
    assert index_order(clip) == list(range(11))
    assert list(private_tmp.iterdir()) == [], "the extraction folder must be removed"


@pytest.mark.parametrize("bad_name", ["../evil.png", "/etc/evil.png", "frames/../../evil.png", "C:/evil.png"])
def test_zip_with_escaping_entry_is_refused(tmp_path, private_tmp, bad_name):
    folder = write_folder(tmp_path / "frames", coded_frames(3))
    zpath = _zip_folder(tmp_path / "slip.zip", folder)
    with zipfile.ZipFile(zpath, "a") as zf:
        zf.writestr(bad_name, cv2.imencode(".png", coded_frames(1)[0])[1].tobytes())
    with pytest.raises(InputError, match=r"refused: .*absolute path or '\.\.'"):
        read_clip(zpath)
    assert not (tmp_path / "evil.png").exists()
    assert list(private_tmp.iterdir()) == []


def test_zip_bomb_over_the_size_cap_is_refused(tmp_path, private_tmp):
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("img1.bmp", bytes(4 << 20))  # 4 MiB of zeros, a few KiB compressed
        zf.writestr("img2.bmp", bytes(4 << 20))
    assert zpath.stat().st_size < 100_000
    with pytest.raises(InputError, match=r"would unpack to 8 MiB, over the 2 MiB limit"):
        read_clip(zpath, max_unzipped_bytes=2 << 20)
    assert list(private_tmp.iterdir()) == []


def test_broken_zip_and_zip_without_frames(tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="not a valid zip archive"):
        read_clip(broken)
    empty = tmp_path / "docs.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="contains no frames"):
        read_clip(empty)


def test_truncated_video_is_reported_as_damaged(tmp_path, videos):
    data = videos["mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) at the end is gone
    with pytest.raises(InputError, match="damaged or truncated"):
        read_clip(cut)


def test_video_missing_its_end_still_reads_with_a_note(tmp_path, videos):
    data = videos["avi"].read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    clip = read_clip(cut)
    assert 2 <= len(clip) < 12
    assert any("truncated" in note for note in clip.notes)


def test_text_file_renamed_to_mp4_is_not_a_video(tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("these are my holiday notes, not a video\n" * 20)
    with pytest.raises(InputError, match="is not a video"):
        read_clip(fake)
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_clip(empty)


def test_empty_folder(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="contains no frames"):
        read_clip(tmp_path / "nothing")


def test_single_frame_clips_are_refused(tmp_path):
    one = write_video(tmp_path / "one.mp4", face_frames(1), "mp4v")
    with pytest.raises(InputError, match="at least two"):
        read_clip(one)
    folder = write_folder(tmp_path / "one", face_frames(1))
    with pytest.raises(InputError, match="at least two"):
        read_clip(folder)


def test_damaged_frame_in_a_folder(tmp_path):
    folder = write_folder(tmp_path / "frames", coded_frames(3))
    (folder / "img2.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(InputError, match="'img2.png' .* could not be read"):
        read_clip(folder)


def test_unsupported_and_missing_paths(tmp_path):
    gif = tmp_path / "clip.gif"
    gif.write_bytes(b"GIF89a")
    with pytest.raises(InputError, match=r"unsupported file type '\.gif'.*\.mp4.*\.zip"):
        read_clip(gif)
    image = tmp_path / "face.jpg"
    cv2.imwrite(str(image), face_frames(1)[0])
    with pytest.raises(InputError, match="single image"):
        read_clip(image)
    with pytest.raises(InputError, match="does not exist"):
        read_clip(tmp_path / "missing.mp4")


def test_numbered_frames_keep_their_file_numbers(tmp_path):
    # CASME II names frames img46.jpg, img47.jpg, ...: the coding sheets count onset and apex in these numbers
    folder = tmp_path / "EP02_01f"
    folder.mkdir()
    for number, frame in enumerate(coded_frames(5), start=46):
        cv2.imwrite(str(folder / f"img{number}.png"), frame)
    clip = read_clip(folder)
    assert clip.numbers == [46, 47, 48, 49, 50]
    assert file_numbers(["a/reg_img9.jpg", "a/reg_img10.jpg"]) == [9, 10]
    assert file_numbers(["img1.jpg", "cover.jpg"]) is None  # not all numbered
    assert file_numbers(["a/img1.jpg", "b/img1.jpg"]) is None  # two share a number
