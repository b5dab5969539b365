"""Reading a clip: a video file, a folder of frames or a zip of frames -> RGB frames and a frame rate.

Every failure is an :class:`mer.errors.InputError` whose message a non-programmer can act on. The work is
bounded: frames larger than ``max_side`` are downscaled and only the first ``max_frames`` frames are kept (the
notes say so). Zip archives are extracted only into a temporary folder, then removed; entries with absolute
paths or ``..`` are refused and the total uncompressed size is capped (zip bombs).
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from mer.errors import InputError
from mer.spec import MAX_FRAMES

# FFmpeg (inside OpenCV) prints its own complaints about damaged files on stderr; the user gets ours instead.
# OpenCV reads this when it first opens a video; _quiet_ffmpeg covers a process that opened one before.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
ZIP_SUFFIXES = (".zip",)

MAX_SIDE = 640  # longer frame side in pixels after downscaling
DEFAULT_FPS = 30.0  # when the source does not say
MAX_UNZIPPED_BYTES = 1 << 30  # 1 GiB: total uncompressed size a zip may declare
MAX_ZIP_ENTRIES = 100_000

SUPPORTED = (
    "a video ("
    + ", ".join(VIDEO_SUFFIXES)
    + "), a folder of frames ("
    + ", ".join(IMAGE_SUFFIXES)
    + ") or a .zip of frames"
)

# Container signatures: a file with one that cannot be decoded is damaged or truncated, not "not a video".
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


@dataclass
class Clip:
    """A clip ready for the pipeline.

    frames: RGB uint8 arrays (H, W, 3), all the same size, at most ``max_frames`` of them.
    fps: frames per second (from the container, the caller, or ``DEFAULT_FPS`` with a note).
    source: where the frames came from (a path, for messages and provenance).
    notes: what was changed or assumed on the way (downscaled, limited, fps assumed, truncated file).
    numbers: for a folder or zip of numbered frames (CASME II's img46.jpg, img47.jpg, ...), the number in each
        frame's file name, in clip order (the coding sheets count frames this way); None for videos, or when the
        names are not all numbered differently.
    """

    frames: list[np.ndarray]
    fps: float
    source: str
    notes: list[str] = field(default_factory=list)
    numbers: list[int] | None = None

    def __len__(self) -> int:
        return len(self.frames)


def file_numbers(names: list[str]) -> list[int] | None:
    """The last run of digits in each file's stem (img46.jpg -> 46), or None when one has none or two share one."""
    numbers = []
    for name in names:
        digits = re.findall(r"\d+", PurePosixPath(name).stem)
        if not digits:
            return None
        numbers.append(int(digits[-1]))
    return numbers if len(set(numbers)) == len(numbers) else None


def natural_key(text: str) -> list:
    """Sort key that puts img2 before img10 (digit runs compare as numbers, the rest case-insensitively)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def read_clip(
    path: str | os.PathLike,
    max_frames: int = MAX_FRAMES,
    max_side: int = MAX_SIDE,
    fps: float | None = None,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> Clip:
    """Read a clip from a video file, a folder of frames or a zip of frames.

    Args:
        path: a video (.mp4, .avi, .mov, .webm, .mkv), a folder of images, or a .zip of images. Frames are
            sorted naturally by their path (img2 before img10); sub-folders are included.
        max_frames: keep only the first ``max_frames`` frames (a note says so when the clip was longer).
        max_side: frames whose longer side exceeds this many pixels are downscaled (aspect kept).
        fps: frame rate to use; overrides the container's. Folders and zips default to ``DEFAULT_FPS``
            with a note.
        max_unzipped_bytes: a zip whose entries declare more uncompressed bytes than this is refused.

    Returns:
        a :class:`Clip` with at least two frames.

    Raises:
        InputError: missing path, unsupported type, not a video, damaged/truncated file, empty folder, fewer
            than two frames, unsafe or oversized zip.
    """
    if max_frames < 2:
        raise InputError(f"max_frames must be at least 2 (got {max_frames})")
    if fps is not None and not (0 < fps <= 10_000):
        raise InputError(f"the frame rate must be a positive number of frames per second (got {fps})")
    p = Path(path)
    if not p.exists():
        raise InputError(f"'{p}' does not exist; give the path of {SUPPORTED}")
    if p.is_dir():
        clip = _read_folder(p, max_frames, max_side, fps, display=str(p))
    else:
        suffix = p.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            clip = _read_video(p, max_frames, max_side, fps)
        elif suffix in ZIP_SUFFIXES:
            clip = _read_zip(p, max_frames, max_side, fps, max_unzipped_bytes)
        elif suffix in IMAGE_SUFFIXES:
            raise InputError(f"'{p.name}' is a single image, and a clip needs at least two frames; give {SUPPORTED}")
        else:
            kind = f"'{suffix}'" if suffix else "without an extension"
            raise InputError(f"'{p.name}': unsupported file type {kind}; give {SUPPORTED}")
    if len(clip.frames) < 2:
        raise InputError(
            f"'{p.name}' has {len(clip.frames)} frame(s); a micro-expression needs at least two "
            "(an onset and an apex): give a longer clip"
        )
    return clip


# ------------------------------------------------------------------------------------------------ video files


def write_video(frames, fps: float, path: str | Path, codec: str = "mp4v") -> Path:
    """Write (H, W, 3) uint8 RGB frames as a video with OpenCV's `codec` encoder (default MPEG-4 Part 2, OpenCV's
    default bitrate); returns the path. OSError when this OpenCV build cannot encode `codec`."""
    import cv2

    frames = list(frames)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"this OpenCV build cannot encode {codec!r}")
    for frame in frames:
        writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    writer.release()
    return Path(path)


def _looks_like_video(path: Path) -> bool:
    """True when the file starts with a known video container signature (MP4/MOV, AVI, Matroska/WebM)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    is_avi = head[:4] == b"RIFF" and head[8:12] == b"AVI "
    return head[4:8] in _MP4_BOXES or is_avi or head[:4] == b"\x1a\x45\xdf\xa3"


@functools.lru_cache(maxsize=1)
def _quiet_ffmpeg() -> None:
    """Set the log level of the FFmpeg that OpenCV loaded to quiet (Linux; elsewhere a no-op)."""
    import ctypes

    import cv2  # noqa: F401  (loads OpenCV's own libavutil)

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libavutil" in line}
        for lib in paths:
            ctypes.CDLL(lib).av_log_set_level(-8)  # AV_LOG_QUIET
    except (OSError, AttributeError):
        pass


def _read_video(path: Path, max_frames: int, max_side: int, fps: float | None) -> Clip:
    import cv2

    _quiet_ffmpeg()
    if path.stat().st_size == 0:
        raise InputError(f"'{path.name}' is an empty file (0 bytes); record or export the clip again")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(_undecodable(path))
        declared = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        container_fps = cap.get(cv2.CAP_PROP_FPS)
        frames: list[np.ndarray] = []
        resizer = _Resizer(max_side)
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            frames.append(resizer(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        more = len(frames) == max_frames and cap.grab()
    finally:
        cap.release()
    if not frames:
        raise InputError(_undecodable(path))

    notes: list[str] = []
    if fps is None:
        if np.isfinite(container_fps) and 1.0 <= container_fps <= 10_000:
            fps = float(container_fps)
        else:
            fps = DEFAULT_FPS
            notes.append(f"the video does not give its frame rate; assumed {DEFAULT_FPS:g} fps (set it with --fps)")
    declared_n = int(declared) if np.isfinite(declared) and 0 < declared < 10_000_000 else None
    if more:
        total = f"about {declared_n}" if declared_n else "more"
        notes.append(
            f"the clip is long ({total} frames); only the first {max_frames} frames "
            f"({max_frames / fps:.2f} s) were used: trim the clip to the moment of interest"
        )
    elif declared_n is not None and len(frames) < declared_n - 1:
        # The container promised more frames than could be decoded: the end of the file is missing or damaged.
        notes.append(f"the video seems truncated or damaged: only {len(frames)} of {declared_n} frames could be read")
    notes.extend(resizer.notes())
    return Clip(frames=frames, fps=float(fps), source=str(path), notes=notes)


def _undecodable(path: Path) -> str:
    if _looks_like_video(path):
        return (
            f"'{path.name}' could not be read: the video file is damaged or truncated (no frame could be "
            "decoded); export or download it again"
        )
    return (
        f"'{path.name}' is not a video (its content is not a video format OpenCV can read, whatever its "
        f"extension); give {SUPPORTED}"
    )


class _Resizer:
    """Downscales frames whose longer side exceeds ``max_side``, and remembers it for the notes."""

    def __init__(self, max_side: int) -> None:
        self.max_side = max_side
        self.from_size: tuple[int, int] | None = None
        self.to_size: tuple[int, int] | None = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        h, w = rgb.shape[:2]
        if self.to_size is None:  # the first frame fixes the output size for the whole clip
            scale = min(1.0, self.max_side / max(h, w))
            self.from_size = (w, h)
            self.to_size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if (w, h) == self.to_size:
            return np.ascontiguousarray(rgb)
        return cv2.resize(rgb, self.to_size, interpolation=cv2.INTER_AREA)

    def notes(self) -> list[str]:
        if self.from_size is None or self.from_size == self.to_size:
            return []
        (w0, h0), (w1, h1) = self.from_size, self.to_size
        return [f"frames were downscaled from {w0}x{h0} to {w1}x{h1} pixels"]


# ---------------------------------------------------------------------------------------------- frame folders


def _is_hidden(rel: PurePosixPath) -> bool:
    # macOS zips carry __MACOSX/._img1.jpg resource forks that are not images
    return any(part.startswith(".") or part == "__MACOSX" for part in rel.parts)


def _list_images(root: Path) -> list[Path]:
    found = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not _is_hidden(PurePosixPath(p.relative_to(root).as_posix()))
    ]
    return sorted(found, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def _read_folder(root: Path, max_frames: int, max_side: int, fps: float | None, display: str) -> Clip:
    import cv2

    images = _list_images(root)
    if not images:
        raise InputError(
            f"'{display}' contains no frames: it holds no image files ({', '.join(IMAGE_SUFFIXES)}); "
            "put the clip's frames in it, named in order (img1.jpg, img2.jpg, ...)"
        )
    notes: list[str] = []
    if len(images) > max_frames:
        notes.append(
            f"the clip has {len(images)} frames; only the first {max_frames} were used: "
            "keep only the frames of interest"
        )
        images = images[:max_frames]
    resizer = _Resizer(max_side)
    frames: list[np.ndarray] = []
    resized_odd = 0
    for img_path in images:
        bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        if bgr is None:
            name = img_path.relative_to(root).as_posix()
            raise InputError(f"frame '{name}' in '{display}' could not be read: the image is damaged or not an image")
        rgb = resizer(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if frames and rgb.shape != frames[0].shape:
            resized_odd += 1
            rgb = cv2.resize(rgb, (frames[0].shape[1], frames[0].shape[0]), interpolation=cv2.INTER_AREA)
        frames.append(rgb)
    notes.extend(resizer.notes())
    if resized_odd:
        notes.append(f"{resized_odd} frame(s) differed in size from the first and were resized to match it")
    if fps is None:
        fps = DEFAULT_FPS
        notes.append(
            f"a folder or zip of frames has no frame rate; assumed {DEFAULT_FPS:g} fps "
            "(set it with --fps; CASME II is 200)"
        )
    numbers = file_numbers([p.relative_to(root).as_posix() for p in images])
    return Clip(frames=frames, fps=float(fps), source=display, notes=notes, numbers=numbers)


# ----------------------------------------------------------------------------------------------- zip archives


def _safe_member(name: str) -> PurePosixPath | None:
    """The entry's relative path, or None when it is absolute or climbs out with '..' (zip slip)."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return None
    rel = PurePosixPath(norm)
    if ".." in rel.parts:
        return None
    return rel


def _read_zip(path: Path, max_frames: int, max_side: int, fps: float | None, max_unzipped_bytes: int) -> Clip:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"'{path.name}' is not a valid zip archive ({err}); create the zip again") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise InputError(f"'{path.name}' holds {len(infos)} entries (limit {MAX_ZIP_ENTRIES}); zip fewer frames")
        for info in infos:
            if _safe_member(info.filename) is None:
                raise InputError(
                    f"'{path.name}' was refused: entry '{info.filename}' has an absolute path or '..', which "
                    "could write outside the extraction folder; zip the frames with relative names"
                )
        declared = sum(info.file_size for info in infos)
        if declared > max_unzipped_bytes:
            raise InputError(
                f"'{path.name}' was refused: it would unpack to {declared / 2**20:.0f} MiB, over the "
                f"{max_unzipped_bytes / 2**20:.0f} MiB limit; zip only the frames of the clip"
            )
        members = [
            (rel, info)
            for info in infos
            if not info.is_dir()
            and (rel := _safe_member(info.filename)) is not None
            and rel.suffix.lower() in IMAGE_SUFFIXES
            and not _is_hidden(rel)
        ]
        if not members:
            raise InputError(
                f"'{path.name}' contains no frames: the archive holds no image files ({', '.join(IMAGE_SUFFIXES)})"
            )
        members.sort(key=lambda m: natural_key(m[0].as_posix()))
        with tempfile.TemporaryDirectory(prefix="mer-zip-") as tmp:
            root = Path(tmp)
            budget = max_unzipped_bytes
            for rel, info in members[:max_frames]:
                target = root.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with archive.open(info) as src, open(target, "wb") as dst:
                        budget -= _copy_capped(src, dst, budget)
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as err:
                    raise InputError(
                        f"'{path.name}' could not be unpacked (entry '{info.filename}': {err}); create the zip again"
                    ) from None
                if budget < 0:
                    raise InputError(
                        f"'{path.name}' was refused: it unpacks to more than the "
                        f"{max_unzipped_bytes / 2**20:.0f} MiB limit"
                    )
            clip = _read_folder(root, max_frames, max_side, fps, display=str(path))
        if len(members) > max_frames:
            # _read_folder saw only the extracted frames; say how long the archive's clip really was
            clip.notes.insert(
                0,
                f"the clip has {len(members)} frames; only the first {max_frames} were used: "
                "keep only the frames of interest",
            )
    return clip


def _copy_capped(src, dst, budget: int, chunk: int = 1 << 20) -> int:
    """Copy at most ``budget + 1`` bytes (going over is detected without unpacking a bomb); bytes copied."""
    copied = 0
    while copied <= budget:
        data = src.read(min(chunk, budget + 1 - copied))
        if not data:
            break
        dst.write(data)
        copied += len(data)
    return copied


__all__ = [
    "Clip",
    "read_clip",
    "natural_key",
    "file_numbers",
    "VIDEO_SUFFIXES",
    "IMAGE_SUFFIXES",
    "MAX_FRAMES",
    "MAX_SIDE",
]
