"""The demo page in a real browser: Playwright driving Debian's Chromium against `python app.py`.

The screenshot is kept as a test artifact in artifacts/demo_page.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_server import ARTIFACTS, AppServer, shared_server, write_y4m
from playwright.sync_api import expect, sync_playwright

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
RENDER_TIMEOUT_MS = 30_000  # plotly.js is fetched and drawn after the answer arrives


@pytest.fixture(scope="module")
def server() -> AppServer:
    return shared_server()


def test_an_example_runs_in_the_browser(server: AppServer) -> None:
    console_errors: list[str] = []
    elsewhere: list[str] = []  # the page must work offline: nothing fetched from another host
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on(
                "request",
                lambda r: None if r.url.startswith((server.url, "data:", "blob:")) else elsewhere.append(r.url),
            )
            page.goto(server.url)
            expect(page.get_by_text("Micro-expression recognition").first).to_be_visible(timeout=60_000)
            expect(page.locator("#mer-card")).to_contain_text("synthetic", ignore_case=True)

            page.locator("#mer-examples button.gallery-item").first.click()
            expect(page.locator("#mer-video video")).to_have_count(1, timeout=30_000)
            page.locator("#mer-run").click()

            names = "|".join(re.escape(n) for n in server.class_names)
            expect(page.locator("#mer-label textarea")).to_have_value(
                re.compile(f"^({names})$"), timeout=ANSWER_TIMEOUT_MS
            )
            # the plots drew their marks, the galleries show their pictures, the JSON can be downloaded
            expect(page.locator("#mer-probabilities .js-plotly-plot .bars path")).to_have_count(
                len(server.class_names), timeout=RENDER_TIMEOUT_MS
            )
            expect(page.locator("#mer-curve .js-plotly-plot .scatterlayer .trace").first).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            expect(page.locator("#mer-frames img")).to_have_count(5, timeout=RENDER_TIMEOUT_MS)
            expect(page.locator("#mer-explain img").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
            assert page.locator("#mer-explain img").count() >= 2
            expect(page.locator("#mer-json")).to_contain_text(".json")
            expect(page.locator("#mer-card")).to_contain_text("synthetic", ignore_case=True)

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo_page.png"), full_page=True)
        finally:
            browser.close()
    assert server.alive()
    assert not elsewhere, elsewhere
    assert not [e for e in console_errors if "Error" in e and "favicon" not in e], console_errors


def test_a_broken_upload_shows_the_error_and_a_webcam_recording_then_works(server: AppServer, tmp_path: Path) -> None:
    broken = tmp_path / "holiday.mp4"
    broken.write_text("this is a text file with a video's name\n" * 50)
    # Chromium's fake camera plays this face clip, and its fake prompt grants the permission
    camera = write_y4m(server.small_clip, tmp_path / "face.y4m")
    args = CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.locator("#mer-video input[type=file]").set_input_files(str(broken))
            expect(page.locator("#mer-video video")).to_have_count(1, timeout=30_000)
            page.locator("#mer-run").click()
            expect(page.get_by_text("is not a video").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
            assert page.locator("#mer-label textarea").input_value() == ""

            page.locator("#mer-video button[aria-label='Clear']").first.click()
            page.locator("#mer-video button[aria-label='Capture from camera']").click()
            page.get_by_text("Click to Access Webcam").click()
            page.locator("#mer-video button", has_text="Record").click()
            page.wait_for_timeout(2500)  # about 75 frames at 30 fps
            page.locator("#mer-video button", has_text="Stop").click()
            expect(page.locator("#mer-video video")).to_have_count(1, timeout=30_000)
            page.locator("#mer-run").click()
            names = "|".join(re.escape(n) for n in server.class_names)
            expect(page.locator("#mer-label textarea")).to_have_value(
                re.compile(f"^({names})$"), timeout=ANSWER_TIMEOUT_MS
            )
            expect(page.locator("#mer-frames img")).to_have_count(5, timeout=RENDER_TIMEOUT_MS)
        finally:
            browser.close()
    assert server.alive()
