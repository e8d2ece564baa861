"""The viewer's pure parts: radiological orientation, colour maps, fusion, parameter checks."""
import numpy as np
import pytest

from dashboard.volumes import colours, render, viewer

VOL = np.arange(4 * 3 * 2).reshape(4, 3, 2)          # x 4, y 3, z 2


def test_a_ras_volume_is_drawn_radiologically():
    # axial: columns x from high (right) to low, rows y from high (anterior) to low.
    assert (render.cut(VOL, "axial", 1, True) == VOL[::-1, ::-1, 1].T).all()
    # coronal: columns x high to low, rows z high (superior) to low.
    assert (render.cut(VOL, "coronal", 2, True) == VOL[::-1, 2, ::-1].T).all()
    # sagittal: columns y high (anterior) to low, rows z high to low.
    assert (render.cut(VOL, "sagittal", 0, True) == VOL[0, ::-1, ::-1].T).all()
    assert (render.mip(VOL, "axial", True) == VOL.max(axis=2)[::-1, ::-1].T).all()


def test_raw_volumes_are_drawn_as_stored():
    assert (render.cut(VOL, "axial", 1) == VOL[:, :, 1].T).all()
    assert (render.cut(VOL, "coronal", 2) == VOL[:, 2, ::-1].T).all()
    assert render.flips("sagittal", False) == (False, True)


def test_fusion_blends_pet_colours_over_the_gray_ct():
    ct = np.array([[10, 200]], dtype=np.uint8)
    pet = np.array([[0, 255]], dtype=np.uint8)
    assert (colours.fuse(ct, pet, "hot", 0.0) == ct[..., None]).all()
    full = colours.fuse(ct, pet, "hot", 1.0)
    assert tuple(full[0, 0]) == (10, 10, 10)             # no PET: the CT as it is
    assert tuple(full[0, 1]) == tuple(colours.lut("hot")[255])
    half = colours.fuse(ct, pet, "inferno", 0.5)
    want = np.rint((200 + colours.lut("inferno")[255].astype(float)) / 2)
    assert np.abs(half[0, 1] - want).max() <= 1
    assert colours.gradient_stops("gray")[0] == (0.0, "#000000")
    assert colours.gradient_stops("gray_r")[-1] == (1.0, "#000000")


RESULT = {"modality": "CT", "units": "HU", "min": -1000, "max": 1000,
          "pet": {"units": "BQML", "min": 0, "max": 30000, "suv": {"factor": 0.0002}}}
PAIR = {"ct": {"result": RESULT}, "pet": {"result": RESULT}}


def test_pet_windows_are_in_suv_and_a_pair_opens_fused():
    pet = viewer.layer_details(RESULT, "pet")
    assert pet["default_window"] == "suv5" and pet["default_cmap"] == "hot"
    assert pet["windows"]["suv10"]["width"] == pytest.approx(10 / 0.0002)
    assert "lung" not in pet["windows"]
    choice = viewer.chosen(PAIR, {"layer": "fusion"})
    assert choice.window == (40.0, 400.0) and choice.cmap == "hot" and choice.opacity == 0.5
    assert choice.pet_window == pytest.approx((2.5 / 0.0002, 5 / 0.0002))


@pytest.mark.parametrize("args, field", [
    ({"layer": "main"}, "layer"), ({"cmap": "viridis"}, "cmap"), ({"opacity": "-0.1"}, "opacity"),
    ({"opacity": "inf"}, "opacity"), ({"layer": "fusion", "pet_window": "bone"}, "pet_window"),
    ({"labels": "2"}, "labels"), ({"level": "1", "width": "0"}, "width")])
def test_bad_parameters_name_themselves(args, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        viewer.chosen(PAIR, args)
