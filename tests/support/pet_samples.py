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


def pet_slice(pixels, z_mm, series_uid, instance):
    """One PT slice in BQML with what SUV needs: weight, dose, half-life, times."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        PositronEmissionTomographyImageStorage,
        generate_uid,
    )
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = PositronEmissionTomographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, \
        meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.InstanceNumber = "PT", series_uid, instance
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.FrameOfReferenceUID = samples.FRAME_OF_REFERENCE
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelSpacing = [samples.SPACING[1], samples.SPACING[0]]
    ds.SliceThickness = samples.SPACING[2]
    ds.ImageOrientationPatient = [-1, 0, 0, 0, -1, 0]
    ds.ImagePositionPatient = [0.0, 0.0, z_mm]
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.Units, ds.DecayCorrection = "BQML", "START"
    ds.PatientWeight = WEIGHT_KG
    ds.SeriesDate, ds.SeriesTime = "20261207", SERIES
    drug = Dataset()
    drug.RadionuclideTotalDose, drug.RadionuclideHalfLife = DOSE_BQ, HALF_LIFE_S
    drug.RadiopharmaceuticalStartTime = INJECTED
    ds.RadiopharmaceuticalInformationSequence = [drug]
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def pet_files(vol=None, series_uid="1.2.826.0.1.3680043.8.498.3", z0=-40.0):
    """[(name, bytes)] of the PT series, one file per z, shuffled."""
    vol = pet_volume() if vol is None else vol
    files = [(f"pet-{k:04d}.dcm", pet_slice(vol[:, :, k].T.astype(np.int16),
                                             z0 + samples.SPACING[2] * k, series_uid, k + 1))
             for k in range(vol.shape[2])]
    random.Random(5).shuffle(files)
    return files


def pet_zip():
    """A zip of the PT series alone."""
    return samples.zipped(pet_files())


def pet_ct_zip():
    """A zip of the CT series (volume_samples) and the PT series on its frame of reference."""
    return samples.zipped(samples.dicom_files() + pet_files())
