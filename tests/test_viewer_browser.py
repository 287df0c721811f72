"""The mask viewer in a real browser: tests/browser/viewer_app.ipynb served by Voilà, driven in headless Chromium.

Uses Debian's chromium (never `playwright install`, which downloads a browser). Set FACEPARSE_VIEWER_SCREENSHOT
to a path to also save a screenshot of the viewer there (how docs/viewer.png is made).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.visual.pictures import TITLE_HEIGHT

NOTEBOOK = Path(__file__).parent / "browser" / "viewer_app.ipynb"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STARTUP_SECONDS = 60
UPDATE_SECONDS = 20

pytestmark = pytest.mark.slow


def require_tools() -> None:
    """Skip (fail under CI for Chromium) when Chromium, Voilà or Playwright is missing."""
    if not Path(CHROMIUM).is_file():
        reason = "Chromium not found (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run the browser test")
        pytest.skip(reason)
    pytest.importorskip("voila", reason="voila not installed (a dev dependency)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed (a dev dependency)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, server: subprocess.Popen, log_path: Path) -> None:
    """Voilà has no status endpoint: wait until its port accepts connections."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"voila exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"voila did not open port {port} in {STARTUP_SECONDS} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def voila_url(tmp_path):
    require_tools()
    port = free_port()
    log_path = tmp_path / "voila.log"
    env = {**os.environ, "FACEPARSE_VIEWER_DATA": str(tmp_path / "data")}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--show_tracebacks=True"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        wait_for_port(port, server, log_path)
        yield f"http://127.0.0.1:{port}/", log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def pixels(locator) -> np.ndarray:
    """What the browser shows of an element, as an H×W×3 uint8 array."""
    return np.array(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))


def wait_for_new_picture(locator, before: np.ndarray) -> np.ndarray:
    """The element's pixels once they differ from `before` (the kernel renders, then the browser redraws)."""
    deadline = time.monotonic() + UPDATE_SECONDS
    while time.monotonic() < deadline:
        now = pixels(locator)
        if now.shape != before.shape or not np.array_equal(now, before):
            return now
        time.sleep(0.1)
    raise AssertionError(f"the picture did not change within {UPDATE_SECONDS} s")


def below_titles(shot: np.ndarray) -> np.ndarray:
    """The panels of a screenshot of the picture, without the title strip above them."""
    return shot[TITLE_HEIGHT:]


def drag_slider_to_start(page, label: str) -> None:
    """Drag the handle of the slider described by `label` to its left end (ipywidgets 7: jQuery UI, 8: noUiSlider)."""
    slider = page.locator(".widget-slider", has_text=label)
    handle = slider.locator(".ui-slider-handle, .noUi-handle").first
    track = slider.locator(".ui-slider, .noUi-target").first
    box, track_box = handle.bounding_box(), track.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track_box["x"] - 40, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()


def test_viewer_in_a_browser_redraws_on_opacity_and_sample_changes(voila_url):
    from playwright.sync_api import sync_playwright

    url, log_path = voila_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            # Offline by design: Voilà's page asks a CDN for icons; only the local server may answer.
            page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname
                       in ("127.0.0.1", None) else route.abort())
            page.goto(url)
            picture = page.locator("img.widget-image")
            picture.wait_for(state="visible", timeout=STARTUP_SECONDS * 1000)
            page.wait_for_function("document.querySelector('img.widget-image').naturalWidth > 0")
            info = page.locator(".widget-html", has_text="IoU").first
            assert "(1/6)" in info.inner_text()

            overlay_shot = pixels(picture)
            overlay = below_titles(overlay_shot)
            half = (overlay.shape[1] - 8) // 2  # two panels, a 4-px gap enlarged twice
            assert not np.array_equal(overlay[:, :half], overlay[:, -half:])  # truth and prediction overlays differ

            drag_slider_to_start(page, "opacity")
            plain_shot = wait_for_new_picture(picture, overlay_shot)
            plain = below_titles(plain_shot)
            # Opacity 0: both overlays are the plain image, so the two panels now match pixel for pixel.
            np.testing.assert_array_equal(plain[:, :half], plain[:, -half:])

            page.locator("button", has_text="next").click()
            following = below_titles(wait_for_new_picture(picture, plain_shot))
            assert not np.array_equal(following[:, :half], plain[:, :half])
            page.wait_for_function("document.body.innerText.includes('(2/6)')")

            assert "error:" not in page.inner_text("body")
            assert "Error displaying widget" not in page.content()
            save_screenshot(page, picture)
        finally:
            browser.close()


def save_screenshot(page, picture) -> None:
    """With FACEPARSE_VIEWER_SCREENSHOT set: the whole viewer, side by side, at half opacity, saved there."""
    target = os.environ.get("FACEPARSE_VIEWER_SCREENSHOT")
    if not target:
        return
    before = pixels(picture)
    page.locator("button", has_text="side by side").click()
    wait_for_new_picture(picture, before)
    page.locator(".widget-vbox").first.screenshot(path=target)
