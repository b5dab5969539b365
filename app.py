"""mer browser demo: upload or record a short face clip; see the micro-expression and where the model looked.

Hugging Face Space entry point (`python app.py`). It builds the page and calls `mer.inference`; nothing else.
Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (gradio's defaults: 127.0.0.1:7860).
Environment: MER_CHECKPOINT (a .safetensors to offer and pre-select besides checkpoints/*.safetensors),
MER_EXAMPLES (folder of example clips, default examples/), MER_CONCURRENCY (analyses run at once, default 1).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from mer import demo_plots
from mer.engine.checkpoint import read_card as checkpoint_card
from mer.errors import InputError
from mer.inference import DEFAULT_CHECKPOINT, Predictor
from mer.weights import shipped_checkpoints

log = logging.getLogger("mer.app")

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = Path(os.environ.get("MER_EXAMPLES", ROOT / "examples")).resolve()
CLIP_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".zip")
MAX_FILE_SIZE = "50mb"  # a few seconds of face video; bigger uploads are refused before they reach the model
QUEUE_SIZE = 32  # requests waiting beyond this get "queue full" instead of piling up in memory
CONCURRENCY = int(os.environ.get("MER_CONCURRENCY", "1"))  # one analysis uses all cores of a small Space
OUTPUT_MAX_AGE_S = 15 * 60  # per-request result folders older than this are deleted
# Video only (no microphone prompt), as many frames per second as the camera gives up to 60: micro-expressions
# last a fraction of a second. 640 x 480 is plenty, since clips are read at 640 px on the longer side anyway.
WEBCAM = gr.WebcamOptions(
    constraints={
        "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 60}},
        "audio": False,
    }
)
OUTPUT_ROOT = Path(tempfile.mkdtemp(prefix="mer_demo_"))
atexit.register(shutil.rmtree, OUTPUT_ROOT, ignore_errors=True)

INTRO = """
# Micro-expression recognition

Upload a short video of one face (or record one with your webcam), and the model names the
**micro-expression** it sees: *happiness, disgust, surprise, repression* or *others*.
"""

EXPLANATION = """
**What is a micro-expression?** A very small, very short facial movement — often under half a second and a
few pixels wide — that shows a feeling for an instant, usually when someone is trying to hide it. People
rarely notice them; high-speed cameras (200 frames per second) and careful coding made the research
databases.

**How the model works.** The face is found and aligned, then the frame where the movement starts (**onset**)
and the frame where it is strongest (**apex**) are picked from the *motion curve*. The movement between them
(optical flow) goes into two branches: a **global** one that looks at the whole face, and a **local** one
that looks only at the regions where facial action units (AUs) move — brows and eyes, mouth, chin, cheeks,
nose. A fusion module with attention (CBAM) combines them.

**How to read the pictures.**
- *Probabilities*: how sure the model is of each class; they add up to 100%.
- *Motion curve*: how much the face changes over the clip; the dashed lines mark the onset and apex used.
- *Optical flow*: colour shows the direction of the movement, brightness how much moved.
- *Grad-CAM* (global / local branch): warm colours show the areas that pushed the model toward its answer.
- *CBAM spatial attention*: where the fusion module put its attention.

**Please note.** This is a research demo, not a lie detector. The shipped weights were trained on
*synthetic* micro-expressions made from real photographs, because the real databases are licensed and cannot
be shipped; the answer shows how the method works, not what a person felt.
"""

NO_CHECKPOINT = (
    "No checkpoint found. The demo weights `mer/weights/mer_dbfem_caffm.synth/` are missing: train a model "
    "(`mer train ...`) or set `MER_CHECKPOINT=/path/to/checkpoint` (a folder or a .safetensors), then restart."
)


def available_checkpoints() -> dict[str, Path]:
    """Checkpoint name -> path: the package's shipped weights plus MER_CHECKPOINT (a folder or a .safetensors)."""
    found = shipped_checkpoints()
    extra = os.environ.get("MER_CHECKPOINT")
    if extra:
        path = Path(extra).expanduser().resolve()
        if path.exists():
            found[path.stem if path.is_file() else path.name] = path
        else:
            log.warning("MER_CHECKPOINT=%s does not exist; ignoring it", extra)
    return found


CHECKPOINTS = available_checkpoints()


def default_checkpoint_name() -> str | None:
    """The pre-selected checkpoint: MER_CHECKPOINT, else the shipped demo weights, else the first found."""
    extra = os.environ.get("MER_CHECKPOINT")
    extra_name = (Path(extra).stem if Path(extra).is_file() else Path(extra).name) if extra else None
    for candidate in (extra_name, Path(DEFAULT_CHECKPOINT).name):
        if candidate in CHECKPOINTS:
            return candidate
    return next(iter(CHECKPOINTS), None)


_predictors: dict[Path, Predictor] = {}
_load_lock = threading.Lock()


def get_predictor(name: str | None) -> Predictor:
    """The cached Predictor for a checkpoint name, loaded on first use (it serialises its own calls)."""
    if not CHECKPOINTS:
        raise InputError(NO_CHECKPOINT)
    if name not in CHECKPOINTS:
        raise InputError(f"unknown checkpoint {name!r}; pick one of: {', '.join(CHECKPOINTS)}")
    path = CHECKPOINTS[name]
    with _load_lock:
        if path not in _predictors:
            started = time.perf_counter()
            _predictors[path] = Predictor.from_checkpoint(path)
            log.info("loaded %s in %.1f s", path, time.perf_counter() - started)
    return _predictors[path]


def read_card(name: str | None) -> dict[str, Any]:
    """The model card beside a checkpoint (same stem, .json), or the loaded Predictor's card."""
    if name not in CHECKPOINTS:
        return {}
    path = CHECKPOINTS[name]
    if path in _predictors:
        return dict(_predictors[path].card)
    try:
        return checkpoint_card(path)
    except InputError as err:
        return {"note": f"The model card of {path.name} cannot be used: {err}"}


def provenance(name: str | None) -> str:
    """Markdown for the checkpoint picker: where the chosen weights come from."""
    if not CHECKPOINTS:
        return f"⚠️ {NO_CHECKPOINT}"
    return demo_plots.card_summary(read_card(name))


def example_clips() -> list[list[str]]:
    """One example row per clip in EXAMPLES_DIR, in name order."""
    if not EXAMPLES_DIR.is_dir():
        return []
    return [[str(p)] for p in sorted(EXAMPLES_DIR.iterdir()) if p.suffix.lower() in CLIP_SUFFIXES]


def _request_dir() -> Path:
    """A fresh folder for one request's files; folders older than OUTPUT_MAX_AGE_S are removed on the way."""
    now = time.time()
    for old in OUTPUT_ROOT.iterdir():
        if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=OUTPUT_ROOT))


def analyse(
    video: str | None,
    frames_zip: str | None = None,
    checkpoint: str | None = None,
    onset: float | None = None,
    apex: float | None = None,
    fps: float | None = None,
) -> tuple[str, str, Any, Any, list, list, list[list[Any]], str]:
    """Run the Predictor on one clip and turn the Prediction into the page's outputs.

    Args:
        video: path of an uploaded or recorded video (or any clip file, e.g. from the API).
        frames_zip: path of a zip of frames, used when no video is given.
        checkpoint: checkpoint name from the picker (None: the default).
        onset, apex: optional frame numbers (0-based, into the clip) that override spotting.
        fps: frame rate of a zip of frames (videos carry their own).
    Returns:
        label, summary Markdown, probability figure, motion-curve figure, frames gallery, explanation gallery,
        timings rows [stage, ms], path of the result JSON.
    """
    clip = video or frames_zip
    if not clip:
        raise gr.Error("Upload a video or a zip of frames, record one with the webcam, or pick an example first.")
    checkpoint = checkpoint or default_checkpoint_name()
    try:
        pred = get_predictor(checkpoint)(
            clip,
            onset=None if onset is None else int(onset),
            apex=None if apex is None else int(apex),
            fps=float(fps) if fps else None,
        )
    except InputError as err:
        raise gr.Error(str(err), title="This clip cannot be analysed") from err
    except Exception as err:  # the app must keep serving: log the traceback, tell the user in one line
        log.exception("analysis failed for %s", Path(clip).name)
        raise gr.Error(  # the type only: details (paths, internals) stay in the server log
            f"The analysis failed unexpectedly ({type(err).__name__}). The error was logged; please try another clip.",
            title="Something went wrong",
        ) from err

    frames = np.asarray(pred.frames)
    pictures = [
        (frames[0], "Aligned face (first frame)"),
        (frames[pred.onset], f"Onset frame ({pred.onset})"),
        (frames[pred.apex], f"Apex frame ({pred.apex})"),
        (pred.flow_rgb, "Optical flow onset → apex (colour: direction, brightness: amount)"),
        (
            demo_plots.tint_regions(frames[pred.apex], pred.model_input[-1]),
            "AU regions the local branch reads",
        ),
    ]
    explanations = [(image, caption) for caption, image in pred.overlays.items()]
    timings = [[stage, round(seconds * 1000.0, 1)] for stage, seconds in pred.timings.items()]
    folder = _request_dir()

    result = pred.to_json()
    # names, not the server's paths (uploads sit in gradio's cache; the checkpoint in the Space)
    result["source"] = Path(clip).name
    result["checkpoint"]["path"] = Path(result["checkpoint"]["path"] or "").name or None
    out = folder / f"mer_result_{pred.label}.json"
    out.write_text(json.dumps(result, indent=2, default=_json_default))

    summary = [
        f"**{pred.label}** with probability {pred.probabilities[pred.label]:.0%}; onset frame {pred.onset}, "
        f"apex frame {pred.apex} at {pred.fps:g} fps.",
        demo_plots.card_summary(pred.card),
    ]
    notes = ([pred.spotting_note] if pred.spotting_note else []) + list(pred.notes)
    if notes:
        summary.append("**Notes:** " + "; ".join(notes) + ".")
    return (
        pred.label,
        "\n\n".join(summary),
        demo_plots.probability_chart(pred.probabilities, pred.label),
        demo_plots.motion_curve_chart(pred.motion_curve, pred.onset, pred.apex, pred.fps),
        _saved(pictures, folder, "picture"),
        _saved(explanations, folder, "explanation"),
        timings,
        str(out),
    )


def _saved(images: list[tuple[np.ndarray, str]], folder: Path, stem: str) -> list[tuple[str, str]]:
    """Write (image, caption) pairs as WebP files (gradio's format for galleries); (path, caption) for a Gallery.

    Galleries given arrays have gradio write each image to a cache path named by its content, in place: when
    two requests show the same picture (the same clip twice), one request rewrites the file while the other's
    visitor downloads it, who then gets a truncated image. Files are copied into the cache atomically instead.
    """
    saved = []
    for i, (image, caption) in enumerate(images):
        path = folder / f"{stem}_{i}.webp"
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(path)
        saved.append((str(path), caption))
    return saved


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays -> plain JSON."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def build_demo() -> gr.Blocks:
    """The page: inputs on the left, results on the right, one `predict` event."""
    default = default_checkpoint_name()
    # no analytics: the demo must run offline, and visitors are not tracked
    with gr.Blocks(
        title="mer: micro-expression recognition", delete_cache=(600, 1800), analytics_enabled=False
    ) as demo:
        gr.Markdown(INTRO)
        with gr.Accordion("What is a micro-expression, and how to read the results", open=False):
            gr.Markdown(EXPLANATION)
        with gr.Row():
            with gr.Column(scale=2):
                with gr.Tabs():
                    with gr.Tab("Video"):
                        video = gr.Video(
                            sources=["upload", "webcam"],
                            label="Face clip: upload a video or record 2–3 s with your webcam",
                            webcam_options=WEBCAM,
                            elem_id="mer-video",
                        )
                    with gr.Tab("Zip of frames"):
                        frames_zip = gr.File(
                            label="Zip of image frames (in name order)",
                            file_types=[".zip"],
                            elem_id="mer-zip",
                        )
                        fps = gr.Number(label="Frame rate of the frames (fps)", value=None, minimum=1, maximum=1000)
                with gr.Accordion("Options", open=False):
                    checkpoint = gr.Dropdown(
                        choices=list(CHECKPOINTS), value=default, label="Checkpoint", elem_id="mer-checkpoint"
                    )
                    with gr.Row():
                        onset = gr.Number(label="Onset frame (empty: detect)", value=None, precision=0, minimum=0)
                        apex = gr.Number(label="Apex frame (empty: detect)", value=None, precision=0, minimum=0)
                run = gr.Button("Analyse the clip", variant="primary", elem_id="mer-run")
                examples = example_clips()
                gr.Examples(
                    examples=examples or None,
                    inputs=[video],
                    # "synthetic_happiness.webm" -> "synthetic happiness": what the clip was made to show
                    example_labels=[Path(row[0]).stem.replace("_", " ") for row in examples] or None,
                    label="Example clips (synthetic micro-expressions on real faces)",
                    elem_id="mer-examples",
                )
            with gr.Column(scale=3):
                label = gr.Textbox(label="Predicted micro-expression", interactive=False, elem_id="mer-label")
                card = gr.Markdown(provenance(default), label="About this result", elem_id="mer-card")
                with gr.Row():
                    probabilities = gr.Plot(label="Class probabilities", elem_id="mer-probabilities")
                    curve = gr.Plot(label="Motion curve", elem_id="mer-curve")
        # full width: the pictures are the point of the demo
        pictures = gr.Gallery(
            label="Aligned face, onset and apex frames, motion between them, AU regions",
            columns=5,
            height=300,
            object_fit="contain",
            elem_id="mer-frames",
        )
        explanations = gr.Gallery(
            label="Where the model looked: Grad-CAM of each branch, CBAM spatial attention of the fusion",
            columns=5,
            height=600,
            object_fit="contain",
            elem_id="mer-explain",
        )
        with gr.Row():
            timings = gr.Dataframe(
                headers=["stage", "ms"],
                label="Stage timings (milliseconds)",
                interactive=False,
                elem_id="mer-timings",
            )
            result_json = gr.File(label="Result as JSON", interactive=False, elem_id="mer-json")
        checkpoint.change(provenance, inputs=checkpoint, outputs=card, api_name="checkpoint_card")
        run.click(
            analyse,
            inputs=[video, frames_zip, checkpoint, onset, apex, fps],
            outputs=[label, card, probabilities, curve, pictures, explanations, timings, result_json],
            api_name="predict",
            concurrency_limit=CONCURRENCY,
        )
    return demo


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
if default_checkpoint_name():  # load the model once at start, not on the first visitor's click
    try:
        get_predictor(default_checkpoint_name())
    except Exception:  # a broken checkpoint must not stop the page from explaining what is wrong
        log.exception("could not load the default checkpoint %s", default_checkpoint_name())
demo = build_demo()

if __name__ == "__main__":
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY).launch(
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(EXAMPLES_DIR)],
        theme=gr.themes.Soft(primary_hue="orange"),
        ssr_mode=False,
    )
