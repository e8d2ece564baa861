"""In Chromium, a PET/CT request's page: a click reads the value and moves the other views to
that point, a second click measures the distance, the blend slider changes the fused image,
and axe finds nothing serious on the page (light and dark)."""
import io
import math

import numpy as np
import pytest
import requests
from PIL import Image

from tests.browser.test_accessibility import blocking_violations
from tests.support import pet_samples as pet
from tests.support import volume_samples as samples
from tests.support.browser import Watch, browser_sign_in
from tests.support.db import wait_status

pytestmark = pytest.mark.browser
X, Y, Z = samples.SHAPE
LOADED = "s => { const i = document.querySelector(s); return i.complete && i.naturalWidth > 0; }"


def _pixels(page, selector):
    """The image as the browser asked for it, decoded (same session cookie)."""
    src = page.get_attribute(selector, "src")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = requests.get(page.url.split("/requests/")[0] + src, cookies=cookies, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(answer.content)))


def _click_voxel(page, x, y):
    """Click the axial image where voxel column x, row y is drawn (radiological: mirrored)."""
    img = page.locator("img.slice[data-view=axial]")
    box = img.bounding_box()
    col, row = X - 1 - x, Y - 1 - y
    img.click(position={"x": (col + 0.5) / X * box["width"], "y": (row + 0.5) / Y * box["height"]})


@pytest.fixture
def fused_request(app, stack, live_server, make_user):
    """A PET/CT zip loaded through the API; (request id, username, password)."""
    username, password, token = make_user("operator")
    response = requests.post(f"{live_server}/api/requests", timeout=60, headers={
        "Authorization": f"Bearer {token}"}, data={"job_type": "load_array", "params": "{}"},
        files={"file": ("pet-ct.zip", pet.pet_ct_zip())})
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]
    assert wait_status(app, request_id, ("success", "failure"), 90)["status"] == "success"
    return request_id, username, password


def test_click_reads_the_value_moves_the_views_and_measures(fused_request, live_server, page):
    request_id, username, password = fused_request
    watch = Watch(page)
    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/requests/{request_id}")
    axial = "img.slice[data-view=axial]"
    page.wait_for_function(LOADED, arg=axial)
    assert "layer=fusion" in page.get_attribute(axial, "src")
    assert page.input_value("#vw-layer") == "fusion" and page.input_value("#vw-cmap") == "hot"
    assert page.locator("#cb-high").inner_text() == "5 SUV"

    # Onto the hot spot (x 17, y 5) of axial slice 5: the value in HU and in SUV.
    page.focus("#vs-axial")
    for _ in range(Z // 2 - 5):
        page.keyboard.press("ArrowDown")
    page.wait_for_function("s => document.querySelector(s).dataset.index === '5'", arg=axial)
    _click_voxel(page, 17, 5)
    reading = page.locator("#volume-reading")
    reading.filter(has_text="SUV").wait_for()
    text = reading.inner_text()
    ct_value = samples.base()[17, 5, 5] * samples.DICOM_RESCALE[0] + samples.DICOM_RESCALE[1]
    assert "voxel (17, 5, 5)" in text, text
    assert f"CT {ct_value:g} HU" in text and "PET 30000 BQML (SUV 8.29)" in text, text
    # The other views moved to that point: coronal slice y = 5, sagittal slice x = 17.
    assert page.input_value("#vs-coronal") == "5" and page.input_value("#vs-sagittal") == "17"
    assert "/coronal/5.png" in page.get_attribute("img.slice[data-view=coronal]", "src")
    assert "/sagittal/17.png" in page.get_attribute("img.slice[data-view=sagittal]", "src")
    assert page.locator("#vo-sagittal").inner_text() == f"18 / {X}"
    assert page.locator(".view-frame[data-view=coronal] .cross-v").is_visible()

    # A second click: the distance between the two points in mm.
    _click_voxel(page, 5, 15)
    page.locator("#volume-distance").filter(has_text="mm").wait_for()
    sx, sy, _ = samples.SPACING
    want = math.hypot((17 - 5) * sx, (5 - 15) * sy)
    assert f": {want:.1f} mm" in page.locator("#volume-distance").inner_text()
    assert page.input_value("#vs-sagittal") == "5"

    # The keyboard: on the focused axial view, the left arrow moves toward the patient's
    # right (x + 1: the sagittal view follows); Enter marks the point (2 x 1.5 mm away).
    page.focus(axial)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('#vs-sagittal').value === '7'")
    reading.filter(has_text="voxel (7, 15, 5)").wait_for()
    page.keyboard.press("Enter")
    page.locator("#volume-distance").filter(has_text=": 3.0 mm").wait_for()

    # The blend slider: more PET over the CT, another image.
    page.wait_for_function(LOADED, arg=axial)
    before = _pixels(page, axial)
    page.locator("#vw-opacity").scroll_into_view_if_needed()
    slider = page.locator("#vw-opacity").bounding_box()     # dragged by the mouse to its end
    page.mouse.move(slider["x"] + slider["width"] / 2, slider["y"] + slider["height"] / 2)
    page.mouse.down()
    page.mouse.move(slider["x"] + slider["width"] + 20, slider["y"] + slider["height"] / 2,
                    steps=5)
    page.mouse.up()
    page.wait_for_function("s => document.querySelector(s).src.includes('opacity=1')", arg=axial)
    assert page.locator("#vw-opacity-out").inner_text() == "100 %"
    page.wait_for_function(LOADED, arg=axial)
    after = _pixels(page, axial)
    assert before.shape == after.shape and not np.array_equal(before, after)

    # The CT alone: gray, the PET window control hidden.
    page.select_option("#vw-layer", "ct")
    page.wait_for_function("s => document.querySelector(s).src.includes('layer=ct')", arg=axial)
    assert page.input_value("#vw-cmap") == "gray" and not page.is_visible("#vw-pet-window")
    page.wait_for_function(LOADED, arg=axial)
    assert _pixels(page, axial).ndim == 2
    assert watch.unexpected() == [] and watch.csp_violations() == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_pet_ct_page_passes_axe(fused_request, live_server, browser, scheme):
    request_id, username, password = fused_request
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        browser_sign_in(page, live_server, username, password)
        page.goto(f"{live_server}/requests/{request_id}")
        page.wait_for_function(LOADED, arg="img.slice[data-view=sagittal]")
        assert page.locator("#result-details").get_attribute("open") is None
        assert page.locator(".artifacts img[alt^=mip_]").count() == 0
        assert blocking_violations(page) == []
    finally:
        context.close()
