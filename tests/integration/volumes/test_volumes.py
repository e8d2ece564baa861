"""Volumes as people have them: raw, npy, NIfTI (.nii, .nii.gz), zipped DICOM series.

Each format goes through the API, real workers and the viewer's endpoints: statistics
equal NumPy's over the values the test made, and the bright cube shows at the right
place (as a fraction of the image) in every view and projection. Bad files answer
422 naming the problem and store nothing.
"""
import gzip
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from dashboard.extensions import db
from tests.support import volume_samples as samples
from tests.support.db import wait_status

X, Y, Z = samples.SHAPE
CX, CY, CZ = samples.CUBE
# Where the cube must appear in each view, as fractions of the image (left, right, top, bottom).
# axial: columns x, rows y top-down; coronal: columns x, rows z highest first; sagittal: y, z.
PLACES = {
    "axial": (CX.start / X, CX.stop / X, CY.start / Y, CY.stop / Y),
    "coronal": (CX.start / X, CX.stop / X, (Z - CZ.stop) / Z, (Z - CZ.start) / Z),
    "sagittal": (CY.start / Y, CY.stop / Y, (Z - CZ.stop) / Z, (Z - CZ.start) / Z),
}
# A NIfTI or DICOM volume (RAS+, here BASE itself) is drawn radiologically: high x (the
# patient's right) on the left in every view, high y (anterior) at the top of an axial one.
RADIOLOGICAL = {
    "axial": (1 - PLACES["axial"][1], 1 - PLACES["axial"][0],
              1 - PLACES["axial"][3], 1 - PLACES["axial"][2]),
    "coronal": (1 - PLACES["coronal"][1], 1 - PLACES["coronal"][0], *PLACES["coronal"][2:]),
    "sagittal": (1 - PLACES["sagittal"][1], 1 - PLACES["sagittal"][0], *PLACES["sagittal"][2:]),
}
INSIDE = {"axial": CZ.start + 1, "coronal": CY.start + 1, "sagittal": CX.start + 1}
OUTSIDE = {"axial": 2, "coronal": 3, "sagittal": 12}
FILES = {
    "raw": (samples.raw_bytes, {"shape": list(samples.SHAPE), "spacing": samples.SPACING}),
    "npy": (samples.npy_bytes, {}),
    "npy-fortran": (lambda: samples.npy_bytes(fortran=True), {}),
    "nifti": (samples.nifti_bytes, {}),
    "nifti-gz": (lambda: samples.nifti_bytes(packed=True), {}),
    "dicom-zip": (lambda: samples.zipped(samples.dicom_files()), {}),
}


def submit(api, data, params, filename="volume.bin"):
    """POST a load_array request with this file; returns the response."""
    return api.post("/api/requests", content_type="multipart/form-data", data={
        "job_type": "load_array", "params": json.dumps(params),
        "file": (io.BytesIO(data), filename)})


def stored(app):
    """Rows a refused submission must not add."""
    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM uploads),"
            " (SELECT count(*) FROM upload_chunks), (SELECT count(*) FROM volume_caches)")).one()
        db.session.rollback()
    return tuple(row)


def run(app, api, data, params):
    """Submit and wait for success; returns the request object."""
    response = submit(api, data, params)
    assert response.status_code == 201, response.get_json()
    request_id = response.get_json()["id"]
    row = wait_status(app, request_id, ("success", "failure", "timeout"), timeout=90)
    assert row["status"] == "success", row["error"]
    return api.get(f"/api/requests/{request_id}").get_json()


def decode(body):
    """A PNG as an array (8-bit grayscale)."""
    image = Image.open(io.BytesIO(body))
    assert image.mode == "L"
    return np.asarray(image)


def bright_box(image):
    """(left, right, top, bottom) of the white pixels as fractions of the image."""
    rows, cols = np.nonzero(image > 127)
    assert rows.size, "no bright pixel in the image"
    height, width = image.shape
    return (cols.min() / width, (cols.max() + 1) / width, rows.min() / height,
            (rows.max() + 1) / height)


def expected_size(view):
    """(width, height) ratio of a view in mm: the image keeps the voxel aspect ratio."""
    sx, sy, sz = samples.SPACING
    return {"axial": (X * sx, Y * sy), "coronal": (X * sx, Z * sz),
            "sagittal": (Y * sy, Z * sz)}[view]


@pytest.mark.parametrize("name", list(FILES))
def test_each_format_loads_with_numpy_statistics_and_the_cube_in_place(app, stack, api, name):
    make, params = FILES[name]
    fmt = {"npy-fortran": "npy", "nifti-gz": "nifti"}.get(name, name)
    values, background, cube = samples.expected(name if name != "npy-fortran" else "npy")
    body = run(app, api, make(), params)
    result = body["result"]
    assert result["format"] == fmt and body["params"]["format"] == fmt
    assert result["shape"] == [X, Y, Z]
    assert result["dtype"] == {"raw": "float32", "npy": "int16", "nifti": "float32",
                               "dicom-zip": "float32"}[fmt]
    if fmt == "npy":
        assert result["spacing_mm"] is None
    else:
        assert result["spacing_mm"] == pytest.approx(samples.SPACING)
    assert (result["modality"], result["units"]) == (
        ("CT", "HU") if fmt == "dicom-zip" else (None, None))
    assert result["min"] == values.min() and result["max"] == values.max() == cube
    assert result["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert result["std"] == pytest.approx(values.std(), rel=1e-9)
    assert result["nonzero_fraction"] == np.count_nonzero(values) / values.size
    counts, edges = np.histogram(values, bins=64, range=(values.min(), values.max()))
    histogram = result["histogram"]
    assert histogram["bins"] == 64 and histogram["counts"] == counts.tolist()
    assert histogram["edges"] == pytest.approx(edges.tolist())

    described = api.get(f"/api/requests/{body['id']}/volume").get_json()
    assert described["shape"] == [X, Y, Z]
    assert described["slices"] == {"axial": Z, "coronal": Y, "sagittal": X}
    assert {"soft_tissue", "lung", "bone", "pet", "full"} <= set(described["windows"])
    assert (described["windows"]["lung"]["level"], described["windows"]["lung"]["width"]) == (
        -600.0, 1500.0)
    low, high = np.percentile(values, [0.5, 99.5])
    pet, step = described["windows"]["pet"], (values.max() - values.min()) / 4096
    assert pet["level"] - pet["width"] / 2 == pytest.approx(low, abs=2 * step)
    assert pet["level"] + pet["width"] / 2 == pytest.approx(high, abs=2 * step)
    # A window whose level sits between the background and the cube: the cube alone is white
    # (no orientation letters: they are white too).
    window = f"level={(background + cube) / 2}&width=1&labels=0"
    base = f"/requests/{body['id']}/volume"
    assert described["orientation"] == (None if fmt in ("raw", "npy") else "RAS")
    for view, place in (PLACES if fmt in ("raw", "npy") else RADIOLOGICAL).items():
        inside = api.get(f"{base}/{view}/{INSIDE[view]}.png?{window}")
        assert inside.status_code == 200 and inside.content_type == "image/png"
        image = decode(inside.get_data())
        assert bright_box(image) == pytest.approx(place, abs=0.01), (view, name)
        if result["spacing_mm"]:
            width_mm, height_mm = expected_size(view)
            assert image.shape[1] / image.shape[0] == pytest.approx(width_mm / height_mm,
                                                                     rel=0.02), view
        outside = decode(api.get(f"{base}/{view}/{OUTSIDE[view]}.png?{window}").get_data())
        assert not (outside > 127).any(), (view, name)
        projection = decode(api.get(f"{base}/{view}/mip.png?{window}").get_data())
        assert bright_box(projection) == pytest.approx(place, abs=0.01), (view, "mip", name)


def test_viewer_endpoints_answer_404_422_304_and_need_a_sign_in(app, stack, api, client):
    body = run(app, api, samples.npy_bytes(), {})
    base = f"/requests/{body['id']}/volume"
    assert api.get(f"{base}/axial/{Z}.png").status_code == 404
    assert api.get(f"{base}/sagittal/{X - 1}.png").status_code == 200
    assert api.get(f"{base}/oblique/1.png").status_code == 404
    assert api.get(f"/requests/{body['id'] + 1}/volume/axial/1.png").status_code == 404
    assert api.get(f"/api/requests/{body['id'] + 1}/volume").status_code == 404
    bad = api.get(f"{base}/axial/1.png?window=mediastinum")
    assert bad.status_code == 422 and bad.get_json()["error"].startswith("window: unknown")
    assert api.get(f"{base}/axial/1.png?level=40&width=0").status_code == 422
    assert api.get(f"{base}/axial/1.png?level=x&width=3").status_code == 422

    first = api.get(f"{base}/axial/4.png?window=lung")
    assert first.status_code == 200 and first.headers["ETag"]
    assert "private" in first.headers["Cache-Control"]
    again = client.get(f"{base}/axial/4.png?window=lung",
                       headers={**api.headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()
    other = api.get(f"{base}/axial/4.png?window=bone")
    assert other.headers["ETag"] != first.headers["ETag"]
    assert decode(other.get_data()).shape == decode(first.get_data()).shape

    anonymous = app.test_client().get(f"{base}/axial/4.png")
    assert anonymous.status_code in (302, 401)
    assert not anonymous.get_data().startswith(b"\x89PNG")
    assert app.test_client().get(f"/api/requests/{body['id']}/volume").status_code == 401


def test_zip_members_outside_the_archive_are_skipped(app, stack, api):
    series = samples.dicom_files()
    stranger = samples.dicom_files(series_uid="1.2.826.0.1.3680043.8.498.99")[:2]
    files = series + [("../" + stranger[0][0], stranger[0][1]),
                      ("/abs/" + stranger[1][0], stranger[1][1])]
    body = run(app, api, samples.zipped(files), {})
    assert body["result"]["shape"] == [X, Y, Z]


def _nifti_with(**fields):
    """The sample NIfTI with header fields overwritten."""
    import nibabel as nib
    data = samples.nifti_bytes()
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(data[:348]), check=False)
    for key, value in fields.items():
        header[key] = value
    return header.binaryblock + data[348:]


def _big_zero_nifti(megabytes):
    """A gzipped NIfTI of zeros that unpacks to about `megabytes`."""
    import nibabel as nib
    side = int((megabytes * 1024 * 1024 / 4) ** (1 / 3)) + 1
    return gzip.compress(nib.Nifti1Image(np.zeros((side, side, side), np.float32),
                                         np.eye(4)).to_bytes())


def _slices(n, rows=None):
    """n DICOM files of one series (optionally one of them with other rows)."""
    files = samples.dicom_files()[:n]
    if rows:
        odd = np.zeros((rows, X), np.int16)
        files[0] = ("odd.dcm", samples.dicom_slice(odd, 500.0, "1.2.826.0.1.3680043.8.498.2", 99))
    return files


def _cut(files, index, keep):
    """The files with one of them cut to its first `keep` bytes."""
    name, data = files[index]
    return files[:index] + [(name, data[:keep])] + files[index + 1:]


BAD_FILES = {
    "npy header cut short": (b"\x93NUMPY\x01\x00\x76\x00{'descr': '<i2', 'fortr", {},
                             "file: corrupt or truncated NumPy"),
    "npy shorter than its header says": (samples.npy_bytes()[:-10], {},
                                         "file: size 15478 bytes does not match the npy header"),
    "npy of two dimensions": (lambda: _npy(np.zeros((4, 4), np.float32)), {},
                              "file: the npy array has shape [4, 4]"),
    "raw size mismatch": (samples.raw_bytes()[:-4], {"shape": list(samples.SHAPE)},
                          "file: size 30716 bytes does not match shape"),
    "raw without shape": (b"\x01" * 64, {}, "params.shape: is required for a raw file"),
    "shape for an npy": (samples.npy_bytes(), {"shape": [1, 2, 3]},
                         "params.shape: only for raw files (this file is npy)"),
    "nifti header with an unknown data type": (lambda: _nifti_with(datatype=9999), {},
                                               "file: corrupt NIfTI header (data code 9999"),
    "nifti header with an impossible offset": (lambda: _nifti_with(vox_offset=10), {},
                                               "file: corrupt NIfTI header (vox offset 10"),
    "nifti header with empty axes": (lambda: _nifti_with(dim=[3, 0, 4, 4, 1, 1, 1, 1]), {},
                                     "file: corrupt NIfTI header: shape [0, 4, 4] has an"
                                     " empty axis"),
    "nifti truncated": (samples.nifti_bytes()[:-100], {}, "file: truncated NIfTI"),
    "nifti.gz truncated": (samples.nifti_bytes(packed=True)[:-40], {},
                           "file: corrupt or truncated gzip"),
    "gzip that is not NIfTI": (gzip.compress(b"hello" * 200), {},
                               "file: no NIfTI-1 or NIfTI-2 header inside the gzip"),
    "zip corrupt": (b"PK\x03\x04" + b"\x00" * 200, {}, "file: corrupt or truncated zip"),
    "zip without a DICOM slice": (samples.zipped([("readme.txt", b"hello"), ("a.bin", b"x" * 300)]),
                                  {}, "file: no readable DICOM slice in the zip (2 files"),
    "zip of two series": (lambda: samples.zipped(
        samples.dicom_files()[:3]
        + samples.dicom_files(series_uid="1.2.826.0.1.3680043.8.498.7", prefix="b")[:3]), {},
        "file: the zip holds 2 series"),
    "slices of different sizes": (lambda: samples.zipped(_slices(4, rows=Y + 2)), {},
                                  "file: slices of different sizes in one series: 20x24, 22x24"),
    "a DICOM slice cut short": (lambda: samples.zipped(_cut(samples.dicom_files(), 2, 1200)),
                                {}, "file: slice-0190.dcm: truncated DICOM (pixel data needs"
                                    " 1758 bytes, the file has 1200)"),
    "zip whose directory lies about a size": (
        lambda: samples.lie_about_size(samples.zipped(samples.dicom_files(),
                                                      zipfile.ZIP_STORED), 3), {},
        "file: slice-0947.dcm: corrupt zip member (Bad CRC-32"),
}


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_with_the_reason_and_nothing_stored(app, api, case):
    data, params, message = BAD_FILES[case]
    data = data() if callable(data) else data
    before = stored(app)
    response = submit(api, data, params)
    assert response.status_code == 422, (case, response.get_json())
    assert response.get_json()["error"].startswith(message), response.get_json()["error"]
    assert stored(app) == before


def test_archives_past_max_volume_mb_are_refused_before_unpacking(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_VOLUME_MB", 2)
    before = stored(app)
    bomb = samples.zipped([("zeros.dcm", b"\x00" * (3 * 1024 * 1024))])
    assert len(bomb) < 100_000
    response = submit(api, bomb, {})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("file: the zip would unpack to 3 MB, more"
                                                   " than MAX_VOLUME_MB (2 MB)")
    response = submit(api, _big_zero_nifti(3), {})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith(
        "file: the gzip unpacks to more than MAX_VOLUME_MB (2 MB)")
    assert stored(app) == before


def test_forced_format_reads_the_file_as_that_format(app, api):
    # An npy file forced to raw is measured as raw bytes: 128 header bytes too many.
    response = submit(api, samples.npy_bytes(), {"format": "raw", "shape": list(samples.SHAPE),
                                                  "dtype": "int16"})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("file: size 15488 bytes does not match")
    response = submit(api, samples.raw_bytes(), {"format": "nifti"})
    assert response.status_code == 422 and "NIfTI" in response.get_json()["error"]


def _shipped_nifti(name):
    import nibabel.testing
    import os
    return os.path.join(nibabel.testing.data_path, name)


def _assert_numpy_statistics(result, values):
    """The result's statistics equal NumPy's over `values` (float64)."""
    assert result["min"] == values.min() and result["max"] == values.max()
    assert result["mean"] == pytest.approx(values.mean(), rel=1e-9)
    assert result["std"] == pytest.approx(values.std(), rel=1e-6)
    assert result["nonzero_fraction"] == np.count_nonzero(values) / values.size
    counts, _ = np.histogram(values, bins=64, range=(values.min(), values.max()))
    assert result["histogram"]["counts"] == counts.tolist()


@pytest.mark.parametrize("name", ["anatomical.nii", "reoriented_anat_moved.nii",
                                  "standard.nii.gz"])
def test_nifti_files_nibabel_ships_load_as_nibabel_reads_them(app, stack, api, name):
    import nibabel as nib
    path = _shipped_nifti(name)
    canonical = nib.as_closest_canonical(nib.load(path))
    values = np.asanyarray(canonical.dataobj).astype(np.float64)
    with open(path, "rb") as fh:
        body = run(app, api, fh.read(), {})
    result = body["result"]
    assert result["format"] == "nifti" and result["shape"] == list(values.shape)
    assert result["spacing_mm"] == pytest.approx([float(z) for z in
                                                  canonical.header.get_zooms()[:3]])
    _assert_numpy_statistics(result, values)
    # The middle axial slice as served equals nibabel's canonical data, drawn radiologically
    # (the patient's right, high x, on the left; anterior, high y, at the top) and windowed.
    k = values.shape[2] // 2
    lo, hi = values.min(), values.max()
    image = decode(api.get(f"/requests/{body['id']}/volume/axial/{k}.png?level={(lo + hi) / 2}"
                           f"&width={hi - lo}&labels=0").get_data())
    plane = values[::-1, ::-1, k].T                             # rows y down, columns x down
    want = np.rint(np.clip((plane - lo) * 255.0 / (hi - lo), 0, 255))
    # Nearest neighbour: each pixel shows the voxel under its centre.
    rows = ((np.arange(image.shape[0]) + 0.5) * plane.shape[0] / image.shape[0]).astype(int)
    cols = ((np.arange(image.shape[1]) + 0.5) * plane.shape[1] / image.shape[1]).astype(int)
    assert np.abs(image.astype(int) - want[np.ix_(rows, cols)].astype(int)).max() <= 1


def test_four_dimensional_nifti_without_a_frame_is_refused_naming_frame(app, api):
    before = stored(app)
    with open(_shipped_nifti("example4d.nii.gz"), "rb") as fh:
        response = submit(api, fh.read(), {})
    assert response.status_code == 422
    assert response.get_json()["error"] == (
        "params.frame: is required: this NIfTI holds 2 frames (shape [128, 96, 24, 2]);"
        " give an index from 0 to 1, or \"sum\"")
    assert stored(app) == before


def test_dicom_files_pydicom_ships(app, stack, api):
    import pydicom
    from pydicom.data import get_testdata_file
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    values = (ds.pixel_array.T.astype(np.float64) * float(ds.RescaleSlope)
              + float(ds.RescaleIntercept))[:, :, None]
    with open(path, "rb") as fh:
        body = run(app, api, samples.zipped([("ct/CT_small.dcm", fh.read())]), {})
    result = body["result"]
    assert result["format"] == "dicom-zip" and result["shape"] == [128, 128, 1]
    assert (result["modality"], result["units"]) == ("CT", "HU")
    assert result["spacing_mm"][:2] == pytest.approx([float(ds.PixelSpacing[1]),
                                                      float(ds.PixelSpacing[0])])
    _assert_numpy_statistics(result, values)

    before = stored(app)
    with open(get_testdata_file("MR_truncated.dcm"), "rb") as fh:
        response = submit(api, samples.zipped([("MR_truncated.dcm", fh.read())]), {})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("file: MR_truncated.dcm: truncated DICOM")
    assert stored(app) == before


def test_the_web_cache_directory_keeps_the_most_recently_used_copies(tmp_path):
    import os
    from dashboard.volumes import cache
    for age, name in enumerate(["upload-3-c.bin", "upload-1-a.bin", "upload-2-b.bin"]):
        path = tmp_path / name
        path.write_bytes(b"\0" * 1000)
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    (tmp_path / ".partial-x").write_bytes(b"\0" * 5000)          # a copy still being written
    cache.prune(str(tmp_path), 2000, keep=str(tmp_path / "upload-3-c.bin"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".partial-x", "upload-2-b.bin",
                                                          "upload-3-c.bin"]


def test_a_dicom_slice_without_rows_is_refused_not_a_crash(app, api):
    import pydicom
    name, data = samples.dicom_files()[0]
    ds = pydicom.dcmread(io.BytesIO(data))
    del ds.Rows
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    before = stored(app)
    response = submit(api, samples.zipped([(name, buffer.getvalue())]), {})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("file: ")
    assert stored(app) == before


@pytest.mark.parametrize("name", ["npy", "nifti", "nifti-gz", "dicom-zip"])
def test_every_cut_of_a_good_file_is_refused_with_a_reason(app, api, name):
    data = FILES[name][0]()
    before = stored(app)
    for keep in sorted({10, 100, 347, 400, 1000, len(data) // 3, len(data) // 2, len(data) - 1}):
        response = submit(api, data[:keep], {})
        assert response.status_code == 422, (name, keep, response.get_json())
        assert response.get_json()["error"].startswith(("file: ", "params.shape: is required")), \
            (name, keep, response.get_json())
    assert stored(app) == before
