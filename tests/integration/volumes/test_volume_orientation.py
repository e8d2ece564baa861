"""One patient orientation and checked series geometry, on files nobody here made.

pydicom ships a CT series (dicomdirtests/98892001/CT5N); dicom2nifti converts it to
NIfTI independently. Both, loaded through the API and real workers, must hold the
same RAS+ array and affine. pydicom's multi-orientation MR angiography projections
and its CT series with a 202.5 mm gap get their 422 at submit; a 4-D NIfTI nibabel
ships needs `frame`.
"""
import glob
import io
import os

import numpy as np
import pytest
from sqlalchemy import text

from dashboard import uploads
from dashboard.extensions import db
from tests.integration.volumes.test_volumes import run, stored, submit
from tests.support import volume_samples as samples


def dicomdir_series(name):
    """The folder of one of pydicom's dicomdirtests series."""
    import pydicom.data
    return os.path.join(os.path.dirname(pydicom.data.__file__), "test_files", "dicomdirtests",
                        name)


def zipped_folder(folder):
    """A zip of every file in `folder`."""
    files = []
    for path in sorted(glob.glob(os.path.join(folder, "*"))):
        with open(path, "rb") as fh:
            files.append((os.path.basename(path), fh.read()))
    return samples.zipped(files)


def layer(app, request_id, name="main"):
    """The array a load_array attempt stored for `name`, read back from PostgreSQL."""
    with app.app_context():
        row = db.session.execute(text(
            "SELECT v.upload_id, v.byte_offset, v.dtype, v.shape, v.fortran_order"
            " FROM volume_caches v JOIN requests r ON r.id = v.request_id"
            " AND r.attempt = v.attempt WHERE r.id = :id AND v.layer = :layer"),
            {"id": request_id, "layer": name}).mappings().one()
        buffer = io.BytesIO()
        uploads.copy_to(row["upload_id"], buffer)
        db.session.rollback()
    data = buffer.getvalue()[row["byte_offset"]:]
    return np.frombuffer(data, np.dtype(row["dtype"])).reshape(
        row["shape"], order="F" if row["fortran_order"] else "C")


def test_a_ct_series_and_the_nifti_dicom2nifti_makes_of_it_load_the_same(app, stack, api,
                                                                         tmp_path):
    import dicom2nifti
    import nibabel as nib
    folder = dicomdir_series("98892001/CT5N")
    dicom2nifti.convert_dicom.dicom_series_to_nifti(folder, str(tmp_path / "ct.nii.gz"))
    as_dicom = run(app, api, zipped_folder(folder), {})
    as_nifti = run(app, api, (tmp_path / "ct.nii.gz").read_bytes(), {})
    dicom, nifti = as_dicom["result"], as_nifti["result"]
    assert (dicom["format"], nifti["format"]) == ("dicom-zip", "nifti")
    assert dicom["orientation"] == nifti["orientation"] == "RAS"
    assert dicom["layers"] == nifti["layers"] == ["main"]
    assert dicom["shape"] == nifti["shape"] == [16, 16, 5]
    assert np.allclose(dicom["affine"], nifti["affine"], atol=1e-3)
    assert nib.aff2axcodes(np.array(dicom["affine"])) == ("R", "A", "S")
    assert dicom["spacing_mm"] == pytest.approx(nifti["spacing_mm"], abs=1e-6)
    from_dicom = layer(app, as_dicom["id"]).astype(np.float64)
    from_nifti = layer(app, as_nifti["id"]).astype(np.float64)
    assert np.array_equal(from_dicom, from_nifti)
    # And nibabel's own reading of dicom2nifti's file, brought to RAS+, is that array.
    canonical = nib.as_closest_canonical(nib.load(tmp_path / "ct.nii.gz"))
    assert np.array_equal(from_dicom, np.asanyarray(canonical.dataobj).astype(np.float64))
    assert (dicom["modality"], dicom["units"]) == ("CT", "HU")
    for key in ("min", "max", "mean", "std"):
        assert dicom[key] == pytest.approx(nifti[key], rel=1e-9)


def test_the_first_voxel_of_a_ct_series_lies_where_its_header_says(app, stack, api):
    import pydicom
    folder = dicomdir_series("98892001/CT5N")
    body = run(app, api, zipped_folder(folder), {})
    affine = np.array(body["result"]["affine"])
    headers = [pydicom.dcmread(path, stop_before_pixels=True)
               for path in sorted(glob.glob(os.path.join(folder, "*")))]
    lowest = min(headers, key=lambda ds: float(ds.ImagePositionPatient[2]))
    # Its first pixel (row 0, column 0) in RAS+ mm: LPS x and y negated.
    x, y, z = (float(v) for v in lowest.ImagePositionPatient)
    shape = body["result"]["shape"]
    # IOP 1,0,0,0,1,0: columns go toward the left, rows toward posterior, so in RAS+ order the
    # first pixel is at the highest i and j of the lowest slice.
    assert affine @ [shape[0] - 1, shape[1] - 1, 0, 1] == pytest.approx([-x, -y, z, 1], abs=1e-4)
    pixels = layer(app, body["id"])
    first = pydicom.dcmread(lowest.filename)
    want = first.pixel_array[0, 0] * float(first.RescaleSlope) + float(first.RescaleIntercept)
    assert pixels[shape[0] - 1, shape[1] - 1, 0] == want


@pytest.mark.parametrize("name, message", [
    ("98892003/MR700", "file: slices of one series have different orientations"),
    ("98892001/CT2N", "file: slices of one series have different orientations"),
    ("77654033/CT2", "file: uneven slice gaps: 202.5, 1.25, 1.25 mm"),
])
def test_series_of_several_orientations_or_uneven_gaps_are_refused_at_submit(app, api, name,
                                                                             message):
    before = stored(app)
    response = submit(api, zipped_folder(dicomdir_series(name)), {})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"].startswith(message), response.get_json()["error"]
    assert stored(app) == before


def _example4d():
    import nibabel.testing
    with open(os.path.join(nibabel.testing.data_path, "example4d.nii.gz"), "rb") as fh:
        return fh.read()


def test_a_four_dimensional_nifti_loads_the_frame_asked_for_or_their_sum(app, stack, api):
    import nibabel as nib
    import nibabel.testing
    image = nib.load(os.path.join(nibabel.testing.data_path, "example4d.nii.gz"))
    data = np.asanyarray(image.dataobj).astype(np.float64)
    for frame, want in ((1, data[..., 1]), ("sum", data.sum(axis=3))):
        canonical = nib.as_closest_canonical(nib.Nifti1Image(want, image.affine))
        body = run(app, api, _example4d(), {"frame": frame})
        result = body["result"]
        assert (result["frame"], result["frames"]) == (frame, 2)
        assert body["params"]["frame"] == frame
        assert result["shape"] == list(canonical.shape)
        assert np.allclose(result["affine"], canonical.affine, atol=1e-4)
        values = np.asanyarray(canonical.dataobj)
        assert np.allclose(layer(app, body["id"]), values, rtol=1e-6)
        assert result["max"] == pytest.approx(values.max(), rel=1e-6)


@pytest.mark.parametrize("params, message", [
    ({"frame": 2}, "params.frame: 2 is not a frame of this NIfTI: give an index from 0 to 1"),
    ({"frame": "last"}, "params.frame: "),
    ({"frame": -1}, "params.frame: "),
])
def test_a_frame_out_of_range_is_refused_naming_frame(app, api, params, message):
    before = stored(app)
    response = submit(api, _example4d(), params)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"].startswith(message), response.get_json()["error"]
    assert stored(app) == before


def test_a_frame_for_a_three_dimensional_file_is_refused(app, api):
    response = submit(api, samples.nifti_bytes(), {"frame": 0})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("params.frame: only for 4-D NIfTI files")
    response = submit(api, samples.npy_bytes(), {"frame": 0})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("params.frame: only for 4-D NIfTI files")


def test_the_new_request_form_takes_a_frame_as_typed(app, stack, signed_in):
    from tests.support.db import fetch, wait_status
    from tests.support.http import csrf_token
    client, _, _ = signed_in("operator")
    fields = client.get("/requests/new/fields?job_type=load_array").get_data(as_text=True)
    assert 'id="p-frame"' in fields
    token = csrf_token(client.get("/requests/new").get_data(as_text=True))
    refused = client.post("/requests/new", content_type="multipart/form-data", data={
        "csrf_token": token, "job_type": "load_array", "params": "",
        "file": (io.BytesIO(_example4d()), "pet.nii.gz")})
    assert refused.status_code == 422
    assert "params.frame: is required" in refused.get_data(as_text=True)
    for typed, kept in (("sum", "sum"), (" 1 ", 1)):
        made = client.post("/requests/new", content_type="multipart/form-data", data={
            "csrf_token": token, "job_type": "load_array", "params": "", "p.frame": typed,
            "file": (io.BytesIO(_example4d()), "pet.nii.gz")})
        assert made.status_code == 302, made.get_data(as_text=True)[:500]
        request_id = int(made.headers["Location"].rsplit("/", 1)[1])
        assert fetch(app, request_id)["params"]["frame"] == kept
        row = wait_status(app, request_id, ("success", "failure"), timeout=90)
        assert row["status"] == "success" and row["result"]["frame"] == kept
