"""mer browser demo: upload or record a short face clip; see its micro-expressions and where the model looked.

Hugging Face Space entry point (`python app.py`). It builds the page and calls `mer.demo`; nothing else.
Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (gradio's defaults: 127.0.0.1:7860).
Environment: MER_CHECKPOINT (a checkpoint folder or .safetensors to offer and pre-select besides the shipped one),
MER_EXAMPLES (folder of example clips, default examples/), MER_CONCURRENCY (analyses run at once, default 1),
SPACE_ID (set by Hugging Face: the examples' answers are then cached).

API (gradio_client), each answering (label, summary, result JSON, result file); the summary and the JSON say
which frame rate was used and why:
    /predict(clip, checkpoint=None, onset=None, apex=None, fps=None)   a video, or a zip of frames with fps
    /predict_video(video, checkpoint=None, onset=None, apex=None, fps=None)   fps overrides the file's own
    /predict_frames(frames_zip, fps, checkpoint=None, onset=None, apex=None)   fps is required
onset/apex: frame numbers counted from 0, both or neither (neither: detected). checkpoint: a name from
/checkpoint_card's picker (None: the default).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from mer import demo
from mer.errors import InputError

log = logging.getLogger("mer.app")

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = Path(os.environ.get("MER_EXAMPLES", ROOT / "examples")).resolve()
MAX_FILE_SIZE = "50mb"  # a few seconds of face video; bigger uploads are refused before they reach the model
QUEUE_SIZE = 32  # requests waiting beyond this get "queue full" instead of piling up in memory
CONCURRENCY = int(os.environ.get("MER_CONCURRENCY", "1"))  # one analysis uses all cores of a small Space
ON_SPACE = bool(os.environ.get("SPACE_ID"))  # Hugging Face sets it: cache the examples' answers there only
# Video only (no microphone prompt), as many frames per second as the camera gives up to 60: micro-expressions
# last a fraction of a second. 640 x 480 is plenty, since clips are read at 640 px on the longer side anyway.
WEBCAM = gr.WebcamOptions(
    constraints={
        "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 60}},
        "audio": False,
    }
)
# Five pictures a row even when there are two (gradio's grid would stretch two over the whole width); on a
# phone (one column) two a row, big enough to see and to caption.
CSS = """
#mer-frames .grid-container { grid-template-columns: repeat(5, minmax(0, 1fr)) !important; }
@media (max-width: 640px) {
  #mer-frames .grid-container, #mer-maps-fusion .grid-container { grid-template-columns: repeat(2, 1fr) !important; }
  #mer-frames .grid-wrap { height: auto !important; }
}
"""
SHELF = demo.ModelShelf.from_env()  # finds the checkpoints; loads a model on first use
FOLDERS = demo.OutputFolders(max_age_s=15 * 60)  # per-request result folders, made on first use

INTRO = """
# Micro-expression recognition

Upload a short video of one face (or record one with your webcam, or click an example), press **Analyse**, and
the model marks every facial movement on a timeline and names each **micro-expression** it finds:
*happiness, disgust, surprise, repression* or *others*.
"""

EXPLANATION = """
**What is a micro-expression?** A very small, very short facial movement (under half a second, a few pixels)
that shows a feeling for an instant, usually when someone is trying to hide it. People rarely notice them; the
research databases were filmed with high-speed cameras (200 frames per second). Longer, larger movements are
*ordinary (macro) expressions*: smiles, talking, blinks.

**How the model works.** The face is found and aligned; the *motion curve* says how much the face moves over
the clip, and each movement gets an **onset** (start), **apex** (strongest) and offset (end). Short, small ones
are micro-expressions. For the micro-expression the answer is about, the movement between onset and apex
(optical flow) goes into two branches: a **global** one that looks at the whole face, and a **local** one that
looks only at the regions where facial action units (AUs) move. A fusion module with attention (CBAM) combines
them.

**How to read the pictures.** *Probabilities*: how sure the model is of each class (they add up to 100%).
*Timeline*: the motion curve; shaded bands are the movements found, orange for micro-expressions, grey for
ordinary ones. *Movement*: colour is the direction, brightness the amount. *Grad-CAM* and *attention*: warm
colours (the scale is under each picture) mark what counted.

**Please note.** This is a research demo, not a lie detector. The shipped weights were trained on *synthetic*
micro-expressions made from real photographs, because the real databases are licensed and cannot be shipped;
the answer shows how the method works, not what a person felt.
"""


# ----------------------------------------------------------------------------------------------- handlers


def _outputs(answer: demo.Answer) -> tuple:
    """An Answer in the order of the page's answer components (see _answer_area)."""
    maps = answer.maps
    return (
        answer.headline,
        answer.label,
        answer.probabilities,
        answer.timeline,
        answer.pictures,
        maps.get("global", []),
        maps.get("local", []),
        maps.get("fusion", []),
        answer.maps_note,
        answer.timings or None,
        answer.json_path,
    )


def analyse_video(video: str | None, originals: dict, checkpoint: str | None, onset: str, apex: str) -> tuple:
    """The Video tab's Analyse: the clip shown (its original, when the preview is a converted copy)."""
    clip = originals.get(Path(video).name, video) if video else None
    return _outputs(
        demo.analyse_for_page(SHELF, FOLDERS, clip, frames=False, checkpoint=checkpoint, onset=onset, apex=apex)
    )


def analyse_frames(frames_zip: str | None, fps: str | None, checkpoint: str | None, onset: str, apex: str) -> tuple:
    """The Zip tab's Analyse: the frames shown, at the frame rate chosen beside them."""
    return _outputs(
        demo.analyse_for_page(
            SHELF, FOLDERS, frames_zip, frames=True, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps
        )
    )


def analyse_example(video: str) -> tuple:
    """An example clicked: its answer with the default checkpoint and detected onset/apex, which the options show."""
    answer = demo.analyse_for_page(SHELF, FOLDERS, video, frames=False)
    return (*_outputs(answer), SHELF.default, "", "", {}, "")


def new_video(video: str | None) -> tuple:
    """A clip uploaded or recorded: clear the old answer; give the browser a playable copy when it needs one."""
    if not video:
        return None, {}, "", *_outputs(demo.message("No clip yet", "Upload a video, record one, or pick an example."))
    preview, note = demo.browser_preview(video, FOLDERS.new())
    originals = {Path(preview).name: video} if preview else {}
    ready = demo.message("Ready", f"Press **Analyse the video** for **{Path(video).name}**.")
    return preview or video, originals, note, *_outputs(ready)


def new_frames(frames_zip: str | None) -> tuple:
    """A zip uploaded or removed: clear the old answer and say what to do next."""
    if not frames_zip:
        return _outputs(demo.message("No frames yet", "Upload a zip of frames and choose their frame rate."))
    return _outputs(demo.message("Ready", f"Press **Analyse the frames** for **{Path(frames_zip).name}**."))


def being_analysed(video: str | None) -> tuple:
    """An example clicked: say which clip is being analysed, so no older answer stands beside it meanwhile."""
    return _outputs(demo.message("Analysing…", f"**{Path(video).name}**" if video else ""))


def cleared(_value: Any = None) -> tuple:
    """An option or the frames changed: the old answer no longer belongs to what is shown."""
    return _outputs(demo.message("Options changed", "Press **Analyse** to see the answer for what is shown now."))


def _api(clip: str | None, frames: bool, **kwargs: Any) -> tuple[str, str, dict, str]:
    try:
        answer = demo.analyse(SHELF, FOLDERS, clip, frames=frames, **kwargs)
    except InputError as err:
        raise gr.Error(demo.without_flags(str(err)), title="This clip cannot be analysed") from err
    except Exception as err:  # the type only: details (paths, internals) stay in the server log
        log.exception("analysis failed for %s", Path(clip or "").name)
        raise gr.Error(f"The analysis failed unexpectedly ({type(err).__name__}); it was logged.") from err
    result = answer.result or {}
    return result.get("label") or "", answer.summary, result, answer.json_path or ""


def api_predict(clip, checkpoint=None, onset=None, apex=None, fps=None) -> tuple[str, str, dict, str]:
    """A video, or a zip of frames (then fps is required). Returns label ("" when none), summary, JSON, file."""
    is_zip = bool(clip) and Path(clip).suffix.lower() == ".zip"
    return _api(clip, is_zip, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps)


def api_predict_video(video, checkpoint=None, onset=None, apex=None, fps=None) -> tuple[str, str, dict, str]:
    """A video; its own frame rate is used unless fps is given."""
    return _api(video, False, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps)


def api_predict_frames(frames_zip, fps, checkpoint=None, onset=None, apex=None) -> tuple[str, str, dict, str]:
    """A zip of frames (in name order) at fps frames per second (required: CASME II/SAMM 200, SMIC 100)."""
    return _api(frames_zip, True, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps)


# ------------------------------------------------------------------------------------------------- layout


def _video_inputs() -> dict[str, Any]:
    video = gr.Video(
        sources=["upload", "webcam"],
        label="Face clip: upload a video or record 2–3 s with your webcam",
        webcam_options=WEBCAM,
        elem_id="mer-video",
    )
    preview_note = gr.Markdown(elem_id="mer-preview-note")
    run = gr.Button("Analyse the video", variant="primary", elem_id="mer-run")
    return {"video": video, "preview_note": preview_note, "run": run}


def _frames_inputs() -> dict[str, Any]:
    frames_zip = gr.File(label="Zip of image frames (in name order)", file_types=[".zip"], elem_id="mer-zip")
    fps = gr.Dropdown(
        choices=list(demo.FPS_CHOICES),
        value=None,
        allow_custom_value=True,  # another rate can be typed; parsed by mer.demo.frame_rate
        label="Frame rate of the frames (needed: a zip does not say it)",
        info="Pick one, or type the number of frames per second.",
        elem_id="mer-fps",
    )
    run = gr.Button("Analyse the frames", variant="primary", elem_id="mer-run-frames")
    return {"frames_zip": frames_zip, "fps": fps, "run": run}


def _options() -> dict[str, Any]:
    with gr.Accordion("Options", open=False, elem_id="mer-options"):
        checkpoint = gr.Dropdown(choices=SHELF.names, value=SHELF.default, label="Checkpoint", elem_id="mer-checkpoint")
        # Textboxes, not gr.Number: an empty field must stay empty (gr.Number shows 0) and mean "detect"
        with gr.Row():
            onset = gr.Textbox(label="Onset frame", placeholder="empty: detect", max_lines=1, elem_id="mer-onset")
            apex = gr.Textbox(label="Apex frame", placeholder="empty: detect", max_lines=1, elem_id="mer-apex")
        gr.Markdown("Frame numbers count from 0. Give both to skip detection, or leave both empty.")
    return {"checkpoint": checkpoint, "onset": onset, "apex": apex}


def _answer_area() -> list[Any]:
    """The answer components, in the order of _outputs."""
    headline = gr.Markdown(
        "### No answer yet\n\nPick an example, or upload a clip and press **Analyse**.", elem_id="mer-answer"
    )
    label = gr.Textbox(label="Micro-expression", interactive=False, elem_id="mer-label")
    probabilities = gr.Plot(label="Class probabilities", elem_id="mer-probabilities")
    timeline = gr.Plot(label="Timeline: the motion curve and the events found", elem_id="mer-curve")
    return [headline, label, probabilities, timeline]


def _pictures_area() -> list[Any]:
    gallery = dict(object_fit="contain", height="auto", allow_preview=True)
    # a fixed height: gradio's grid stretches two pictures to full width otherwise
    pictures = gr.Gallery(
        label="The clip: aligned face, onset and apex, movement, AU regions",
        columns=5,
        elem_id="mer-frames",
        **dict(gallery, height=340),
    )
    maps = []
    with gr.Row(equal_height=False):
        for group, name in (("global", "Global branch"), ("local", "Local branch"), ("fusion", "Fusion")):
            with gr.Column(min_width=280):
                gr.Markdown(demo.MAP_GROUPS[group])
                maps.append(
                    gr.Gallery(
                        label=name, columns=2 if group != "fusion" else 3, elem_id=f"mer-maps-{group}", **gallery
                    )
                )
    maps_note = gr.Markdown(elem_id="mer-maps-note")
    with gr.Row():
        timings = gr.Dataframe(
            headers=["stage", "ms"], label="Stage timings (milliseconds)", interactive=False, elem_id="mer-timings"
        )
        result_json = gr.File(label="Result as JSON", interactive=False, elem_id="mer-json")
    return [pictures, *maps, maps_note, timings, result_json]


def _api_endpoints(outputs_hidden: list[Any]) -> None:
    """The API, on hidden components: each endpoint raises a plain error (the page shows messages instead)."""
    with gr.Column(visible=False):
        clip = gr.File(label="clip")
        checkpoint = gr.Textbox(label="checkpoint", value=None)
        onset = gr.Number(label="onset", value=None)
        apex = gr.Number(label="apex", value=None)
        fps = gr.Number(label="fps", value=None)
        trigger = gr.Button()
    common = dict(outputs=outputs_hidden, concurrency_limit=CONCURRENCY, concurrency_id="analysis")
    trigger.click(api_predict, [clip, checkpoint, onset, apex, fps], api_name="predict", **common)
    trigger.click(api_predict_video, [clip, checkpoint, onset, apex, fps], api_name="predict_video", **common)
    trigger.click(api_predict_frames, [clip, fps, checkpoint, onset, apex], api_name="predict_frames", **common)


def build_demo() -> gr.Blocks:
    """The page: inputs on the left, the answer on the right, pictures and maps below; one Analyse per tab."""
    # no analytics: the demo must run offline, and visitors are not tracked
    blocks = dict(title="mer: micro-expression recognition", delete_cache=(600, 1800), analytics_enabled=False)
    with gr.Blocks(**blocks) as page:
        gr.Markdown(INTRO)
        with gr.Accordion("What is a micro-expression, and how to read the results", open=False):
            gr.Markdown(EXPLANATION)
        originals = gr.State({})  # preview file name -> the uploaded original, when the preview is a converted copy
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                with gr.Tabs():
                    with gr.Tab("Video", id="video") as video_tab:
                        video = _video_inputs()
                    with gr.Tab("Zip of frames", id="frames"):
                        frames = _frames_inputs()
                options = _options()
            with gr.Column(scale=3, min_width=320):
                answer = _answer_area()
                card = gr.Markdown(SHELF.provenance(SHELF.default), elem_id="mer-card")  # after: phones stack
        answer += _pictures_area()
        with gr.Column(visible=False):
            _api_endpoints(
                [
                    gr.Textbox(label="label"),
                    gr.Textbox(label="summary"),
                    gr.JSON(label="result"),
                    gr.File(label="result_file"),
                ]
            )
        with video_tab:  # the examples sit under the video they fill; their outputs exist only now
            running = _examples(video, answer, options, originals)
        _wire(video, frames, options, card, originals, answer, running)
    return page


def _examples(video: dict, answer: list[Any], options: dict[str, Any], originals: gr.State) -> list[Any]:
    """Example clips under the video: a click shows the clip and its answer (cached on a Space, run here).

    Returns the example's analysis event (for a new upload to cancel), if any."""
    clips = demo.example_clips(EXAMPLES_DIR)
    if not clips:
        return []
    outputs = [*answer, options["checkpoint"], options["onset"], options["apex"], originals, video["preview_note"]]
    examples = gr.Examples(
        examples=[[str(p)] for p in clips],
        inputs=[video["video"]],
        outputs=outputs if ON_SPACE else None,
        fn=analyse_example if ON_SPACE else None,
        cache_examples=ON_SPACE,  # a Space computes each example's answer once, on first use
        cache_mode="lazy" if ON_SPACE else None,
        # "synthetic_happiness.webm" -> "synthetic happiness": what the clip was made to show
        example_labels=[p.stem.replace("_", " ") for p in clips],
        label="Example clips (synthetic micro-expressions on real faces): a click shows the answer",
        elem_id="mer-examples",
    )
    if ON_SPACE:
        return []
    # Not gradio's run_on_click: its event takes no click while one is pending, so a second example clicked
    # during an analysis showed that clip beside the first one's answer. "always_last" answers the last click
    # once the running analysis is done; meanwhile the answer area says which clip is being analysed.
    analysing = examples.load_input_event.then(
        being_analysed, [video["video"]], answer, queue=False, api_visibility="private"
    )
    return [
        analysing.then(
            analyse_example,
            [video["video"]],
            outputs,
            trigger_mode="always_last",
            concurrency_limit=CONCURRENCY,
            concurrency_id="analysis",
            api_visibility="private",
        )
    ]


def _wire(
    video: dict, frames: dict, options: dict, card: gr.Markdown, originals: gr.State, answer: list, running: list
) -> None:
    """The events: one Analyse per tab; a new clip, new frames or a changed option clear the old answer and
    cancel an analysis still running for what was there before."""
    run = dict(outputs=answer, concurrency_limit=CONCURRENCY, concurrency_id="analysis", api_visibility="private")
    running = running + [
        video["run"].click(
            analyse_video, [video["video"], originals, options["checkpoint"], options["onset"], options["apex"]], **run
        ),
        frames["run"].click(
            analyse_frames,
            [frames["frames_zip"], frames["fps"], options["checkpoint"], options["onset"], options["apex"]],
            **run,
        ),
    ]
    fresh = dict(
        outputs=[video["video"], originals, video["preview_note"], *answer], api_visibility="private", cancels=running
    )
    video["video"].upload(new_video, video["video"], **fresh)
    video["video"].stop_recording(new_video, video["video"], **fresh)
    video["video"].clear(new_video, video["video"], **fresh)
    quick = dict(outputs=answer, api_visibility="private", cancels=running)
    for new in (frames["frames_zip"].upload, frames["frames_zip"].clear):
        new(new_frames, frames["frames_zip"], **quick)
    for changed in (frames["fps"].input, options["onset"].input, options["apex"].input, options["checkpoint"].input):
        changed(cleared, None, **quick)
    options["checkpoint"].change(SHELF.provenance, options["checkpoint"], card, api_name="checkpoint_card")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # the model loads once at start, beside the page's own start (a click meanwhile waits for it), not on the
    # first visitor's click
    threading.Thread(target=SHELF.preload, name="preload-model", daemon=True).start()
    build_demo().queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY).launch(
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(EXAMPLES_DIR)],
        theme=gr.themes.Soft(primary_hue="orange"),
        css=CSS,
        ssr_mode=False,
    )


if __name__ == "__main__":
    main()
