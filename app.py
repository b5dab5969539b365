"""mer browser demo: upload or record a short face clip; see its micro-expressions and where the model looked.

Hugging Face Space entry point (`python app.py`): the layout of the page, bound to plain functions of `mer.demo`.
Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (gradio's defaults: 127.0.0.1:7860).
Environment: MER_CHECKPOINT (a checkpoint folder or .safetensors to offer and pre-select besides the shipped one),
MER_EXAMPLES (folder of example clips, default examples/), MER_CONCURRENCY (analyses run at once, default 1),
MER_LIVE_CONCURRENCY (live webcam streams analysed at once, default 2; more visitors wait in the queue),
MER_LIVE_STANDBY (live analysis processes started ahead with the model loaded, default 1),
SPACE_ID (set by Hugging Face: the examples' answers are then cached).

API (gradio_client), each answering (label, summary, result JSON, result file); the summary and the JSON say
which frame rate was used and why:
    /predict(clip, checkpoint=None, onset=None, apex=None, fps=None)   a video, or a zip of frames with fps
    /predict_video(video, checkpoint=None, onset=None, apex=None, fps=None)   fps overrides the file's own
    /predict_frames(frames_zip, fps, checkpoint=None, onset=None, apex=None)   fps is required
    /checkpoint_card(checkpoint)   the chosen weights in plain words
onset/apex: frame numbers counted from 0, both or neither (neither: detected). checkpoint: a checkpoint name
(None: the default).
"""

# no `from __future__ import annotations`: gr.api reads the endpoints' types from the live annotations
import atexit
import logging
import os
import threading
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.components.plot import PlotData
from gradio.data_classes import FileData

from mer.demo import analyse, live, media, shelf, view
from mer.errors import InputError

log = logging.getLogger("mer.app")

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = Path(os.environ.get("MER_EXAMPLES", ROOT / "examples")).resolve()
MAX_FILE_SIZE = "50mb"  # a minute of phone video; bigger uploads are refused before they reach the model
QUEUE_SIZE = 32  # requests waiting beyond this get "queue full" instead of piling up in memory
CONCURRENCY = int(os.environ.get("MER_CONCURRENCY", "1"))  # one analysis uses all cores of a small Space
LIGHT_CONCURRENCY = 4  # previews and checks of uploads run beside an analysis, so other visitors are not kept waiting
# Live streams analysed at once (each holds its slot until Stop or mer.demo.live.TIME_LIMIT_S); the next visitor
# waits in the queue, first come first served, and sees their place in it
LIVE_CONCURRENCY = int(os.environ.get("MER_LIVE_CONCURRENCY", "2"))
ON_SPACE = bool(os.environ.get("SPACE_ID"))  # Hugging Face sets it: cache the examples' answers there only
# Video only (no microphone prompt), as many frames per second as the camera gives up to 60: micro-expressions
# last a fraction of a second. 640 x 480 is plenty, since clips are read at 640 px on the longer side anyway.
WEBCAM = gr.WebcamOptions(
    constraints={
        "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 60}},
        "audio": False,
    }
)
# Pictures at least 150 px (the clip) and 260 px (the maps) wide, as many a row as fit: five on a laptop, two or
# one on a phone, none cut off; each whole (231 x 282) with its caption under it, not over it. The JET colour
# scale of every map is drawn once, above them. A click opens a picture up to 85% of the window's height.
CSS = """
#mer-frames .grid-container { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)) !important; }
.mer-maps .grid-container { grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)) !important; }
#mer-frames .grid-wrap, .mer-maps .grid-wrap {
  height: auto !important; max-height: none !important; min-height: 0 !important; }
#mer-frames .thumbnail-item, .mer-maps .thumbnail-item {
  aspect-ratio: auto !important; height: auto !important; padding-bottom: 38px !important; }
#mer-frames .thumbnail-item img, .mer-maps .thumbnail-item img {
  width: 100% !important; height: auto !important; aspect-ratio: 231 / 282; object-fit: contain !important; }
#mer-frames .caption-label, .mer-maps .caption-label { bottom: 4px !important; max-width: 96%; }
#mer-frames .preview, .mer-maps .preview { height: min(85vh, 720px) !important; }
.mer-scale { display: flex; align-items: center; gap: 8px; font-size: 0.9em; }
.mer-scale .bar { flex: 1; max-width: 320px; height: 12px; border-radius: 3px;
  background: linear-gradient(90deg, #00007f, #0000ff, #007fff, #00ffff, #7fff7f, #ffff00, #ff7f00, #ff0000, #7f0000); }
.mer-live-table { width: 100%; border-collapse: collapse; font-size: 0.95em; }
.mer-live-table th, .mer-live-table td { text-align: left; padding: 4px 8px;
  border-bottom: 1px solid var(--border-color-primary); }
"""
SCALE = (
    '<div class="mer-scale"><span>Colour scale of every map: low</span><div class="bar"></div><span>high</span></div>'
)
SHELF = shelf.ModelShelf.from_env()  # finds the checkpoints; loads a model on first use
FOLDERS = media.OutputFolders(max_age_s=15 * 60)  # per-request result folders, made on first use
# The Live tab's camera: the browser takes a picture every mer.demo.live.STREAM_EVERY_S (a camera's 30 fps)
LIVE_WEBCAM = gr.WebcamOptions(
    constraints={
        "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}},
        "audio": False,
    }
)


def _live_recipe() -> live.Recipe:
    """The live sessions' model: the default checkpoint's, loaded in each analysis process."""
    from mer.engine.device import resolve_device

    path = SHELF.paths.get(SHELF.default) if SHELF.default else None
    return live.Recipe(checkpoint=str(path) if path else None, device=str(resolve_device("auto")))


# every visitor's live stream, let go when they leave; MER_LIVE_STANDBY analysis processes load the model ahead
LIVE = live.Room(_live_recipe(), standby=int(os.environ.get("MER_LIVE_STANDBY", "1")))

INTRO = """
# Micro-expression recognition

Upload a short video of one face (or record one with your webcam, or click an example), press **Analyse**, and
the model marks every facial movement on a timeline and names each **micro-expression** it finds:
*happiness, disgust, surprise, repression* or *others*. Or open **Live** to watch your webcam as it happens.
"""

EXPLANATION = f"""
**What is a micro-expression?** A very small, very short facial movement (under half a second, a few pixels)
that shows a feeling for an instant, usually when someone is trying to hide it. People rarely notice them; the
research databases were filmed with high-speed cameras (200 frames per second). Longer, larger movements are
*ordinary (macro) expressions*: smiles, talking, blinks.

**How the model works.** The face is found and aligned. Two signals follow it over the clip: *short movements*
(where the face moved and came back within a fraction of a second), where micro-expressions are found, and the
*motion curve* (how far the face is from where it was), where longer, ordinary expressions are found. Each
movement gets an **onset** (start), **apex** (peak) and offset (end). For the micro-expression shown, the movement
between onset and apex (optical flow) goes into two branches: a **global** one that looks at the whole face, and a
**local** one that looks only at the regions where facial action units (AUs) move; a fusion module with attention
(CBAM) combines them.

**How sure.** The page names a micro-expression only when the model gives it {view.CONFIDENCE_LINE:.0%} or more;
below that it is a *weak candidate*, shown as such. On real videos without any micro-expression the model still
finds short movements now and then, and none of those reached {view.CONFIDENCE_LINE:.0%}.

**Please note.** This is a research demo, not a lie detector. The shipped weights were trained on *synthetic*
micro-expressions made from real photographs, because the real databases are licensed and cannot be shipped;
the answer shows how the method works, not what a person felt.
"""

LIVE_INTRO = f"""
Press **Record** and look at the camera: each movement of your face is marked on the timeline about a second
after it ends, and each **micro-expression** is named with how sure the model is. The first
{live.BASELINE_S:g} seconds of your face are its *neutral baseline* (your own stillness, against which movements
are measured): keep still then. **Stop** ends the session; its events then download as CSV and JSON. A session lasts
at most {live.TIME_LIMIT_S // 60} minutes.
"""

LIVE_CHART_NOTE = (
    "Top: short movements, where micro-expressions are found; bottom: the motion curve, where longer, ordinary "
    f"expressions are found. Orange: a micro-expression named at {view.CONFIDENCE_LINE:.0%} or more; pale and dotted: "
    "a weak candidate; grey: an ordinary expression. A gap in the curves: no face in view."
)

LIVE_CAMERA_HELP = """
**No picture?** The browser must be allowed to use the camera. If you refused it, click the camera (or lock) icon
in the address bar, allow the camera for this page, and reload it. Only one program can use a camera at a time:
close video calls first. Frames go to this server only while you record, and are not kept.
"""


# ----------------------------------------------------------------------------------------------- handlers


def _outputs(shown: analyse.Shown) -> tuple:
    """A Shown in the order of the page's answer components (see _answer_area and _pictures_area)."""
    v, files = shown.view, shown.files
    notes = v.notes if v else {}
    return (
        shown.headline,
        v.label if v else "",
        v.probabilities if v else None,
        v.timeline if v else None,
        v.timeline_note if v else "",
        files.get("pictures", []),
        notes.get("pictures", ""),
        *(files.get(group, []) for group in view.GROUPS),
        *(notes.get(group, "") for group in view.GROUPS),
        (v.timings or None) if v else None,
        shown.json_path,
    )


def _settings(checkpoint: str | None, onset: str, apex: str, fps: str | None = None) -> dict[str, Any]:
    """The options an answer was made with: an option changed to something else makes that answer stale."""
    return {"checkpoint": checkpoint or SHELF.default, "onset": onset or "", "apex": apex or "", "fps": fps or ""}


def _progress(progress: gr.Progress) -> analyse.Progress:
    return lambda fraction, what: progress(fraction, desc=what)


def analyse_video(
    video: str | None,
    originals: dict,
    checkpoint: str | None,
    onset: str,
    apex: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008  (gradio's way to ask for a progress bar)
) -> tuple:
    """The Video tab's Analyse: the clip shown (its original, when the preview is a converted copy)."""
    clip = originals.get(Path(video).name, video) if video else None
    shown = analyse.analyse_for_page(
        SHELF, FOLDERS, clip, is_zip=False, checkpoint=checkpoint, onset=onset, apex=apex, progress=_progress(progress)
    )
    return (*_outputs(shown), _settings(checkpoint, onset, apex) if shown.view else None)


def analyse_frames(
    frames_zip: str | None,
    fps: str | None,
    checkpoint: str | None,
    onset: str,
    apex: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> tuple:
    """The Zip tab's Analyse: the frames shown, at the frame rate chosen beside them."""
    shown = analyse.analyse_for_page(
        SHELF,
        FOLDERS,
        frames_zip,
        is_zip=True,
        checkpoint=checkpoint,
        onset=onset,
        apex=apex,
        fps=fps,
        progress=_progress(progress),
    )
    return (*_outputs(shown), _settings(checkpoint, onset, apex, fps) if shown.view else None)


def analyse_example(video: str, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
    """An example clicked: its answer with the default checkpoint and detected onset/apex, which the options show."""
    shown = analyse.analyse_for_page(SHELF, FOLDERS, video, is_zip=False, progress=_progress(progress))
    return (*_outputs(shown), _settings(None, "", ""), SHELF.default, "", "", {}, "")


def being_analysed(clip: str | None) -> tuple:
    """Analyse pressed or an example clicked: say which clip is being analysed, so no older answer stands beside it."""
    return (*_outputs(analyse.message("Analysing…", f"**{Path(clip).name}**" if clip else "")), None)


def new_video(video: str | None) -> tuple:
    """A clip uploaded or recorded: clear the old answer; say at once when the file cannot be analysed; give the
    browser a playable copy when it needs one."""
    if not video:
        return None, {}, "", *_outputs(analyse.message("No clip yet", media.WHAT_TO_GIVE + ".")), None
    try:
        media.clip_facts(video, is_zip=False, fps=None)
    except InputError as err:  # one message, where the answer goes; no preview to make
        return video, {}, "", *_outputs(analyse.message("This clip cannot be analysed", str(err) + ".")), None
    preview, note = media.browser_preview(video, FOLDERS.new())
    originals = {Path(preview).name: video} if preview else {}
    ready = analyse.message("Ready", f"Press **Analyse the video** for **{Path(video).name}**.")
    return preview or video, originals, note, *_outputs(ready), None


def new_frames(frames_zip: str | None) -> tuple:
    """A zip uploaded or removed: clear the old answer and say what to do next (or why it cannot be analysed)."""
    if not frames_zip:
        return *_outputs(analyse.message("No frames yet", "Upload a zip of frames and choose their frame rate.")), None
    try:
        media.zip_frames(Path(frames_zip))
    except InputError as err:
        return *_outputs(analyse.message("These frames cannot be analysed", str(err) + ".")), None
    ready = f"Press **Analyse the frames** for **{Path(frames_zip).name}**."
    return *_outputs(analyse.message("Ready", ready)), None


def option_changed(checkpoint: str | None, onset: str, apex: str, fps: str | None, shown: dict | None) -> tuple:
    """An option touched: the answer shown stays while the options are still the ones it was made with (opening a
    list and leaving it changes nothing); otherwise it is cleared, since it no longer answers what is set."""
    n = len(_outputs(analyse.message(""))) + 1
    if not shown:
        return tuple(gr.skip() for _ in range(n))
    now = _settings(checkpoint, onset, apex, fps if shown.get("fps") else None)
    if now == shown:
        return tuple(gr.skip() for _ in range(n))
    stale = analyse.message("Options changed", "Press **Analyse** to see the answer for what is set now.")
    return (*_outputs(stale), None)


def _live_shown(shown: live.LiveView) -> tuple:
    """A LiveView in the order of the Live tab's outputs (status, chart, events); what did not change is skipped."""
    chart = PlotData(type="plotly", plot=shown.chart) if shown.chart is not None else gr.skip()
    status = shown.status if shown.status is not None else gr.skip()
    return status, chart, live.events_table(shown.rows) if shown.rows is not None else gr.skip()


def live_frame(frame: Any, watcher: live.Watcher | None, request: gr.Request) -> tuple:
    """A frame of the visitor's camera: handed to their stream's analysis; what to show now."""
    watcher, shown = LIVE.frame(watcher, frame, request.session_hash or "")
    return watcher, *_live_shown(shown)


def live_stopped(watcher: live.Watcher | None) -> tuple:
    """The visitor's stream ended: its last events, the final chart and list, the files."""
    shown = LIVE.stopped(watcher, FOLDERS.new)
    return *_live_shown(shown), shown.files


def live_left(request: gr.Request) -> None:
    """The visitor closed or reloaded the page: their stream and its state end now."""
    LIVE.left(request.session_hash or "")


def _live_release(watcher: live.Watcher | None) -> None:
    if watcher is not None:
        watcher.release()


# --------------------------------------------------------------------------------------------------- API


def _api(clip: FileData | dict | None, is_zip: bool | None, **options: Any) -> tuple[str, str, dict, FileData]:
    path = (clip.get("path") if isinstance(clip, dict) else getattr(clip, "path", None)) if clip else None
    if is_zip is None:
        is_zip = bool(path) and Path(path).suffix.lower() == ".zip"
    try:
        shown = analyse.analyse(SHELF, FOLDERS, path, is_zip=is_zip, **options)
    except InputError as err:
        raise gr.Error(analyse.without_flags(str(err)), title="This clip cannot be analysed") from err
    except Exception as err:  # the type only: details (paths, internals) stay in the server log
        log.exception("analysis failed for %s", Path(path or "").name)
        raise gr.Error(f"The analysis failed unexpectedly ({type(err).__name__}); it was logged.") from err
    assert shown.view is not None and shown.json_path is not None
    result = shown.view.result
    return result.get("label") or "", shown.view.summary, result, FileData(path=shown.json_path)


def predict(
    clip: FileData | None,
    checkpoint: str | None = None,
    onset: int | None = None,
    apex: int | None = None,
    fps: float | None = None,
) -> tuple[str, str, dict, FileData]:
    """A video, or a zip of frames (then fps is required). Returns label ("" when none), summary, JSON, file.

    Args:
        clip: a video file (mp4, webm, mov, avi, mkv) or a zip of frames.
        checkpoint: a checkpoint name (None: the default).
        onset: the onset frame, counted from 0 (with apex; None: detected).
        apex: the apex frame, counted from 0 (with onset; None: detected).
        fps: frames per second (required for a zip; for a video it overrides the file's own).
    """
    return _api(clip, None, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps)


def predict_video(
    video: FileData | None,
    checkpoint: str | None = None,
    onset: int | None = None,
    apex: int | None = None,
    fps: float | None = None,
) -> tuple[str, str, dict, FileData]:
    """A video; its own frame rate is used unless fps is given. Returns label, summary, JSON, file."""
    return _api(video, False, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps)


def predict_frames(
    frames_zip: FileData | None,
    fps: float | None,
    checkpoint: str | None = None,
    onset: int | None = None,
    apex: int | None = None,
) -> tuple[str, str, dict, FileData]:
    """A zip of frames (in name order) at fps frames per second (required: CASME II/SAMM 200, SMIC 100)."""
    return _api(frames_zip, True, checkpoint=checkpoint, onset=onset, apex=apex, fps=fps)


# ------------------------------------------------------------------------------------------------- layout


def _video_inputs() -> dict[str, Any]:
    video = gr.Video(
        sources=["upload", "webcam"],
        label="Face clip (2–3 s)",  # short: the player's buttons sit beside it, and the intro says how
        webcam_options=WEBCAM,
        elem_id="mer-video",
    )
    preview_note = gr.Markdown(elem_id="mer-preview-note")
    run = gr.Button("Analyse the video", variant="primary", elem_id="mer-run")
    return {"video": video, "preview_note": preview_note, "run": run}


def _frames_inputs() -> dict[str, Any]:
    frames_zip = gr.File(label="Zip of image frames (in name order)", file_types=[".zip"], elem_id="mer-zip")
    fps = gr.Dropdown(
        choices=list(media.FPS_CHOICES),
        value=None,
        allow_custom_value=True,  # another rate can be typed; parsed by mer.demo.media.frame_rate
        label="Frame rate of the frames (a zip does not say it)",
        info=media.FPS_MEANING,
        elem_id="mer-fps",
    )
    run = gr.Button("Analyse the frames", variant="primary", elem_id="mer-run-frames")
    return {"frames_zip": frames_zip, "fps": fps, "run": run}


def _options() -> dict[str, Any]:
    with gr.Accordion("Options", open=False, elem_id="mer-options"):
        checkpoint = gr.Dropdown(
            choices=SHELF.choices(), value=SHELF.default, label="Model weights", elem_id="mer-checkpoint"
        )
        # Textboxes, not gr.Number: an empty field must stay empty (gr.Number shows 0) and mean "detect"
        with gr.Row():
            onset = gr.Textbox(label="Onset frame", placeholder="empty: detect", max_lines=1, elem_id="mer-onset")
            apex = gr.Textbox(label="Apex frame", placeholder="empty: detect", max_lines=1, elem_id="mer-apex")
        gr.Markdown("Frame numbers count from 0. Give both to skip detection, or leave both empty.")
    return {"checkpoint": checkpoint, "onset": onset, "apex": apex}


def _answer_area() -> list[Any]:
    """The answer's words and charts, in the order of _outputs."""
    headline = gr.Markdown(
        "### No answer yet\n\nPick an example, or upload a clip and press **Analyse**.", elem_id="mer-answer"
    )
    label = gr.Textbox(label="Micro-expression", interactive=False, elem_id="mer-label")
    sure = f"How sure (dotted: the {view.CONFIDENCE_LINE:.0%} line)"  # short: a phone's toolbar sits beside it
    probabilities = gr.Plot(label=sure, elem_id="mer-probabilities")
    timeline = gr.Plot(label="Timeline of the movements", elem_id="mer-curve")
    timeline_note = gr.Markdown(elem_id="mer-curve-note")
    return [headline, label, probabilities, timeline, timeline_note]


def _pictures_area() -> list[Any]:
    """The clip's pictures, the maps by group with a sentence under each, timings and the JSON file."""
    gallery = dict(object_fit="contain", height="auto", allow_preview=True, preview=False)  # a click enlarges
    pictures = gr.Gallery(label="The clip", elem_id="mer-frames", **gallery)
    pictures_note = gr.Markdown(elem_id="mer-frames-note")
    gr.Markdown("### Where the model looked\n\nClick a map to see it larger.")
    gr.HTML(SCALE)
    maps, notes = [], []
    for group, name in (("global", "Global branch"), ("local", "Local branch"), ("fusion", "Fusion")):
        gr.Markdown(view.GROUP_WORDS[group])
        maps.append(gr.Gallery(label=name, elem_id=f"mer-maps-{group}", elem_classes=["mer-maps"], **gallery))
        notes.append(gr.Markdown(elem_id=f"mer-maps-{group}-note"))
    with gr.Row():
        timings = gr.Dataframe(
            headers=["stage", "ms"], label="Stage timings (milliseconds)", interactive=False, elem_id="mer-timings"
        )
        result_json = gr.File(label="Result as JSON", interactive=False, elem_id="mer-json")
    return [pictures, pictures_note, *maps, *notes, timings, result_json]


def build_demo() -> gr.Blocks:
    """The page: inputs on the left, the answer on the right, pictures and maps below; one Analyse per tab."""
    # no analytics: the demo must run offline, and visitors are not tracked
    blocks = dict(title="mer: micro-expression recognition", delete_cache=(600, 1800), analytics_enabled=False)
    with gr.Blocks(**blocks) as page:
        gr.Markdown(INTRO)
        with gr.Accordion("What is a micro-expression, and how to read the results", open=False):
            gr.Markdown(EXPLANATION)
        originals = gr.State({})  # preview file name -> the uploaded original, when the preview is a converted copy
        shown = gr.State(None)  # the options the answer shown was made with (None: no answer shown)
        with gr.Tabs(elem_id="mer-modes"):  # a clip analysed whole, or the webcam as it happens
            with gr.Tab("A clip", id="clip"):
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
            with gr.Tab("Live", id="live") as live_tab:
                _live_tab(page, live_tab)
        for function in (predict, predict_video, predict_frames):
            gr.api(function, api_name=function.__name__, concurrency_limit=CONCURRENCY, concurrency_id="analysis")
        with video_tab:  # the examples sit under the video they fill; their outputs exist only now
            running = _examples(video, answer, options, originals, shown)
        _wire(video, frames, options, card, originals, answer, shown, running)
    return page


def _live_tab(page: gr.Blocks, tab: gr.Tab) -> None:
    """The Live tab: the camera streams to the page; a status line, the rolling timeline, the events so far and,
    once stopped, their files. Each visitor's stream is their own (a gr.State); leaving the page ends it."""
    gr.Markdown(LIVE_INTRO)
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            camera = gr.Image(
                sources=["webcam"],
                streaming=True,
                label="Your camera",
                webcam_options=LIVE_WEBCAM,
                elem_id="mer-live-camera",
            )
            gr.Markdown(LIVE_CAMERA_HELP)
        with gr.Column(scale=3, min_width=320):
            status = gr.Markdown("Press **Record** under the camera to start.", elem_id="mer-live-status")
            chart = gr.Plot(label=f"The last {live.HISTORY_S:.0f} s", elem_id="mer-live-chart")
            gr.Markdown(LIVE_CHART_NOTE)
            gr.Markdown("**Events so far** (newest first)")
            events = gr.HTML(live.events_table([]), max_height=360, elem_id="mer-live-events")
            files = gr.File(
                label="This session's events (CSV and JSON)",
                file_count="multiple",
                interactive=False,
                height=120,
                elem_id="mer-live-files",
            )
    # the visitor's stream; gradio deletes it some time after they leave, the unload below lets it go at once
    watcher = gr.State(None, delete_callback=_live_release)
    stream = camera.stream(
        live_frame,
        [camera, watcher],
        [watcher, status, chart, events],
        stream_every=live.STREAM_EVERY_S,
        time_limit=live.TIME_LIMIT_S,
        concurrency_limit=LIVE_CONCURRENCY,
        concurrency_id="live",
        show_progress="hidden",
        api_visibility="private",
    )
    # Stop, the time limit, or a lost camera end the stream: the rest is decided and the files are written
    stream.then(live_stopped, watcher, [status, chart, events, files], api_visibility="private")
    page.unload(live_left)
    # whether the analysis is ready (while streaming, the next frame's status line replaces it)
    tab.select(LIVE.readiness, None, status, queue=False, api_visibility="private")


def _examples(video: dict, answer: list, options: dict, originals: gr.State, shown: gr.State) -> list[Any]:
    """Example clips under the video: a click shows the clip and its answer (cached on a Space, run here).

    Returns the example's analysis event (for a new upload to cancel), if any."""
    clips = shelf.example_clips(EXAMPLES_DIR)
    if not clips:
        return []
    outputs = [*answer, shown, options["checkpoint"], options["onset"], options["apex"], originals]
    outputs.append(video["preview_note"])
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
        being_analysed, [video["video"]], [*answer, shown], queue=False, api_visibility="private"
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
    video: dict,
    frames: dict,
    options: dict,
    card: gr.Markdown,
    originals: gr.State,
    answer: list,
    shown: gr.State,
    running: list,
) -> None:
    """The events: one Analyse per tab; a new clip or new frames clear the old answer and cancel an analysis still
    running for what was there before; an option changed clears an answer made with other options."""
    fields = [options["checkpoint"], options["onset"], options["apex"]]
    run = dict(
        outputs=[*answer, shown],
        concurrency_limit=CONCURRENCY,
        concurrency_id="analysis",
        api_visibility="private",
        show_progress="full",
    )
    quick = dict(outputs=[*answer, shown], queue=False, api_visibility="private")
    running = running + [
        video["run"]
        .click(being_analysed, video["video"], **quick)
        .then(analyse_video, [video["video"], originals, *fields], **run),
        frames["run"]
        .click(being_analysed, frames["frames_zip"], **quick)
        .then(analyse_frames, [frames["frames_zip"], frames["fps"], *fields], **run),
    ]
    light = dict(api_visibility="private", cancels=running, concurrency_limit=LIGHT_CONCURRENCY)
    fresh = dict(outputs=[video["video"], originals, video["preview_note"], *answer, shown], **light)
    video["video"].upload(new_video, video["video"], **fresh)
    video["video"].stop_recording(new_video, video["video"], **fresh)
    video["video"].clear(new_video, video["video"], **fresh)
    for new in (frames["frames_zip"].upload, frames["frames_zip"].clear):
        new(new_frames, frames["frames_zip"], outputs=[*answer, shown], **light)
    for changed in (frames["fps"].input, options["onset"].input, options["apex"].input, options["checkpoint"].input):
        changed(option_changed, [*fields, frames["fps"], shown], **quick)
    options["checkpoint"].change(SHELF.provenance, options["checkpoint"], card, api_name="checkpoint_card", queue=False)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # the model loads once at start, beside the page's own start (a click meanwhile waits for it), not on the
    # first visitor's click
    threading.Thread(target=SHELF.preload, name="preload-model", daemon=True).start()
    LIVE.prepare()  # a live analysis process loads its model now, so the first Record starts at once
    atexit.register(LIVE.close)
    build_demo().queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY).launch(
        max_file_size=MAX_FILE_SIZE,
        # the API's result files are served from the request folders (gr.api does not copy them into the cache)
        allowed_paths=[str(EXAMPLES_DIR), str(FOLDERS.new().parent)],
        theme=gr.themes.Soft(primary_hue="orange"),
        css=CSS,
        ssr_mode=False,
    )


if __name__ == "__main__":
    main()
