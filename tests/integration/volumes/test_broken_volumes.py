"""Broken volumes made from real files (nibabel's and pydicom's test data, headers altered).

Each kind answers 422 at submit naming what is wrong, and stores nothing: no request
row, no upload. A volume whose values are extreme but real loads, and its result holds
only finite numbers.
"""
import gzip
import io
import math
import os
import warnings

import numpy as np
import pytest

from tests.integration.volumes.test_volumes import run, stored, submit
from tests.support import volume_samples as samples


def _nibabel_file(name):
    import nibabel.testing
    with open(os.path.join(nibabel.testing.data_path, name), "rb") as fh:
        return fh.read()


def _nifti(**fields):
    """nibabel's anatomical.nii with header fields set through nibabel's header API."""
    import nibabel as nib
    data = _nibabel_file("anatomical.nii")
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(data[:348]), check=False)
    for key, value in fields.items():
        header[key] = value
    return header.binaryblock + data[348:]


def _pixdim(x, y=1.0, z=1.0):
    return {"pixdim": [1.0, x, y, z, 1.0, 1.0, 1.0, 1.0]}


def _npy_header_only(shape, descr="<f4"):
    """An npy file whose header declares `shape` (written with NumPy's own header writer)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _dicom(name, **attributes):
    """A zip of one of pydicom's test files with some attributes changed."""
    import pydicom
    from pydicom.data import get_testdata_file
    ds = pydicom.dcmread(get_testdata_file(name))
    buffer = io.BytesIO()
    with warnings.catch_warnings():          # pydicom warns of the values broken on purpose
        warnings.simplefilter("ignore")
        for key, value in attributes.items():
            setattr(ds, key, value)
        ds.save_as(buffer)
    return samples.zipped([(name, buffer.getvalue())])


def _series(change):
    """The sample CT series with change(dataset, index) applied to each slice."""
    import pydicom
    files = []
    for k, (name, data) in enumerate(samples.dicom_files()):
        ds = pydicom.dcmread(io.BytesIO(data))
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            change(ds, k)
            ds.save_as(buffer, enforce_file_format=True)
        files.append((name, buffer.getvalue()))
    return samples.zipped(files)


FIRST = samples.dicom_files()[0][0]           # the name of the slice _first_position changes


def _first_position(value):
    def change(ds, k):
        if k == 0:
            ds.ImagePositionPatient = [0.0, 0.0, value]
    return change


def _gz_cut():
    """nibabel's example gzipped NIfTI cut in the middle of its data: its header still parses."""
    import nibabel as nib
    vol = np.random.default_rng(4).normal(size=(64, 64, 32)).astype(np.float32)
    packed = gzip.compress(nib.Nifti1Image(vol, np.eye(4)).to_bytes())
    return packed[:len(packed) // 2]


# kind: (file maker, params, the start of the refusal)
BROKEN = {
    "nifti voxel size NaN": (lambda: _nifti(**_pixdim(float("nan"))), {},
                             "file: voxel size nan mm along"),
    "nifti voxel size Infinity": (lambda: _nifti(**_pixdim(float("inf"))), {},
                                  "file: voxel size inf mm along"),
    "nifti voxel size overflowing": (lambda: _nifti(**_pixdim(3e38, 3e38, 3e38)), {},
                                     "file: voxel size 3e+38 mm along"),
    "nifti voxel size tiny": (lambda: _nifti(**_pixdim(1e-30)), {},
                              "file: voxel size 1e-30 mm along"),
    "nifti position Infinity": (lambda: _nifti(sform_code=1, srow_x=[1.0, 0, 0, float("inf")]),
                                {}, "file: the NIfTI header's voxel-to-world transform"),
    "nifti negative axis": (lambda: _nifti(dim=[3, -124, 256, 17, 1, 1, 1, 1]), {},
                            "file: corrupt NIfTI header: shape [-124, 256, 17]"),
    "nifti.gz truncated, its header intact": (_gz_cut, {}, "file: corrupt or truncated gzip"),
    "npy zero axis": (lambda: _npy_header_only((0, 4, 4)), {},
                      "file: the volume's shape [0, 4, 4] has an axis without voxels"),
    "npy negative axis": (lambda: _npy_header_only((-4, 4, 4)), {},
                          "file: the volume's shape [-4, 4, 4] has an axis without voxels"),
    "npy shape whose product overflows": (lambda: _npy_header_only((2 ** 31,) * 3), {},
                                          "file: size 128 bytes does not match the npy header"),
    "npy shape whose product wraps to zero": (lambda: _npy_header_only((2 ** 32, 2 ** 32, 1)),
                                              {}, "file: size 128 bytes does not match"),
    "raw voxel size tiny": (samples.raw_bytes, {"shape": list(samples.SHAPE),
                                                "spacing": [1e-30, 1, 1]},
                            "params.spacing.0: 1e-30 is less than the minimum of 0.0001"),
    "dicom pixel spacing NaN": (lambda: _dicom("CT_small.dcm", PixelSpacing=["NaN", "0.5"]),
                                {}, "file: voxel size nan mm along"),
    "dicom pixel spacing overflowing": (
        lambda: _dicom("CT_small.dcm", PixelSpacing=["1e400", "0.5"]), {},
        "file: voxel size inf mm along"),
    "dicom pixel spacing zero": (lambda: _dicom("CT_small.dcm", PixelSpacing=["0", "0.5"]), {},
                                 "file: voxel size 0 mm along"),
    "dicom position NaN": (lambda: _series(_first_position("NaN")), {},
                           f"file: {FIRST}: ImagePositionPatient"),
    "dicom position overflowing": (lambda: _series(_first_position("1e999")), {},
                                   f"file: {FIRST}: ImagePositionPatient"),
    "dicom zero rows": (lambda: _dicom("MR_small.dcm", Rows=0), {},
                        "file: MR_small.dcm: 0 x 64 pixels"),
    "dicom colour image": (lambda: _dicom("SC_rgb_small_odd.dcm"), {},
                           "file: SC_rgb_small_odd.dcm: a colour image (RGB, 3 samples per"
                           " pixel); a volume has one grey value per voxel"),
    "dicom palette colour": (lambda: _dicom("MR_small.dcm", PhotometricInterpretation=
                                            "PALETTE COLOR"), {},
                             "file: MR_small.dcm: a colour image (PALETTE COLOR"),
    "dicom 1 bit allocated": (lambda: _dicom("liver_1frame.dcm"), {},
                              "file: liver_1frame.dcm: BitsAllocated is 1; only 8, 16"),
    "dicom 12 bits allocated": (lambda: _dicom("MR_small.dcm", BitsAllocated=12), {},
                                "file: MR_small.dcm: BitsAllocated is 12; only 8, 16"),
    "dicom 0 bits allocated": (lambda: _dicom("MR_small.dcm", BitsAllocated=0), {},
                               "file: MR_small.dcm: BitsAllocated is 0; only 8, 16"),
    "dicom 12 bits allocated, rescaled": (lambda: _dicom("CT_small.dcm", BitsAllocated=12), {},
                                          "file: CT_small.dcm: BitsAllocated is 12; only 8, 16"),
    "dicom more bits stored than allocated": (lambda: _dicom("MR_small.dcm", BitsStored=20),
                                              {}, "file: MR_small.dcm: BitsStored is 20 in 16"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_volume_is_refused_at_submit_with_nothing_stored(app, api, kind):
    make, params, message = BROKEN[kind]
    before = stored(app)
    response = submit(api, make(), params)
    assert response.status_code == 422, (kind, response.status_code, response.get_data()[:300])
    assert response.get_json()["error"].startswith(message), response.get_json()["error"]
    assert stored(app) == before


def test_values_whose_window_width_overflows_load_with_finite_windows(app, stack, api):
    vol = np.zeros((8, 6, 4))
    vol[1, 2, 3], vol[5, 1, 0] = -1.5e308, 1.7e308
    buffer = io.BytesIO()
    np.save(buffer, vol)
    body = run(app, api, buffer.getvalue(), {})
    result = body["result"]
    assert (float(result["min"]), float(result["max"])) == (-1.5e308, 1.7e308)
    full = result["windows"]["full"]
    level, width = float(full["level"]), float(full["width"])   # jsonb gives big ones as ints
    assert math.isfinite(level) and math.isfinite(width) and width > 0
    described = api.get(f"/api/requests/{body['id']}/volume").get_json()
    assert float(described["windows"]["full"]["width"]) == width
    page = api.get(f"/requests/{body['id']}")
    assert page.status_code == 200
    image = api.get(f"/requests/{body['id']}/volume/axial/3.png")
    assert image.status_code == 200 and image.content_type == "image/png"


@pytest.mark.parametrize("spacing", [[1e-30, 2.0, 2.5], [2.0, 1e-310, 1e300],
                                     [0.0, -1.0, 2.0]])
def test_a_stored_volume_with_odd_voxel_sizes_still_shows(app, stack, api, spacing):
    """Volumes kept from before the submit check: the page, the API and the images answer."""
    from tests.support.db import sql
    body = run(app, api, samples.npy_bytes(), {})
    sql(app, "UPDATE requests SET result = jsonb_set(result, '{spacing_mm}', CAST(:s AS jsonb))"
             " WHERE id = :id", s=str(spacing), id=body["id"])
    assert api.get(f"/requests/{body['id']}").status_code == 200
    described = api.get(f"/api/requests/{body['id']}/volume")
    assert described.status_code == 200
    for view in ("axial", "coronal", "sagittal"):
        image = api.get(f"/requests/{body['id']}/volume/{view}/1.png")
        assert image.status_code == 200 and image.content_type == "image/png", view
        mip = api.get(f"/requests/{body['id']}/volume/{view}/mip.png")
        assert mip.status_code == 200, view
