"""In Chromium: a loaded volume's page shows the slice viewer; a slider (keyboard too) and a
window preset change the images, with no console error or CSP violation."""
import io

import numpy as np
import pytest
import requests
from PIL import Image

from tests.support import volume_samples as samples
from tests.support.browser import Watch, browser_sign_in
from tests.support.db import wait_status

pytestmark = pytest.mark.browser


def _pixels(page, selector):
    """The image's bytes as the browser fetched them, decoded (same session cookie)."""
    src = page.get_attribute(selector, "src")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = requests.get(page.url.split("/requests/")[0] + src, cookies=cookies, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    return src, np.asarray(Image.open(io.BytesIO(answer.content)))


def test_slice_viewer_slider_and_window_preset(app, stack, live_server, page, make_user):
    watch = Watch(page)
    username, password, token = make_user("operator")
    response = requests.post(f"{live_server}/api/requests", timeout=60, headers={
        "Authorization": f"Bearer {token}"}, data={"job_type": "load_array", "params": "{}"},
        files={"file": ("ct.zip", samples.zipped(samples.dicom_files()))})
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]
    assert wait_status(app, request_id, ("success", "failure"), 90)["status"] == "success"

    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/requests/{request_id}")
    axial = "img.slice[data-view=axial]"
    page.wait_for_selector(axial)
    page.wait_for_function("s => { const i = document.querySelector(s);"
                           " return i.complete && i.naturalWidth > 0; }", arg=axial)
    assert page.get_attribute(axial, "alt") == f"Axial slice {samples.SHAPE[2] // 2 + 1} of 16"
    assert page.locator("label[for=vs-axial]").inner_text() == "Axial slice"
    assert page.locator("svg.histogram rect").count() == 64
    assert page.locator("img.mip").count() == 3
    before_src, before = _pixels(page, axial)

    # Keyboard: focus the slider, ArrowUp moves one slice, into the cube (z 9..12).
    page.focus("#vs-axial")
    page.keyboard.press("ArrowUp")
    page.wait_for_function("s => document.querySelector(s).dataset.index === '9'", arg=axial)
    page.wait_for_function("s => { const i = document.querySelector(s);"
                           " return i.complete && i.naturalWidth > 0; }", arg=axial)
    after_src, after = _pixels(page, axial)
    assert after_src != before_src and "/axial/9.png" in after_src
    assert page.get_attribute(axial, "alt") == "Axial slice 10 of 16"
    assert page.locator("#vo-axial").inner_text() == "10 / 16"
    assert not np.array_equal(before, after)

    # A preset: every image is fetched again through the lung window.
    page.select_option("#vw-preset", "lung")
    page.wait_for_function("s => document.querySelector(s).src.includes('window=lung')",
                           arg=axial)
    assert "window=lung" in page.get_attribute("img.mip[data-view=coronal]", "src")
    assert page.input_value("#vw-level") == "-600.0"
    lung_src, lung = _pixels(page, axial)
    assert not np.array_equal(lung, after)

    # A custom level/width.
    page.fill("#vw-level", "0")
    page.fill("#vw-width", "100")
    page.click("button.vw-apply")
    page.wait_for_function("s => document.querySelector(s).src.includes('level=0&width=100')",
                           arg=axial)
    assert page.input_value("#vw-preset") == "custom"
    page.wait_for_function("s => { const i = document.querySelector(s);"
                           " return i.complete && i.naturalWidth > 0; }", arg=axial)
    assert watch.unexpected() == [] and watch.csp_violations() == []
