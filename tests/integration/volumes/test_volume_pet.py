"""PET as a reader needs it: SUV from the series' own dose, times and weight, and PET over CT.

No package ships a real PET file, so the series are built with pydicom from values
the test knows; the SUV factor is computed here again from those values (QIBA body
weight) and compared with what the worker found. A CT and a PT series of one frame
of reference, with one hot PET voxel at a known patient position, load as layers
"ct" and "pet": the resampled PET is brightest at the CT voxel of that position.
"""
import io
import math

import numpy as np
import pytest

from tests.integration.volumes.test_volume_orientation import layer
from tests.integration.volumes.test_volumes import run, stored, submit
from tests.support import volume_samples as samples

PET_SHAPE = (10, 8, 6)
PET_SPACING = [4.0, 4.0, 5.0]


def expected_factor():
    """QIBA SUVbw: weight in g over the dose decayed from injection (09:30) to scan (10:30)."""
    decayed = samples.PET_DOSE_BQ * math.exp(-math.log(2) * 3600.0 / samples.PET_HALF_LIFE_S)
    return samples.PET_WEIGHT_KG * 1000.0 / decayed


def pet_series(facts=None, values=None, slopes=None, **geometry):
    """[(name, bytes)] of a PT series (stored uint16 values, one RescaleSlope per slice)."""
    values = (np.random.default_rng(4).integers(10, 400, PET_SHAPE).astype(np.uint16)
              if values is None else values)
    slopes = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0][:values.shape[2]] if slopes is None else slopes
    options = {"spacing": PET_SPACING, "origin": (-20.0, -16.0, -15.0),
               "series_uid": "1.2.826.0.1.3680043.8.498.30", **geometry}
    return samples.series_files(values, modality="PT", slopes=slopes,
                                extra=samples.pet_facts() if facts is None else facts,
                                **options), values, slopes


def test_a_pet_series_in_bqml_gets_its_suv_from_dose_times_and_weight(app, stack, api):
    files, values, slopes = pet_series()
    body = run(app, api, samples.zipped(files), {})
    result = body["result"]
    activity = values.astype(np.float64) * np.asarray(slopes)[None, None, :]
    assert (result["modality"], result["units"], result["layers"]) == ("PT", "BQML", ["main"])
    assert result["max"] == pytest.approx(activity.max())
    factor = expected_factor()
    assert result["suv"]["factor"] == pytest.approx(factor, rel=1e-9)
    assert result["suv"]["max"] == pytest.approx(activity.max() * factor, rel=1e-9)
    assert result["suv"]["mean"] == pytest.approx(activity.mean() * factor, rel=1e-9)
    assert "suv_note" not in result
    # The PET windows are in SUV: 0 to 5 is 0 to 5 / factor Bq/ml.
    window = result["windows"]["suv5"]
    assert window["level"] + window["width"] / 2 == pytest.approx(5.0 / factor)


@pytest.mark.parametrize("facts, factor, note", [
    (samples.pet_facts(weight=None), None, "no PatientWeight"),
    ({**samples.pet_facts(), "RadiopharmaceuticalInformationSequence": []}, None,
     "no RadiopharmaceuticalInformationSequence"),
    (samples.pet_facts(units="GML"), 1.0, None),
])
def test_a_pet_series_without_what_suv_needs_loads_with_suv_null_and_why(app, stack, api,
                                                                          facts, factor, note):
    files, _, _ = pet_series(facts)
    result = run(app, api, samples.zipped(files), {})["result"]
    if factor is None:
        assert result["suv"] is None and result["suv_note"] == note
    else:
        assert result["suv"]["factor"] == factor and result["units"] == "GML"


def test_philips_counts_use_the_private_suv_scale_factor(app, stack, api):
    import pydicom
    files, values, slopes = pet_series(samples.pet_facts(units="CNTS"))
    scaled = []
    for name, data in files:
        ds = pydicom.dcmread(io.BytesIO(data))
        block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
        block.add_new(0x00, "DS", "0.000431")
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        scaled.append((name, buffer.getvalue()))
    result = run(app, api, samples.zipped(scaled), {})["result"]
    activity = values.astype(np.float64) * np.asarray(slopes)[None, None, :]
    assert result["units"] == "CNTS"
    assert result["suv"]["factor"] == pytest.approx(0.000431)
    assert result["suv"]["max"] == pytest.approx(activity.max() * 0.000431)


CT_SHAPE = (40, 40, 30)
CT_SPACING = [1.0, 1.0, 2.0]
CT_ORIGIN = (-20.0, -20.0, -30.0)               # LPS mm of the first CT voxel
HOT_PET_VOXEL = (13, 6, 4)                      # column, row, slice of the PET as stored
PET_ORIGIN = (-20.0, -20.0, -30.0)
PET_GRID = dict(spacing=[2.0, 2.0, 5.0], origin=PET_ORIGIN)


def ct_and_pet(pet_frame=samples.FRAME_OF_REFERENCE, second="PT"):
    """A CT series and a PT (or second CT) series; the PT has one hot voxel, HOT_PET_VOXEL."""
    ct = np.random.default_rng(8).integers(900, 1200, CT_SHAPE).astype(np.uint16)
    ct_files = samples.series_files(ct, modality="CT", spacing=CT_SPACING, origin=CT_ORIGIN,
                                    series_uid="1.2.826.0.1.3680043.8.498.40")
    pet = np.full((20, 20, 12), 10, np.uint16)
    pet[HOT_PET_VOXEL] = 1000
    pet_files = samples.series_files(pet, modality=second, frame=pet_frame,
                                     series_uid="1.2.826.0.1.3680043.8.498.41", prefix="pet",
                                     extra=samples.pet_facts() if second == "PT" else None,
                                     **PET_GRID)
    return ct_files + pet_files, ct


def test_a_ct_and_a_pet_series_of_one_frame_of_reference_load_fused(app, stack, api):
    files, ct = ct_and_pet()
    body = run(app, api, samples.zipped(files), {})
    result = body["result"]
    assert result["layers"] == ["ct", "pet"]
    assert (result["modality"], result["units"], result["orientation"]) == ("CT", "HU", "RAS")
    assert result["shape"] == list(CT_SHAPE)
    assert result["max"] == ct.max() and result["min"] == ct.min()
    pet = result["pet"]
    assert (pet["modality"], pet["units"]) == ("PT", "BQML")
    assert pet["source_shape"] == [20, 20, 12]
    assert pet["max"] == pytest.approx(1000.0)
    assert pet["suv"]["factor"] == pytest.approx(expected_factor(), rel=1e-9)
    assert pet["suv"]["max"] == pytest.approx(1000.0 * expected_factor(), rel=1e-9)

    # The hot voxel's patient position (LPS), from the PET's own grid.
    column, row, index = HOT_PET_VOXEL
    spacing = PET_GRID["spacing"]
    lps = (PET_ORIGIN[0] + column * spacing[0], PET_ORIGIN[1] + row * spacing[1],
           PET_ORIGIN[2] + index * spacing[2])
    # The CT voxel there: CT columns run toward the patient's left and rows toward
    # posterior (LPS +x, +y), so in RAS+ order both indices count from the other end.
    ct_column = round((lps[0] - CT_ORIGIN[0]) / CT_SPACING[0])
    ct_row = round((lps[1] - CT_ORIGIN[1]) / CT_SPACING[1])
    ct_slice = round((lps[2] - CT_ORIGIN[2]) / CT_SPACING[2])
    want = (CT_SHAPE[0] - 1 - ct_column, CT_SHAPE[1] - 1 - ct_row, ct_slice)
    affine = np.array(result["affine"])
    assert affine @ [*want, 1] == pytest.approx([-lps[0], -lps[1], lps[2], 1])
    fused = layer(app, body["id"], "pet")
    assert fused.shape == CT_SHAPE
    assert np.unravel_index(int(np.argmax(fused)), fused.shape) == want
    assert fused[want] == pytest.approx(1000.0)
    # The CT layer is the CT as stored, in RAS+ order (both in-plane axes reversed).
    assert np.array_equal(layer(app, body["id"], "ct"), ct[::-1, ::-1, :])


@pytest.mark.parametrize("frame, second, message", [
    ("1.2.826.0.1.3680043.8.498.77", "PT", "file: the CT and PT series have different frames"
                                           " of reference"),
    (samples.FRAME_OF_REFERENCE, "CT", "file: the zip holds 2 series (CT, CT); send one"
                                       " series, or one CT and one PT series"),
])
def test_series_that_cannot_be_fused_are_refused_naming_why(app, api, frame, second, message):
    files, _ = ct_and_pet(frame, second)
    before = stored(app)
    response = submit(api, samples.zipped(files), {})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"].startswith(message), response.get_json()["error"]
    assert stored(app) == before
