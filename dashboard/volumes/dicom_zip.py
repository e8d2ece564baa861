"""The `dicom-zip` format: checked at submit from the headers, loaded in RAS+ order in the worker.

A PT series carries its SUV factor (dashboard.volumes.suv); a CT + PT pair loads as
the CT with the PT resampled onto its grid (`Loaded.pet`, layers "ct" and "pet").
"""
import zipfile

import numpy as np

from dashboard.volumes import dicom_geometry as geometry
from dashboard.volumes import dicom_series, dicom_slices, fusion, suv
from dashboard.volumes.formats import BadFile, Found, Loaded


def _rescale(ds):
    """(slope, intercept) of a slice (1, 0 when absent)."""
    slope = float(ds.get("RescaleSlope", 1) or 1)
    return slope, float(ds.get("RescaleIntercept", 0) or 0)


def units(ds):
    """`Units` (PET), else RescaleType (none when `US`, unspecified), else HU for CT."""
    if ds.get("Units"):
        return str(ds.Units)
    kind = str(ds.get("RescaleType", "") or "")
    if kind:
        return None if kind.upper() == dicom_series.UNSPECIFIED else kind
    return "HU" if ds.get("Modality") == "CT" else None


def describe(series):
    """(dtype, spacing [mm, RAS+ order], shape [RAS+ order]) of a checked series."""
    first = series.first
    if any(_rescale(ds) != (1.0, 0.0) for ds, _ in series.slices):
        dtype = "float32"
    else:
        kind = "int" if int(first.get("PixelRepresentation", 0)) else "uint"
        dtype = f"{kind}{int(first.get('BitsAllocated', 16))}"
    stored = (int(first.Columns), int(first.Rows), len(series.slices))
    if series.affine is not None:
        _, shape = geometry.canonical_order(stored, series.affine)
        spacing = geometry.spacing(geometry.ras_affine(stored, series.affine))
        return dtype, spacing, shape
    spacing = None
    if "PixelSpacing" in first:
        rows_mm, cols_mm = (float(v) for v in first.PixelSpacing)
        thickness = first.get("SliceThickness")
        depth = abs(series.gap) if series.gap else float(thickness) if thickness else 1.0
        spacing = [cols_mm, rows_mm, depth]
    return dtype, spacing, stored


def inspect_zip(fileobj, size, params, max_volume_bytes):
    """Found for a zip of one series (or a CT + PT pair: the CT, and room for the PET)."""
    archive, members = dicom_slices.open_zip(fileobj, max_volume_bytes)
    with archive:
        chosen = dicom_series.choose(dicom_series.read_groups(archive, members))
        for series in chosen:
            dicom_slices.check_decodable(*series.slices[0])
            dicom_slices.check_decodes(archive, *series.slices[0])
    dtype, spacing, shape = describe(chosen[0])
    if len(chosen) == 2:
        pet_bytes = int(np.prod(shape)) * 4 + int(np.prod(describe(chosen[1])[2])) * 4
        if int(np.prod(shape)) * np.dtype(dtype).itemsize + pet_bytes > max_volume_bytes:
            raise BadFile(f"file: the CT {list(shape)} and its PET on the CT grid are larger"
                          f" than MAX_VOLUME_MB ({max_volume_bytes // (1 << 20)} MB)")
    return Found("dicom-zip", shape, dtype, spacing, chosen[0].modality, units(chosen[0].first))


def _volume(archive, series):
    """Loaded for one series: rescaled, in RAS+ order when its geometry is known."""
    dtype, spacing, _ = describe(series)
    first = series.first
    array = np.empty((int(first.Columns), int(first.Rows), len(series.slices)), dtype=dtype)
    for k, (_, info) in enumerate(series.slices):
        ds = dicom_slices.read(archive, info, pixels=True)
        pixels = ds.pixel_array
        if dtype == "float32":
            slope, intercept = _rescale(ds)
            array[:, :, k] = pixels.T.astype(np.float64) * slope + intercept
        else:
            array[:, :, k] = pixels.T
    loaded = Loaded(array, "dicom-zip", spacing, series.modality, units(first))
    if series.affine is not None:
        loaded.array, affine = geometry.to_ras(array, series.affine)
        loaded.orientation, loaded.affine = "RAS", affine.tolist()
    if series.modality == "PT":
        loaded.suv_factor, loaded.suv_note = suv.factor([ds for ds, _ in series.slices])
    return loaded


def load_zip(path, params, max_volume_bytes):
    """The series (or the CT with `pet`, the PT resampled onto the CT grid) as Loaded."""
    with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
        members = dicom_slices.safe_members(archive)
        chosen = dicom_series.choose(dicom_series.read_groups(archive, members))
        volumes = [_volume(archive, series) for series in chosen]
    if len(volumes) == 1:
        return volumes[0]
    ct, pet = volumes
    ct.pet = fusion.onto_grid(pet, ct)
    ct.layers = ["ct", "pet"]
    return ct
