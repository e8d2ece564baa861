"""The viewer's endpoints on oriented volumes, PET and PET/CT: images drawn as PACS viewers
draw them, with their orientation letters; SUV windows and colour maps; the fused image; the
value under the cursor; validation and ETags."""
import io

import nibabel as nib
import numpy as np
import pytest
from PIL import Image, ImageDraw

from dashboard.volumes import labels
from tests.integration.volumes.test_volumes import run
from tests.support import pet_samples as pet
from tests.support import volume_samples as samples

X, Y, Z = samples.SHAPE
# A marker at the patient's right (high x), anterior (high y), superior (high z).
MARK = (slice(18, 22), slice(15, 19), slice(11, 15))


def decode(body):
    """A PNG as an array (rows x columns, or rows x columns x 3)."""
    return np.asarray(Image.open(io.BytesIO(body)))


def marked_nifti():
    """A RAS+ NIfTI (identity directions, the samples' spacing) of zeros and the marker."""
    vol = np.zeros(samples.SHAPE, dtype=np.int16)
    vol[MARK] = 1000
    return nib.Nifti1Image(vol, np.diag(samples.SPACING + [1.0])).to_bytes()


def box(mask):
    """(left, right, top, bottom) of a mask's pixels as fractions of the image."""
    rows, cols = np.nonzero(mask)
    assert rows.size, "nothing found"
    height, width = mask.shape
    return cols.min() / width, (cols.max() + 1) / width, rows.min() / height, \
        (rows.max() + 1) / height


def glyph(shape, letter, size, edge):
    """Where Pillow's font draws `letter` at an edge's middle of an image of `shape`."""
    canvas = Image.new("L", (shape[1], shape[0]))
    margin, (w, h) = max(2, size // 4), (shape[1], shape[0])
    xy, anchor = {"left": ((margin, h / 2), "lm"), "right": ((w - margin, h / 2), "rm"),
                  "top": ((w / 2, margin), "mt"), "bottom": ((w / 2, h - margin), "mb")}[edge]
    ImageDraw.Draw(canvas).text(xy, letter, fill=255, anchor=anchor,
                                font=labels._font(size))
    return np.asarray(canvas) > 0


def letter_on(drawn, edge, candidates):
    """Which of `candidates` the letter pixels (lettered != plain) at `edge` match best."""
    size = labels.letter_size(Image.new("L", (drawn.shape[1], drawn.shape[0])))
    scores = {}
    for letter in candidates:
        shape = glyph(drawn.shape, letter, size, edge)
        scores[letter] = (shape & drawn).sum() / max(1, (shape | drawn).sum())
    return max(scores, key=scores.get), scores


EDGES = {"axial": "RLAP", "coronal": "RLSI", "sagittal": "APSI"}
OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}


def test_a_ras_volume_is_drawn_as_pacs_viewers_draw_it_with_letters(app, stack, api):
    body = run(app, api, marked_nifti(), {})
    described = api.get(f"/api/requests/{body['id']}/volume").get_json()
    assert described["orientation"] == "RAS" and described["layers"] == ["main"]
    assert np.allclose(described["affine"], np.diag(samples.SPACING + [1.0]))
    base = f"/requests/{body['id']}/volume"
    through = {"axial": 12, "coronal": 16, "sagittal": 19}
    for view, index in through.items():
        plain = decode(api.get(f"{base}/{view}/{index}.png?window=full&labels=0").get_data())
        left, right, top, bottom = box(plain > 127)
        # Right (axial, coronal) or anterior (sagittal) on the left; anterior or superior on top.
        assert right <= 0.5 and bottom <= 0.5, (view, left, right, top, bottom)
        lettered = api.get(f"{base}/{view}/{index}.png?window=full")
        assert lettered.status_code == 200
        drawn = decode(lettered.get_data()) != plain
        height, width = drawn.shape
        assert not drawn[height // 4: 3 * height // 4, width // 4: 3 * width // 4].any(), view
        for edge, letter in zip(("left", "right", "top", "bottom"), EDGES[view]):
            found, scores = letter_on(drawn, edge, (letter, OPPOSITE[letter]))
            assert found == letter, (view, edge, scores)
        projection = decode(api.get(f"{base}/{view}/mip.png?window=full&labels=0").get_data())
        assert box(projection > 127) == pytest.approx((left, right, top, bottom), abs=0.01)


def test_raw_and_npy_are_shown_as_stored_without_letters(app, stack, api):
    body = run(app, api, samples.npy_bytes(), {})
    described = api.get(f"/api/requests/{body['id']}/volume").get_json()
    assert described["orientation"] is None and described["affine"] is None
    base = f"/requests/{body['id']}/volume"
    for view in ("axial", "coronal", "sagittal"):
        assert api.get(f"{base}/{view}/3.png").get_data() == \
            api.get(f"{base}/{view}/3.png?labels=0").get_data()


def test_a_pet_series_opens_in_an_suv_window_in_colour(app, stack, api):
    body = run(app, api, pet.pet_zip(), {})
    assert body["result"]["suv"]["factor"] == pytest.approx(pet.SUV_FACTOR, rel=1e-6)
    described = api.get(f"/api/requests/{body['id']}/volume").get_json()
    main = described["layer_details"]["main"]
    assert main["modality"] == "PT" and main["default_window"] == "suv5"
    assert main["default_cmap"] == "hot" and "soft_tissue" not in main["windows"]
    for name, top in (("suv5", 5), ("suv10", 10)):
        window = main["windows"][name]
        assert window["level"] - window["width"] / 2 == pytest.approx(0, abs=1e-9)
        assert (window["level"] + window["width"] / 2) * pet.SUV_FACTOR == pytest.approx(top)
    base = f"/requests/{body['id']}/volume"
    coloured = decode(api.get(f"{base}/axial/5.png?labels=0").get_data())
    assert coloured.ndim == 3
    # SUV 8.3 is past the window's top: the hottest colour, white; SUV 0.55 is dark red.
    hot = (coloured == 255).all(axis=2)
    assert box(hot) == pytest.approx((1 - 20 / X, 1 - 16 / X, 1 - 8 / Y, 1 - 4 / Y), abs=0.01)
    r, g, b = (int(v) for v in coloured[-1, -1])
    assert r > 20 and g == 0 and b == 0
    gray = decode(api.get(f"{base}/axial/5.png?labels=0&cmap=gray").get_data())
    assert gray.ndim == 2
    inverted = decode(api.get(f"{base}/axial/5.png?labels=0&cmap=gray_r").get_data())
    assert (inverted == 255 - gray).all()

    value = api.get(f"/api/requests/{body['id']}/volume/value?i=17&j=5&k=5").get_json()
    assert value["value"] == pet.HOT_VALUE and value["units"] == "BQML"
    assert value["suv"] == pytest.approx(pet.HOT_VALUE * pet.SUV_FACTOR, rel=1e-6)
    page = api.get(f"/requests/{body['id']}").get_data(as_text=True)
    assert 'id="volume-suv"' in page and "SUV max 8.29" in page


def test_pet_over_ct_layers_opacity_and_colour_map(app, stack, api):
    body = run(app, api, pet.pet_ct_zip(), {})
    described = api.get(f"/api/requests/{body['id']}/volume").get_json()
    assert described["layers"] == ["ct", "pet"] and described["default_layer"] == "fusion"
    base = f"/requests/{body['id']}/volume/axial/5.png?labels=0"
    ct = decode(api.get(f"{base}&layer=ct&window=full").get_data())
    assert ct.ndim == 2
    clear = decode(api.get(f"{base}&layer=fusion&window=full&opacity=0").get_data())
    assert clear.shape == ct.shape + (3,) and (clear == ct[..., None]).all()
    full = decode(api.get(f"{base}&layer=fusion&window=full&opacity=1&pet_window=suv10"
                          "&cmap=hot").get_data())
    hot_colour = full[..., 1].astype(int) > 200          # SUV 8.3 of 10: yellow in `hot`
    hot_colour &= full[..., 2].astype(int) < 150
    assert box(hot_colour) == pytest.approx((1 - 20 / X, 1 - 16 / X, 1 - 8 / Y, 1 - 4 / Y),
                                            abs=0.01)
    half = decode(api.get(f"{base}&layer=fusion&window=full&opacity=0.5&pet_window=suv10"
                          "&cmap=hot").get_data())
    mixed = np.rint((ct[..., None].astype(float) + full) / 2)
    assert np.abs(half.astype(float) - mixed).max() <= 1
    pet_only = decode(api.get(f"{base}&layer=pet&cmap=inferno").get_data())
    assert pet_only.ndim == 3 and not (pet_only == full).all()

    value = api.get(f"/api/requests/{body['id']}/volume/value?i=17&j=5&k=5").get_json()
    want = samples.base()[17, 5, 5] * samples.DICOM_RESCALE[0] + samples.DICOM_RESCALE[1]
    assert value["layer"] == "ct" and value["value"] == want and value["units"] == "HU"
    assert value["suv"] is None
    assert value["layers"]["pet"]["value"] == pet.HOT_VALUE
    assert value["layers"]["pet"]["suv"] == pytest.approx(pet.HOT_VALUE * pet.SUV_FACTOR,
                                                          rel=1e-6)
    as_pet = api.get(f"/api/requests/{body['id']}/volume/value?i=0&j=0&k=0&layer=pet")
    assert as_pet.get_json()["value"] == pet.PET_BACKGROUND


@pytest.mark.parametrize("query, field", [
    ("layer=fusion", "layer"), ("layer=PET", "layer"), ("cmap=jet", "cmap"),
    ("opacity=1.5", "opacity"), ("opacity=x", "opacity"), ("opacity=nan", "opacity"),
    ("labels=yes", "labels"), ("window=mediastinum", "window")])
def test_bad_image_parameters_answer_422_naming_them(app, stack, api, query, field):
    body = run(app, api, samples.nifti_bytes(), {})
    answer = api.get(f"/requests/{body['id']}/volume/axial/3.png?{query}")
    assert answer.status_code == 422 and answer.get_json()["error"].startswith(f"{field}:")


def test_value_and_image_etags(app, stack, api, client):
    body = run(app, api, pet.pet_ct_zip(), {})
    value = f"/api/requests/{body['id']}/volume/value"
    assert api.get(f"{value}?i=1&j=2").status_code == 422
    assert api.get(f"{value}?i=1&j=2&k=z").get_json()["error"].startswith("k:")
    assert api.get(f"{value}?i={X}&j=0&k=0").status_code == 404
    assert api.get(f"{value}?i=-1&j=0&k=0").status_code == 404
    assert api.get(f"{value}?i=0&j=0&k=0&layer=fusion").status_code == 422
    assert api.get(f"/api/requests/{body['id'] + 1}/volume/value?i=0&j=0&k=0").status_code == 404
    assert app.test_client().get(f"{value}?i=0&j=0&k=0").status_code == 401
    position = api.get(f"{value}?i=1&j=2&k=3").get_json()["position_mm"]
    affine = np.asarray(api.get(f"/api/requests/{body['id']}/volume").get_json()["affine"])
    assert position == pytest.approx((affine @ [1, 2, 3, 1])[:3])

    base = f"/requests/{body['id']}/volume/coronal/4.png?layer=fusion&opacity=0.4"
    first = api.get(base)
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get(base, headers={**api.headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    tags = {first.headers["ETag"]}
    for other in ("&cmap=inferno", "&pet_window=suv10", "&window=bone", "&labels=0"):
        tags.add(api.get(base + other).headers["ETag"])
    tags.add(api.get(base.replace("0.4", "0.6")).headers["ETag"])
    tags.add(api.get(base.replace("layer=fusion", "layer=pet")).headers["ETag"])
    assert len(tags) == 7


def test_the_same_ct_as_dicom_and_as_its_nifti_gives_the_same_images(app, stack, api,
                                                                      tmp_path):
    import dicom2nifti

    from tests.integration.volumes.test_volume_orientation import (
        dicomdir_series,
        zipped_folder,
    )
    folder = dicomdir_series("98892001/CT5N")
    dicom2nifti.convert_dicom.dicom_series_to_nifti(folder, str(tmp_path / "ct.nii.gz"))
    as_dicom = run(app, api, zipped_folder(folder), {})
    as_nifti = run(app, api, (tmp_path / "ct.nii.gz").read_bytes(), {})
    slices = api.get(f"/api/requests/{as_dicom['id']}/volume").get_json()["slices"]
    for view, count in slices.items():
        for index in [*range(count), "mip"]:
            path = f"/volume/{view}/{index}.png?window=soft_tissue"
            dicom = api.get(f"/requests/{as_dicom['id']}{path}")
            nifti = api.get(f"/requests/{as_nifti['id']}{path}")
            assert dicom.status_code == nifti.status_code == 200
            assert np.array_equal(decode(dicom.get_data()), decode(nifti.get_data())), \
                (view, index)
