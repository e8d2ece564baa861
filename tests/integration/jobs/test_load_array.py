"""load_array end to end: a generated volume through the API, real workers, stats and MIP PNGs."""
import io
import json

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from dashboard.extensions import db
from tests.support.db import fetch, wait_status
from tests.support.html import parse
from tests.support.http import sign_in

SHAPE = (20, 30, 40)          # x, y, z
HOT = (7, 11, 23)             # the one voxel far above the rest


def submit(api, vol, params, filename="volume.raw"):
    """POST the volume's bytes as a load_array request; returns the response."""
    data = vol.tobytes() if isinstance(vol, np.ndarray) else vol
    return api.post("/api/requests", content_type="multipart/form-data", data={
        "job_type": "load_array", "params": json.dumps(params),
        "file": (io.BytesIO(data), filename)})


def run_to_success(app, api, vol, params):
    """Submit, wait for success, return (request object, {name: PNG bytes})."""
    response = submit(api, vol, params)
    assert response.status_code == 201, response.get_json()
    request_id = response.get_json()["id"]
    row = wait_status(app, request_id, ("success", "failure", "timeout"), timeout=60)
    assert row["status"] == "success", row["error"]
    body = api.get(f"/api/requests/{request_id}").get_json()
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT name, content_type, data FROM artifacts WHERE request_id = :id"),
            {"id": request_id}).all()
    assert {r.content_type for r in rows} == {"image/png"}
    return body, {r.name: bytes(r.data) for r in rows}


def decode(png_bytes):
    """A PNG as a numpy array, checking it is 8-bit grayscale."""
    image = Image.open(io.BytesIO(png_bytes))
    assert image.mode == "L"
    return np.asarray(image)


def hot_volume(dtype=np.float32):
    """Seeded random values in [0, 1) with one hot voxel at HOT."""
    vol = np.random.default_rng(7).random(SHAPE).astype(dtype)
    vol[HOT] = 50
    return vol


def assert_stats(result, values):
    """min/max exact, mean/std to float64 rounding, histogram counts exact, against numpy."""
    values = values.astype(np.float64)
    assert result["min"] == values.min() and result["max"] == values.max()
    assert result["mean"] == pytest.approx(values.mean(), rel=1e-12, abs=1e-12)
    assert result["std"] == pytest.approx(values.std(), rel=1e-9, abs=1e-12)
    counts, edges = np.histogram(values, bins=64, range=(values.min(), values.max()))
    assert result["histogram"]["counts"] == counts.tolist()
    assert result["histogram"]["edges"] == pytest.approx(edges.tolist())
    assert sum(result["histogram"]["counts"]) == values.size


# A raw volume is shown as stored: per projection, the (column, row) axes of the image and
# whether its rows run from the highest index at the top (coronal and sagittal: z).
SEEN = {"mip_x.png": (1, 2, True), "mip_y.png": (0, 2, True), "mip_z.png": (0, 1, False)}


def hot_spot(image):
    """(row, column) of the white pixels' centre as fractions of the image's height and width."""
    rows, cols = np.nonzero(image == 255)
    assert rows.size, "no white pixel"
    return (rows.mean() + 0.5) / image.shape[0], (cols.mean() + 0.5) / image.shape[1]


def expected_spot(name, voxel):
    """Where the voxel's centre falls in the projection, as (row, column) fractions."""
    col_axis, row_axis, top_high = SEEN[name]
    row = SHAPE[row_axis] - 1 - voxel[row_axis] if top_high else voxel[row_axis]
    return (row + 0.5) / SHAPE[row_axis], (voxel[col_axis] + 0.5) / SHAPE[col_axis]


def assert_hot_at(name, image, voxel):
    """The projection shows the voxel white at its place (to within half a voxel)."""
    (row, col), (want_row, want_col) = hot_spot(image), expected_spot(name, voxel)
    col_axis, row_axis, _ = SEEN[name]
    assert abs(row - want_row) <= 0.5 / SHAPE[row_axis], name
    assert abs(col - want_col) <= 0.5 / SHAPE[col_axis], name


def test_stats_and_projections(app, stack, api):
    vol = hot_volume()
    body, pngs = run_to_success(app, api, vol, {"shape": list(SHAPE)})
    result = body["result"]
    assert body["progress"] == 100
    assert result["shape"] == list(SHAPE) and result["dtype"] == "float32"
    assert result["voxels"] == vol.size == result["finite"]
    assert (result["nan"], result["posinf"], result["neginf"]) == (0, 0, 0)
    assert_stats(result, vol)

    assert set(pngs) == set(SEEN)
    described = {p["name"]: (p["height"], p["width"]) for p in result["projections"]}
    for name, (col_axis, row_axis, _) in SEEN.items():
        image = decode(pngs[name])
        assert image.shape == described[name], name
        assert max(image.shape) >= 320, name          # drawn at a readable size
        aspect = image.shape[1] / image.shape[0]      # square voxels: the voxel counts' ratio
        assert aspect == pytest.approx(SHAPE[col_axis] / SHAPE[row_axis], rel=0.02), name
        assert_hot_at(name, image, HOT)
        block = (image.shape[0] // SHAPE[row_axis]) * (image.shape[1] // SHAPE[col_axis])
        assert (image == 255).sum() <= 2 * block, name   # one voxel's worth of white


def test_big_endian_integers(app, stack, api):
    vol = (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 1000 - 300).astype(np.int16)
    vol[HOT] = 30000
    body, pngs = run_to_success(app, api, vol.astype(">i2"),
                                {"shape": list(SHAPE), "dtype": "int16", "byte_order": "big"})
    result = body["result"]
    assert result["byte_order"] == "big"
    assert result["min"] == -300 and result["max"] == 30000
    assert isinstance(result["min"], int)
    assert_stats(result, vol)
    assert_hot_at("mip_z.png", decode(pngs["mip_z.png"]), HOT)


def test_non_finite_values_are_counted(app, stack, api):
    vol = hot_volume(np.float64)
    vol[0, 0, 0] = vol[1, 2, 3] = np.nan
    vol[2, 2, 2] = np.inf
    vol[3, 3, 3] = -np.inf
    body, pngs = run_to_success(app, api, vol, {"shape": list(SHAPE), "dtype": "float64"})
    result = body["result"]
    assert (result["nan"], result["posinf"], result["neginf"]) == (2, 1, 1)
    assert result["finite"] == vol.size - 4
    assert_stats(result, vol[np.isfinite(vol)])
    image = decode(pngs["mip_x.png"])            # sagittal: y across, z from the top down
    height, width = image.shape
    row = int((SHAPE[2] - 1 - 2 + 0.5) / SHAPE[2] * height)
    col = int((2 + 0.5) / SHAPE[1] * width)
    assert image[row, col] == 255                # +inf shows white
    row = int((SHAPE[2] - 1 - HOT[2] + 0.5) / SHAPE[2] * height)
    col = int((HOT[1] + 0.5) / SHAPE[1] * width)
    assert image[row, col] == 255                # and so does the hot voxel


def test_wrong_size_is_refused_and_nothing_stored(app, api, clean_db):
    vol = hot_volume()
    response = submit(api, vol.tobytes()[:-4], {"shape": list(SHAPE)})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("file: size 95996 bytes does not match")
    response = submit(api, vol, {"shape": list(SHAPE), "dtype": "float64"})
    assert response.status_code == 422
    response = submit(api, vol, {"shape": [20, 30]})
    assert response.status_code == 422 and response.get_json()["error"].startswith("params.shape")
    with app.app_context():
        counts = db.session.execute(text(
            "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM uploads)")).one()
    assert tuple(counts) == (0, 0)
    assert fetch(app, 1) is None


def artifact_images(html):
    """The src of every <img> inside the artifacts block of a request page."""
    blocks = [n for n in parse(html).iter() if "artifacts" in n.classes()]
    return [img.attrs["src"] for img in (blocks[0].find_all("img") if blocks else [])]


def test_request_page_shows_each_projection_once(app, stack, api, make_user):
    body, pngs = run_to_success(app, api, hot_volume(), {"shape": list(SHAPE)})
    viewer, password, _ = make_user("viewer")
    browser = app.test_client()
    sign_in(browser, viewer, password)
    page = browser.get(f"/requests/{body['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The viewer draws the three projections; their artifact copies are not listed again.
    assert artifact_images(html) == []
    mips = [n.attrs["src"] for n in parse(html).iter() if "mip" in n.classes()]
    assert len(mips) == 3 and all(browser.get(src).status_code == 200 for src in mips)
    # The artifacts themselves are still there for whoever fetches them.
    with app.app_context():
        ids = db.session.execute(text("SELECT id FROM artifacts WHERE request_id = :r"),
                                 {"r": body["id"]}).scalars().all()
        db.session.rollback()
    sources = [f"/artifacts/{artifact_id}" for artifact_id in ids]
    fetched = {}
    for src in sources:
        response = browser.get(src)
        assert response.status_code == 200 and response.content_type == "image/png"
        fetched[src] = response.get_data()
    assert sorted(fetched.values()) == sorted(pngs.values())

    anonymous = app.test_client().get(sources[0])
    assert anonymous.status_code in (302, 401)
    if anonymous.status_code == 302:
        assert "/login" in anonymous.headers["Location"]
    assert not anonymous.get_data().startswith(b"\x89PNG")


@pytest.fixture
def success_refused_by_the_database(app):
    """A trigger that makes PostgreSQL refuse to record any request's success (removed after)."""
    from tests.support.db import sql
    sql(app, "CREATE OR REPLACE FUNCTION test_refuse_success() RETURNS trigger"
             " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$")
    sql(app, "CREATE TRIGGER test_refuse_success BEFORE UPDATE ON requests FOR EACH ROW"
             " WHEN (NEW.status = 'success') EXECUTE FUNCTION test_refuse_success()")
    yield
    sql(app, "DROP TRIGGER IF EXISTS test_refuse_success ON requests")
    sql(app, "DROP FUNCTION IF EXISTS test_refuse_success()")


def test_a_database_error_is_shown_without_its_statement_or_parameters(
        app, stack, api, make_user, success_refused_by_the_database):
    response = submit(api, hot_volume(), {"shape": list(SHAPE)})
    assert response.status_code == 201, response.get_json()
    request_id = response.get_json()["id"]
    row = wait_status(app, request_id, ("success", "failure", "timeout"), timeout=60)
    assert row["status"] == "failure"
    viewer, password, _ = make_user("viewer")
    browser = app.test_client()
    sign_in(browser, viewer, password)
    body = browser.get(f"/api/requests/{request_id}").get_json()
    assert body["error"] == "InternalError: refused by a test trigger"
    attempt = body["attempts"][-1]
    assert attempt["error"] == body["error"]
    assert attempt["traceback"].startswith("Traceback (most recent call last):")
    assert attempt["traceback"].endswith("InternalError: refused by a test trigger\n")
    page = browser.get(f"/requests/{request_id}").get_data(as_text=True)
    for shown in (body["error"], attempt["traceback"], page):
        assert "[SQL" not in shown and "UPDATE requests" not in shown
        assert "[parameters" not in shown and "%(result)s" not in shown
