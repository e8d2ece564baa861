"""A PET series and a PET/CT pair the viewer tests make with pydicom: known SUV, a hot spot.

The PT series lies on the CT's grid and frame of reference (volume_samples' geometry);
its SUV factor is computed here from the dose, times and weight written into it.
Index order [x, y, z]; both series' RAS+ arrays are the stored [column, row, slice] ones.
"""
import io
import random

import numpy as np

from tests.support import volume_samples as samples

HOT = (slice(16, 20), slice(4, 8), slice(4, 8))        # x 16..19, y 4..7, z 4..7
HOT_VALUE, PET_BACKGROUND = 30000, 2000                 # Bq/ml
WEIGHT_KG, DOSE_BQ, HALF_LIFE_S = 70.0, 370e6, 6586.2   # F-18
INJECTED, SERIES = "100000", "110000"                   # 10:00:00, then 11:00:00
SUV_FACTOR = WEIGHT_KG * 1000 / (DOSE_BQ * 2 ** (-3600 / HALF_LIFE_S))


def pet_volume():
    """The stored PET values: an even background and the hot spot."""
    vol = np.full(samples.SHAPE, PET_BACKGROUND, dtype=np.int16)
    vol[HOT] = HOT_VALUE
    return vol


def pet_slice(pixels, z_mm, series_uid, instance, spacing=None, modality="PT"):
    """One PT slice in BQML with what SUV needs: weight, dose, half-life, times (or, with
    modality CT, one CT slice in HU of the same geometry)."""
    return samples.image_slice(
        pixels, (0.0, 0.0, z_mm), series_uid, instance, modality=modality,
        spacing=spacing or samples.SPACING, orientation=(-1, 0, 0, 0, -1, 0),
        extra=None if modality == "CT" else _suv_facts(), signed=True)


def _suv_facts():
    """The PT attributes SUV is computed from: this module's weight, dose and times."""
    from pydicom.dataset import Dataset
    drug = Dataset()
    drug.RadionuclideTotalDose, drug.RadionuclideHalfLife = DOSE_BQ, HALF_LIFE_S
    drug.RadiopharmaceuticalStartTime = INJECTED
    return {"Units": "BQML", "DecayCorrection": "START", "PatientWeight": WEIGHT_KG,
            "SeriesDate": "20261207", "SeriesTime": SERIES,
            "RadiopharmaceuticalInformationSequence": [drug]}


def pet_files(vol=None, series_uid="1.2.826.0.1.3680043.8.498.3", z0=-40.0, spacing=None,
              modality="PT"):
    """[(name, bytes)] of a PT (or CT) series, one file per z, shuffled."""
    vol = pet_volume() if vol is None else vol
    step = (spacing or samples.SPACING)[2]
    files = [(f"{modality.lower()}-{k:04d}.dcm",
              pet_slice(vol[:, :, k].T.astype(np.int16), z0 + step * k, series_uid, k + 1,
                        spacing, modality))
             for k in range(vol.shape[2])]
    random.Random(5).shuffle(files)
    return files


def phantom(shape=(110, 110, 187)):
    """(CT in HU, PET in Bq/ml) of a body-like phantom: an elliptic trunk of soft tissue with
    two lungs and a spine, the PET warm in the body and hot in a lesion of the right lung."""
    nx, ny, nz = shape
    x, y, z = np.meshgrid(np.linspace(-1, 1, nx), np.linspace(-1, 1, ny),
                          np.linspace(-1, 1, nz), indexing="ij")
    body = (x / 0.85) ** 2 + (y / 0.6) ** 2 <= 1
    lung = (((np.abs(x) - 0.38) / 0.27) ** 2 + ((y - 0.05) / 0.38) ** 2 <= 1) & (z > -0.6)
    spine = (x / 0.12) ** 2 + ((y + 0.4) / 0.12) ** 2 <= 1
    radius = np.sqrt((x - 0.4) ** 2 + (y - 0.15) ** 2 + (z - 0.2) ** 2)
    lesion = radius <= 0.1
    ct = np.full(shape, -1000, dtype=np.int16)
    ct[body] = 40
    ct[body & lung] = -820
    ct[spine] = 700
    ct[lesion] = 30
    activity = np.zeros(shape, dtype=np.int16)
    activity[body] = 5000
    activity[body & lung] = 800
    activity[spine] = 2500
    activity[lesion] = (28000 - 20000 * radius[lesion] / 0.1).astype(np.int16)  # hot centre
    return ct, activity


def phantom_zip(shape=(110, 110, 187), spacing=(3.5, 3.5, 2.0)):
    """A PET/CT zip of the phantom on one frame of reference (the seed's size by default)."""
    ct, activity = phantom(shape)
    z0 = -spacing[2] * shape[2] / 2
    return samples.zipped(
        pet_files(ct, "1.2.826.0.1.3680043.8.498.12", z0, list(spacing), "CT")
        + pet_files(activity, "1.2.826.0.1.3680043.8.498.13", z0, list(spacing), "PT"))


def pet_zip():
    """A zip of the PT series alone."""
    return samples.zipped(pet_files())


def pet_ct_zip():
    """A zip of the CT series (volume_samples) and the PT series on its frame of reference."""
    return samples.zipped(samples.dicom_files() + pet_files())


def seed_fusion(app, token, wait_status):
    """A PET/CT request of the phantom that really ran on the workers; returns its id."""
    answer = app.test_client().post(
        "/api/requests", headers={"Authorization": f"Bearer {token}"},
        data={"job_type": "load_array", "params": "{}",
              "file": (io.BytesIO(phantom_zip()), "pet-ct-phantom.zip")})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    request_id = answer.get_json()["id"]
    assert wait_status(app, request_id, ("success", "failure"), 180)["status"] == "success"
    return request_id


def point_at_lesion(page, shape=(110, 110, 187)):
    """On a phantom's page: the axial slider through the lesion, then a click on it (the
    other views follow); returns the viewer's selector."""
    nx, ny, nz = shape
    i, j, k = round(1.4 / 2 * (nx - 1)), round(1.15 / 2 * (ny - 1)), round(1.2 / 2 * (nz - 1))
    page.wait_for_selector("img.slice[data-view=axial]")
    page.eval_on_selector("#vs-axial", "(s, k) => { s.value = k;"
                          " s.dispatchEvent(new Event('input')); }", k)
    img = page.locator("img.slice[data-view=axial]")
    box = img.bounding_box()
    img.click(position={"x": (nx - 1 - i + 0.5) / nx * box["width"],
                        "y": (ny - 1 - j + 0.5) / ny * box["height"]})
    page.locator("#volume-reading").filter(has_text="SUV").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('#volume-viewer img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    return "#volume-viewer"
