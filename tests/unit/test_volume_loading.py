"""The loader's pieces: SUV body-weight factors, DICOM series geometry, PET resampling, units.

Each expected factor is computed here from the header's values (QIBA: weight in grams
over the injected dose decayed with the half-life from injection to the scan start).
"""
import numpy as np
import pytest
from pydicom.dataset import Dataset

from dashboard.volumes import dicom_geometry, fusion, suv
from tests.support import volume_samples as samples


def pet_header(**changes):
    """A PT header with the sample PET facts (dose, half-life, 09:30 injection, 10:30 scan)."""
    ds = Dataset()
    ds.Modality = "PT"
    for key, value in {**samples.pet_facts(), **changes}.items():
        setattr(ds, key, value)
    return ds


def qiba(seconds, dose=samples.PET_DOSE_BQ, weight=samples.PET_WEIGHT_KG):
    return weight * 1000.0 / (dose * 0.5 ** (seconds / samples.PET_HALF_LIFE_S))


def test_bqml_decays_the_dose_from_injection_to_the_series_time():
    factor, note = suv.factor([pet_header()])
    assert note is None and factor == pytest.approx(qiba(3600.0), rel=1e-12)


def test_an_earlier_acquisition_than_the_series_time_is_the_scan_start():
    late = pet_header(SeriesTime="110000")
    slices = [late, pet_header(SeriesTime="110000", AcquisitionTime="102000")]
    assert suv.factor(slices)[0] == pytest.approx(qiba(3000.0), rel=1e-12)


def test_an_injection_date_and_time_crossing_midnight_is_used_as_given():
    ds = pet_header(SeriesDate="20261208", SeriesTime="003000", AcquisitionDate="20261208",
                    AcquisitionTime="003000")
    ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime = \
        "20261207233000"
    assert suv.factor([ds])[0] == pytest.approx(qiba(3600.0), rel=1e-12)


def test_a_series_decay_corrected_to_the_injection_uses_the_dose_as_injected():
    assert suv.factor([pet_header(DecayCorrection="ADMIN")])[0] == pytest.approx(qiba(0.0))


@pytest.mark.parametrize("changes, note", [
    ({"PatientWeight": 0}, "no PatientWeight"),
    ({"Units": "CNTS"}, "Units CNTS without the Philips SUV scale factor (7053,1000)"),
    ({"Units": "PROPCNTS"}, "SUV needs Units BQML, CNTS or GML (this series: PROPCNTS)"),
    ({"SeriesTime": "090000", "AcquisitionTime": "090000"},
     "the injection is after the series start"),
])
def test_missing_or_impossible_facts_give_no_factor_and_say_why(changes, note):
    assert suv.factor([pet_header(**changes)]) == (None, note)


def _slice(position, orientation=(1, 0, 0, 0, 1, 0), spacing=(0.5, 0.7)):
    ds = Dataset()
    ds.ImageOrientationPatient, ds.ImagePositionPatient = list(orientation), list(position)
    ds.PixelSpacing = list(spacing)
    return ds


def test_the_affine_of_an_axial_series_is_lps_turned_to_ras():
    headers = [_slice((10.0, 20.0, z)) for z in (-5.0, -2.5, 0.0)]
    affine = dicom_geometry.affine(headers)
    # Row spacing 0.5 (between rows), column spacing 0.7; x and y negated for RAS.
    assert affine.tolist() == [[-0.7, 0, 0, -10.0], [0, -0.5, 0, -20.0], [0, 0, 2.5, -5.0],
                               [0, 0, 0, 1]]
    array = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    ras, ras_affine = dicom_geometry.to_ras(array, affine)
    assert np.array_equal(ras, array[::-1, ::-1, :])
    # The same voxel is at the same place before and after.
    assert affine @ [0, 0, 1, 1] == pytest.approx(ras_affine @ [1, 2, 1, 1])


def test_a_sagittal_series_is_brought_to_axial_order():
    # Rows toward posterior (LPS +y), columns downward (LPS -z), slices toward the left (+x).
    headers = [_slice((x, 0.0, 0.0), orientation=(0, 1, 0, 0, 0, -1)) for x in (0.0, 3.0)]
    ras, affine = dicom_geometry.to_ras(np.zeros((4, 5, 2)), dicom_geometry.affine(headers))
    assert ras.shape == (2, 4, 5)
    import nibabel as nib
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    assert dicom_geometry.spacing(affine) == pytest.approx([3.0, 0.7, 0.5])


def test_uneven_gaps_are_named_even_ones_pass():
    dicom_geometry.check_gaps(np.array([0.0, 1.25, 2.5, 3.755]))       # within 0.01 mm
    with pytest.raises(dicom_geometry.SeriesGeometryError) as caught:
        dicom_geometry.check_gaps(np.array([-99.48, 103.02, 104.27, 105.52]))
    assert str(caught.value).startswith("uneven slice gaps: 202.5, 1.25, 1.25 mm")


def test_the_pet_is_resampled_to_the_value_at_each_ct_voxel_centre():
    pet = np.zeros((4, 4, 4), np.float32)
    pet[2, 1, 3] = 8.0
    pet_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    ct_affine = np.diag([1.0, 1.0, 1.0, 1.0])
    out = fusion.resample(pet, pet_affine, (8, 8, 8), ct_affine)
    assert out[4, 2, 6] == 8.0 and out[5, 2, 6] == 4.0            # halfway: half the value
    assert np.unravel_index(int(np.argmax(out)), out.shape) == (4, 2, 6)


def test_a_pet_whose_axes_are_turned_against_the_ct_lands_at_the_same_positions():
    pet = np.zeros((4, 4, 4), np.float32)
    pet[1, 2, 3] = 8.0                           # at world (2 * 2, 2 * 1, 2 * 3) below
    pet_affine = np.array([[0, 2.0, 0, 0], [2.0, 0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1]])
    out = fusion.resample(pet, pet_affine, (8, 8, 8), np.eye(4))
    assert np.unravel_index(int(np.argmax(out)), out.shape) == (4, 2, 6)
    assert out[4, 2, 6] == 8.0


@pytest.mark.parametrize("attributes, units", [
    ({"Modality": "CT"}, "HU"),
    ({"Modality": "CT", "RescaleType": "US"}, None),      # unspecified: no units
    ({"Modality": "MR", "RescaleType": "US"}, None),
    ({"Modality": "MR"}, None),
    ({"Modality": "PT", "Units": "BQML", "RescaleType": "US"}, "BQML"),
    ({"Modality": "CT", "RescaleType": "HU"}, "HU"),
])
def test_units_come_from_units_then_rescale_type_and_us_means_none(attributes, units):
    from dashboard.volumes import dicom_zip
    ds = Dataset()
    for key, value in attributes.items():
        setattr(ds, key, value)
    assert dicom_zip.units(ds) == units
