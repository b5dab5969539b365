"""Reading a clip as a stream: a video file, a folder of frames or a zip of frames -> RGB frames with their times.

:func:`open_source` checks the path and gives a :class:`FrameSource`, whose :meth:`FrameSource.frames` yields
``(seconds, frame)`` one at a time, so a clip of any length is read in constant memory. Videos are decoded by
FFmpeg through PyAV: the container's rotation (a phone's portrait clip) is applied, each frame is timed by its own
timestamp (variable frame rate), audio is ignored, and 10-bit or HEVC/VP9/AV1 frames come out as 8-bit RGB. Frames
larger than ``max_side`` are downscaled (the notes say so). :func:`read_clip` collects a whole clip into a
:class:`Clip` (for short clips and tests).

Every failure is an :class:`mer.errors.InputError` whose message a non-programmer can act on. Zip archives are
read member by member in memory; entries with absolute paths or ``..`` are refused, and the total uncompressed size
(MAX_UNZIPPED_BYTES) and the number of entries (MAX_ZIP_ENTRIES) are capped (zip bombs): these are the only caps
left on a clip's length, and their messages say so.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from mer.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v")
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
    """A clip held in memory (short clips, tests; long ones are streamed with :func:`open_source`).

    frames: RGB uint8 arrays (H, W, 3), all the same size.
    fps: frames per second (from the container, the caller, or ``DEFAULT_FPS`` with a note).
    source: where the frames came from (a path, for messages and provenance).
    notes: what was changed or assumed on the way (downscaled, limited, fps assumed, truncated file).
    numbers: for a folder or zip of numbered frames (CASME II's img46.jpg, img47.jpg, ...), the number in each
        frame's file name, in clip order (the coding sheets count frames this way); None for videos, or when the
        names are not all numbered differently.
    times: (N,) seconds of each frame from the first (a video's own timestamps); None: frame i is at i / fps.
    """

    frames: list[np.ndarray]
    fps: float
    source: str
    notes: list[str] = field(default_factory=list)
    numbers: list[int] | None = None
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def timed(self) -> Iterator[tuple[float, np.ndarray]]:
        """(seconds, frame) of every frame, as :meth:`FrameSource.frames` gives them."""
        for i, frame in enumerate(self.frames):
            yield (float(self.times[i]) if self.times is not None else i / self.fps), frame


@dataclass
class FrameSource:
    """A clip to stream: :meth:`frames` yields (seconds from the first frame, (H, W, 3) uint8 RGB) in order.

    fps: the nominal frame rate (a video's average rate; a variable-rate video's frames keep their own times).
    expected: how many frames the container declares (for progress), None when unknown. notes: filled in as the
    frames are read (downscaled, truncated, ...): complete once :meth:`frames` is exhausted. numbers: as
    :attr:`Clip.numbers`. Each call of :meth:`frames` reads the clip again from its start.
    """

    source: str
    fps: float
    expected: int | None
    notes: list[str]
    reader: Callable[[FrameSource], Iterator[tuple[float, np.ndarray]]]
    numbers: list[int] | None = None

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        return self.reader(self)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


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


def _check_fps(fps: float | None) -> None:
    if fps is not None and not (0 < fps <= 10_000):
        raise InputError(f"the frame rate must be a positive number of frames per second (got {fps})")


def open_source(
    path: str | os.PathLike,
    max_side: int = MAX_SIDE,
    fps: float | None = None,
    max_frames: int | None = None,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> FrameSource:
    """Check a clip's path and give it as a stream of frames (nothing is decoded yet, except a video's header).

    Args:
        path: a video (.mp4, .mov, .webm, .mkv, .avi, .m4v), a folder of images, or a .zip of images. Frames of a
            folder or zip are sorted naturally by their path (img2 before img10); sub-folders are included.
        max_side: frames whose longer side exceeds this many pixels are downscaled (aspect kept).
        fps: frame rate to use; overrides the container's (frame i is then at i / fps). Folders and zips default to
            ``DEFAULT_FPS`` with a note.
        max_frames: stop after this many frames (a note says so when the clip was longer); None: the whole clip.
        max_unzipped_bytes: a zip whose entries declare more uncompressed bytes than this is refused.

    Raises:
        InputError: missing path, unsupported type, not a video, damaged file, empty folder, unsafe or oversized zip.
    """
    _check_fps(fps)
    if max_frames is not None and max_frames < 2:
        raise InputError(f"max_frames must be at least 2 (got {max_frames})")
    p = Path(path)
    if not p.exists():
        raise InputError(f"'{p}' does not exist; give the path of {SUPPORTED}")
    if p.is_dir():
        source = _folder_source(p, max_side, fps)
    else:
        suffix = p.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            source = _video_source(p, max_side, fps)
        elif suffix in ZIP_SUFFIXES:
            source = _zip_source(p, max_side, fps, max_unzipped_bytes)
        elif suffix in IMAGE_SUFFIXES:
            raise InputError(f"'{p.name}' is a single image, and a clip needs at least two frames; give {SUPPORTED}")
        else:
            kind = f"'{suffix}'" if suffix else "without an extension"
            raise InputError(f"'{p.name}': unsupported file type {kind}; give {SUPPORTED}")
    if max_frames is not None:
        source.reader = _limited(source.reader, max_frames, source.expected)
        source.expected = min(source.expected, max_frames) if source.expected else max_frames
    return source


def _limited(reader, max_frames: int, total: int | None):
    def read(source: FrameSource) -> Iterator[tuple[float, np.ndarray]]:
        frames = reader(source)
        for count, item in enumerate(frames):
            if count == max_frames:
                length = f"has {total} frames" if total else f"is longer than {max_frames} frames"
                source.note(
                    f"the clip {length}; only the first {max_frames} frames ({item[0]:.2f} s) were used, as "
                    "asked (--max-frames)"
                )
                frames.close()
                return
            yield item

    return read


def read_clip(
    path: str | os.PathLike,
    max_frames: int | None = None,
    max_side: int = MAX_SIDE,
    fps: float | None = None,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> Clip:
    """Read a whole clip into memory (see :func:`open_source` for the arguments); a :class:`Clip` with at least two
    frames. Long videos are better streamed (:func:`open_source`, :func:`mer.spotting.spot.spot`)."""
    source = open_source(path, max_side, fps, max_frames, max_unzipped_bytes)
    times, frames = [], []
    for t, frame in source.frames():
        times.append(t)
        frames.append(frame)
    check_length(len(frames), Path(path).name)
    return Clip(frames, source.fps, source.source, list(source.notes), source.numbers, np.asarray(times))


def prefetched(frames: Iterator, size: int = 16) -> Iterator:
    """The items of `frames`, decoded ahead in a thread (at most `size` waiting): decoding (FFmpeg, which lets go
    of Python's lock) runs beside the analysis on another core. Errors reach the consumer where they happened; a
    consumer that stops early stops the thread."""
    import queue
    import threading

    waiting: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        waiting.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            waiting.put(("end", done))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            waiting.put(("error", err))
        finally:
            close = getattr(frames, "close", None)
            if close is not None and stop.is_set():
                close()

    thread = threading.Thread(target=produce, name="mer-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = waiting.get()
            if kind == "item":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        while thread.is_alive():  # let a producer blocked on a full queue see the stop
            try:
                waiting.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def check_length(count: int, name: str) -> None:
    """InputError when a clip has fewer than two frames."""
    if count < 2:
        raise InputError(
            f"'{name}' has {count} frame(s); a micro-expression needs at least two "
            "(an onset and an apex): give a longer clip"
        )


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


def _video_rate(stream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and 1.0 <= float(rate) <= 10_000:
            return float(rate)
    return None


def _open_container(path: Path):
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise InputError(_undecodable(path)) from None
    if not container.streams.video:
        container.close()
        raise InputError(_undecodable(path))
    return container


def _video_source(path: Path, max_side: int, fps: float | None) -> FrameSource:
    if path.stat().st_size == 0:
        raise InputError(f"'{path.name}' is an empty file (0 bytes); record or export the clip again")
    notes: list[str] = []
    with _open_container(path) as container:
        stream = container.streams.video[0]
        rate = _video_rate(stream)
        declared = int(stream.frames or 0) or None
        if declared is None and stream.duration and rate:
            declared = int(round(float(stream.duration * stream.time_base) * rate))
    if fps is None:
        if rate is None:
            notes.append(f"the video does not give its frame rate; assumed {DEFAULT_FPS:g} fps (set it with --fps)")
        fps_used, timed = rate or DEFAULT_FPS, rate is not None
    else:
        fps_used, timed = float(fps), False  # the caller's rate: frame i at i / fps

    def read(source: FrameSource) -> Iterator[tuple[float, np.ndarray]]:
        yield from _decode(path, max_side, source, timed, declared)

    return FrameSource(str(path), float(fps_used), declared, notes, read)


def _display_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _decode(path: Path, max_side: int, source: FrameSource, timed: bool, declared: int | None):
    """(seconds, RGB) of every frame of a video file: rotation applied, downscaled, timed by its timestamps."""
    import av

    count = 0
    with _open_container(path) as container:
        container.streams.video[0].thread_type = "AUTO"  # frame and slice threads: decoding keeps up with the analysis
        try:
            for item in _decoded(container, max_side, source, timed, rotate=True):
                yield item
                count += 1
        except av.FFmpegError:
            if count == 0:
                raise InputError(_undecodable(path)) from None
            source.note(f"the video seems truncated or damaged: only {count} frames could be read")
    if count == 0:
        raise InputError(_undecodable(path))
    if declared is not None and count < declared - 1:
        # the container promised more frames than could be decoded: the end of the file is missing or damaged
        source.note(f"the video seems truncated or damaged: only {count} of {declared} frames could be read")


def _decoded(container, max_side: int, source: FrameSource, timed: bool, rotate: bool):
    """(seconds, RGB) of every frame of an open container's first video stream: turned upright by its rotation
    (when `rotate`), downscaled to `max_side`, timed by its timestamps from the first frame (else i / fps). FFmpeg's
    errors reach the caller, which knows what to say of them."""
    count, first = 0, None
    for frame in container.decode(container.streams.video[0]):
        turns = int(round(getattr(frame, "rotation", 0) / 90)) % 4 if rotate else 0  # counter-clockwise quarter turns
        coded = (frame.width, frame.height)
        shown = coded if turns % 2 == 0 else coded[::-1]
        width, height = _display_size(*shown, max_side)
        size = (width, height) if turns % 2 == 0 else (height, width)
        rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA").to_ndarray()
        if turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, turns))
        if count == 0 and (width, height) != shown:
            source.note(f"frames were downscaled from {shown[0]}x{shown[1]} to {width}x{height} pixels")
        if count == 0 and turns:
            source.note(f"the video is stored turned by {turns * 90} degrees; it was turned upright")
        when = frame.time if timed else None
        if when is not None and first is None:
            first = when
        yield ((when - first) if when is not None else count / source.fps), rgb
        count += 1


def _undecodable(path: Path) -> str:
    if _looks_like_video(path):
        return (
            f"'{path.name}' could not be read: the video file is damaged or truncated (no frame could be "
            "decoded); export or download it again"
        )
    return (
        f"'{path.name}' is not a video (its content is not a video format FFmpeg can read, whatever its "
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


def _decode_image(data: bytes, name: str, display: str) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if bgr is None:
        raise InputError(f"frame '{name}' in '{display}' could not be read: the image is damaged or not an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _image_frames(items, max_side: int, source: FrameSource, display: str):
    """(seconds, RGB) of images given as (name, read bytes) pairs; odd-sized ones resized to the first's size."""
    import cv2

    resizer, first_shape, odd = _Resizer(max_side), None, 0
    for i, (name, read) in enumerate(items):
        rgb = resizer(_decode_image(read(), name, display))
        if first_shape is None:
            first_shape = rgb.shape
            for note in resizer.notes():
                source.note(note)
        elif rgb.shape != first_shape:
            odd += 1
            rgb = cv2.resize(rgb, (first_shape[1], first_shape[0]), interpolation=cv2.INTER_AREA)
        yield i / source.fps, rgb
    if odd:
        source.note(f"{odd} frame(s) differed in size from the first and were resized to match it")


def _fps_of_frames(fps: float | None, notes: list[str]) -> float:
    if fps is not None:
        return float(fps)
    notes.append(
        f"a folder or zip of frames has no frame rate; assumed {DEFAULT_FPS:g} fps (set it with --fps; CASME II is 200)"
    )
    return DEFAULT_FPS


def _folder_source(root: Path, max_side: int, fps: float | None) -> FrameSource:
    images = _list_images(root)
    if not images:
        raise InputError(
            f"'{root}' contains no frames: it holds no image files ({', '.join(IMAGE_SUFFIXES)}); "
            "put the clip's frames in it, named in order (img1.jpg, img2.jpg, ...)"
        )
    notes: list[str] = []
    rate = _fps_of_frames(fps, notes)
    names = [p.relative_to(root).as_posix() for p in images]

    def read(source: FrameSource) -> Iterator[tuple[float, np.ndarray]]:
        yield from _image_frames(
            ((name, path.read_bytes) for name, path in zip(names, images, strict=True)), max_side, source, str(root)
        )

    return FrameSource(str(root), rate, len(images), notes, read, file_numbers(names))


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


def _zip_members(path: Path, max_unzipped_bytes: int) -> list[tuple[PurePosixPath, zipfile.ZipInfo]]:
    """The image entries of a zip, checked (safe names, declared size, entry count), in natural order."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"'{path.name}' is not a valid zip archive ({err}); create the zip again") from None
    with archive:
        infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise InputError(
            f"'{path.name}' holds {len(infos)} entries, over the limit of {MAX_ZIP_ENTRIES} for a zip of frames; "
            "zip fewer frames, or give the clip as a video file (videos have no length limit)"
        )
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
            f"{max_unzipped_bytes / 2**20:.0f} MiB limit for a zip of frames; zip only the frames of the clip, "
            "or give it as a video file (videos have no length limit)"
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
    return sorted(members, key=lambda m: natural_key(m[0].as_posix()))


def _zip_source(path: Path, max_side: int, fps: float | None, max_unzipped_bytes: int) -> FrameSource:
    members = _zip_members(path, max_unzipped_bytes)
    notes: list[str] = []
    rate = _fps_of_frames(fps, notes)
    names = [rel.as_posix() for rel, _ in members]

    def read(source: FrameSource) -> Iterator[tuple[float, np.ndarray]]:
        import io

        budget = [max_unzipped_bytes]  # what the entries really unpack to, whatever they declare
        with zipfile.ZipFile(path) as archive:

            def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
                def read_bytes() -> bytes:
                    out = io.BytesIO()
                    try:
                        with archive.open(info) as src:
                            budget[0] -= _copy_capped(src, out, budget[0])
                    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as err:
                        raise InputError(
                            f"'{path.name}' could not be unpacked (entry '{info.filename}': {err}); "
                            "create the zip again"
                        ) from None
                    if budget[0] < 0:
                        raise InputError(
                            f"'{path.name}' was refused: it unpacks to more than the "
                            f"{max_unzipped_bytes / 2**20:.0f} MiB limit for a zip of frames"
                        )
                    return out.getvalue()

                return read_bytes

            items = ((name, reader(info)) for name, (_, info) in zip(names, members, strict=True))
            yield from _image_frames(items, max_side, source, str(path))

    return FrameSource(str(path), rate, len(members), notes, read, file_numbers(names))


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


# ------------------------------------------------------------------------------------------------------ pipes

PIPE_PROBE_BYTES = 65536  # FFmpeg guesses a pipe's format from its first bytes: a little, so a live stream starts soon


class _Pipe:
    """A pipe's file descriptor as the file object PyAV reads: each read returns what has arrived (at least one
    byte, or b"" at its end), so frames reach the analysis as they come, not once a buffer is full."""

    def __init__(self, fd: int) -> None:
        self.fd, self.count = fd, 0

    def read(self, size: int = -1) -> bytes:
        data = os.read(self.fd, size if size > 0 else 1 << 16)
        self.count += len(data)
        return data


def open_pipe(fd: int = 0, max_side: int = MAX_SIDE, fps: float | None = None) -> FrameSource:
    """A video arriving on a pipe (standard input by default: ``ffmpeg -i CLIP -f matroska -``, ``-f mpegts -`` or
    ``-f yuv4mpegpipe -``) as a stream of frames, read once, as it arrives. Frames are timed by their timestamps
    from the first one (or i / fps when `fps` is given) and downscaled to `max_side` as in :func:`open_source`; a
    container's rotation is not applied. The container's header is read now.

    Raises:
        InputError: nothing arrived, or what arrived is not a video FFmpeg can read.
    """
    import av

    _check_fps(fps)
    pipe = _Pipe(fd)
    example = "pipe a video into it, e.g. ffmpeg -i CLIP -f matroska - | mer predict --stream -"
    try:
        container = av.open(pipe, mode="r", options={"probesize": str(PIPE_PROBE_BYTES)})
    except (av.FFmpegError, OSError, ValueError):
        if pipe.count == 0:
            raise InputError(f"nothing arrived on the standard input; {example}") from None
        raise InputError(f"what arrived on the standard input is not a video FFmpeg can read; {example}") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"the standard input holds no video stream; {example}")
    rate = _video_rate(container.streams.video[0])
    notes = [] if rate or fps else [f"the stream does not give its frame rate; assumed {DEFAULT_FPS:g} fps"]

    def read(source: FrameSource) -> Iterator[tuple[float, np.ndarray]]:
        yield from _pipe_frames(container, max_side, source, fps is None)

    return FrameSource("standard input", float(fps or rate or DEFAULT_FPS), None, notes, read)


def _pipe_frames(container, max_side: int, source: FrameSource, timed: bool) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, RGB) of every frame of an open container, downscaled, timed from the first frame; closes it."""
    import av

    count = 0
    with container:
        try:
            for item in _decoded(container, max_side, source, timed, rotate=False):
                yield item
                count += 1
        except av.FFmpegError:
            if count == 0:
                raise InputError("no frame could be decoded from the standard input; send a video") from None
            source.note(f"the stream ended damaged: {count} frames could be read")


__all__ = [
    "Clip",
    "FrameSource",
    "open_source",
    "open_pipe",
    "read_clip",
    "prefetched",
    "check_length",
    "natural_key",
    "file_numbers",
    "write_video",
    "VIDEO_SUFFIXES",
    "IMAGE_SUFFIXES",
    "ZIP_SUFFIXES",
    "MAX_SIDE",
]
