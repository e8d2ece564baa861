"""Volumes the volume tests make with NumPy, nibabel and pydicom: a known shape, a bright cube.

Index order [x, y, z]. BASE holds integer background values 0..99 and CUBE_VALUE in
the cube; each format stores it its own way (NIfTI reoriented and scaled, DICOM
rescaled and zipped in shuffled order) and `expected` says what a reader must get back.
"""
import gzip
import io
import random
import struct
import zipfile

import numpy as np

SHAPE = (24, 20, 16)                                   # x, y, z
CUBE = (slice(3, 7), slice(12, 16), slice(9, 13))      # x 3..6, y 12..15, z 9..12
CUBE_VALUE = 900
SPACING = [1.5, 2.0, 2.5]                              # mm along x, y, z
NIFTI_SCALE = (0.5, -10.0)                             # scl_slope, scl_inter
DICOM_RESCALE = (2.0, -1024.0)                         # RescaleSlope, RescaleIntercept
FRAME_OF_REFERENCE = "1.2.826.0.1.3680043.8.498.5"


def base():
    """The integer volume: seeded background 0..99 (some zeros) and the cube."""
    vol = np.random.default_rng(10).integers(0, 100, SHAPE).astype(np.int16)
    vol[CUBE] = CUBE_VALUE
    return vol


def expected(fmt):
    """(values a reader must return as float64, background maximum, cube value)."""
    vol = base().astype(np.float64)
    slope, inter = {"nifti": NIFTI_SCALE, "nifti-gz": NIFTI_SCALE,
                    "dicom-zip": DICOM_RESCALE}.get(fmt, (1.0, 0.0))
    return vol * slope + inter, 99 * slope + inter, CUBE_VALUE * slope + inter


def raw_bytes():
    """float32, C order (z fastest)."""
    return base().astype(np.float32).tobytes()


def npy_bytes(fortran=False):
    """int16 in NumPy's format, C or Fortran order."""
    buffer = io.BytesIO()
    vol = base()
    np.save(buffer, np.asfortranarray(vol) if fortran else vol)
    return buffer.getvalue()


def nifti_bytes(packed=False):
    """A NIfTI-1 file stored in PSL order (non-identity affine), int16 with scl_slope/inter.

    nibabel's closest canonical orientation of it is BASE (scaled) in RAS+ order.
    """
    import nibabel as nib
    from nibabel.orientations import axcodes2ornt, ornt_transform
    canonical = nib.Nifti1Image(base(), np.diag(SPACING + [1.0]))
    stored = canonical.as_reoriented(ornt_transform(axcodes2ornt("RAS"),
                                                    axcodes2ornt(("P", "S", "L"))))
    image = nib.Nifti1Image(np.asarray(stored.dataobj).astype(np.int16), stored.affine)
    data = image.to_bytes()
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(data[:348]))
    header["scl_slope"], header["scl_inter"] = NIFTI_SCALE
    data = header.binaryblock + data[348:]
    return gzip.compress(data) if packed else data


def dicom_slice(pixels, z_mm, series_uid, instance, modality="CT"):
    """One CT slice: `pixels` is rows (y) x columns (x), int16, stored raw with a rescale."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.InstanceNumber = modality, series_uid, instance
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelSpacing = [SPACING[1], SPACING[0]]          # row spacing (y), column spacing (x)
    ds.SliceThickness = SPACING[2]
    # Rows run toward the patient's right, columns toward anterior (LPS -x, -y): the
    # series' RAS+ array is the stored [column, row, slice] one, BASE itself.
    ds.ImageOrientationPatient = [-1, 0, 0, 0, -1, 0]
    ds.ImagePositionPatient = [0.0, 0.0, z_mm]
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.RescaleSlope, ds.RescaleIntercept = DICOM_RESCALE
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dicom_files(vol=None, series_uid="1.2.826.0.1.3680043.8.498.2", z0=-40.0, prefix="slice"):
    """[(name, bytes)] of the series, one file per z, names and order shuffled."""
    vol = base() if vol is None else vol               # the stored values (before rescale)
    files = []
    for k in range(vol.shape[2]):
        pixels = vol[:, :, k].T.astype(np.int16)       # rows y, columns x
        files.append((f"{prefix}-{(k * 7919) % 1000:04d}.dcm",
                      dicom_slice(pixels, z0 + SPACING[2] * k, series_uid, k + 1)))
    random.Random(3).shuffle(files)
    return files


def zipped(files, compression=zipfile.ZIP_DEFLATED):
    """A zip of [(name, bytes)] in the given order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def lie_about_size(zip_bytes, member_index=0, factor=0.5):
    """The zip with one member's uncompressed size in the central directory made smaller."""
    data = bytearray(zip_bytes)
    at = -1
    for _ in range(member_index + 1):
        at = data.index(b"PK\x01\x02", at + 1)
    size = struct.unpack_from("<I", data, at + 24)[0]
    struct.pack_into("<I", data, at + 24, int(size * factor))
    return bytes(data)


# PET: a series with known dose, times and weight, and a CT + PET pair on one frame of
# reference. Positions are LPS mm, as DICOM writes them.
PET_DOSE_BQ, PET_HALF_LIFE_S, PET_WEIGHT_KG = 370e6, 6586.2, 72.5
PET_INJECTED, PET_SERIES = "093000", "103000"           # 3600 s between injection and scan


def image_slice(pixels, position, series_uid, instance, *, modality, spacing, orientation,
                slope=1.0, intercept=0.0, frame=FRAME_OF_REFERENCE, extra=None, signed=False):
    """One DICOM slice (`pixels` rows x columns, uint16, or int16 when `signed`) with the
    given geometry and values."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        CTImageStorage,
        ExplicitVRLittleEndian,
        PositronEmissionTomographyImageStorage,
        generate_uid,
    )
    sop = PositronEmissionTomographyImageStorage if modality == "PT" else CTImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.InstanceNumber = modality, series_uid, instance
    ds.StudyInstanceUID, ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1", frame
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = int(signed)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelSpacing = [spacing[1], spacing[0]]          # between rows, between columns
    ds.SliceThickness = spacing[2]
    ds.ImageOrientationPatient = list(orientation)
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2" if signed else "<u2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def pet_facts(units="BQML", weight=PET_WEIGHT_KG, series_time=PET_SERIES):
    """The PET attributes SUV is computed from (a missing one is left out when None)."""
    from pydicom.dataset import Dataset
    drug = Dataset()
    drug.RadiopharmaceuticalStartTime = PET_INJECTED
    drug.RadionuclideTotalDose = PET_DOSE_BQ
    drug.RadionuclideHalfLife = PET_HALF_LIFE_S
    facts = {"Units": units, "SeriesDate": "20261207", "SeriesTime": series_time,
             "AcquisitionDate": "20261207", "AcquisitionTime": series_time,
             "DecayCorrection": "START", "RadiopharmaceuticalInformationSequence": [drug]}
    if weight is not None:
        facts["PatientWeight"] = weight
    return facts


def series_files(stored, *, modality, spacing, origin, series_uid, slopes=None,
                 orientation=(1, 0, 0, 0, 1, 0), frame=FRAME_OF_REFERENCE, extra=None,
                 prefix=None):
    """[(name, bytes)] of a series from `stored` [column, row, slice] values (uint16), shuffled.

    Slice k lies at origin + k * spacing[2] along the normal; `slopes` gives each slice
    its RescaleSlope (1 when None).
    """
    iop = np.asarray(orientation, np.float64)
    normal = np.cross(iop[:3], iop[3:])
    files = []
    for k in range(stored.shape[2]):
        position = np.asarray(origin, np.float64) + normal * spacing[2] * k
        slope = 1.0 if slopes is None else float(slopes[k])
        files.append((f"{prefix or modality.lower()}-{k:03d}.dcm", image_slice(
            stored[:, :, k].T, position, series_uid, k + 1, modality=modality, spacing=spacing,
            orientation=orientation, slope=slope, frame=frame, extra=extra)))
    random.Random(5).shuffle(files)
    return files
