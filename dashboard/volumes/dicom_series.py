"""A zip of DICOM files as one series in RAS+ order, or a CT and a PT series to fuse.

Slices are grouped by SeriesInstanceUID, checked (one size, one orientation, even
gaps), sorted along the slice normal, rescaled (RescaleSlope/Intercept) and brought
to RAS+ order with the affine their ImageOrientationPatient, ImagePositionPatient and
PixelSpacing give. Two series are taken only as one CT and one PT series of one
frame of reference: the PT is then resampled onto the CT grid (dashboard.volumes.fusion).
"""
from dataclasses import dataclass

import numpy as np

from dashboard.volumes import dicom_geometry as geometry
from dashboard.volumes import dicom_slices
from dashboard.volumes.formats import MAX_SPACING_MM, MIN_SPACING_MM, BadFile

FUSED = ("CT", "PT")
UNSPECIFIED = "US"                 # RescaleType: unspecified units


@dataclass
class Series:
    """One series' slices sorted along the normal, and what they hold."""
    slices: list                   # [(header, zip member)]
    affine: np.ndarray = None      # RAS+ affine of the [column, row, slice] array, or None
    gap: float = None              # mm between slices along the normal

    @property
    def first(self):
        return self.slices[0][0]

    @property
    def modality(self):
        return str(self.first.get("Modality", "")) or None


def read_groups(archive, members):
    """{SeriesInstanceUID: [(header, member)]} of the zip's image slices, or BadFile."""
    groups, looked = {}, 0
    for info in members:
        looked += 1
        ds = dicom_slices.read(archive, info, pixels=False)
        if ds is not None and "PixelData" in ds:
            dicom_slices.check_pixel_kind(ds, info)
            dicom_slices.check_pixel_length(ds, info)
            groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((ds, info))
    if not groups:
        raise BadFile(f"file: no readable DICOM slice in the zip ({looked} files looked at)")
    return groups


def choose(groups):
    """[Series] to load: the one series, or [CT, PT] of one frame of reference; or BadFile."""
    if len(groups) == 1:
        return [order(next(iter(groups.values())))]
    kinds = sorted(str(slices[0][0].get("Modality", "") or "?") for slices in groups.values())
    if len(groups) != 2 or tuple(kinds) != FUSED:
        raise BadFile(f"file: the zip holds {len(groups)} series ({', '.join(kinds[:4])}"
                      f"{', …' if len(kinds) > 4 else ''}); send one series, or one CT and"
                      " one PT series of one frame of reference")
    ct, pt = sorted((order(slices) for slices in groups.values()), key=lambda s: s.modality)
    frames = [str(s.first.get("FrameOfReferenceUID", "") or "") for s in (ct, pt)]
    if not frames[0] or frames[0] != frames[1]:
        raise BadFile("file: the CT and PT series have different frames of reference"
                      f" (FrameOfReferenceUID {frames[0][-24:] or 'none'} and"
                      f" {frames[1][-24:] or 'none'}); they cannot be fused")
    if ct.affine is None or pt.affine is None:
        raise BadFile("file: a CT and a PT series need ImageOrientationPatient,"
                      " ImagePositionPatient and PixelSpacing to be fused")
    return [ct, pt]


def _spaced(ds):
    """True when the slice has a PixelSpacing of two sane lengths (else it is judged later)."""
    try:
        values = [float(v) for v in ds.get("PixelSpacing") or ()]
    except (TypeError, ValueError):
        return False
    return len(values) == 2 and all(MIN_SPACING_MM <= v <= MAX_SPACING_MM for v in values)


def order(slices):
    """The series checked and sorted along its slice normal, or BadFile."""
    sizes = sorted({(int(ds.Rows), int(ds.Columns)) for ds, _ in slices})
    if len(sizes) > 1:
        raise BadFile("file: slices of different sizes in one series: "
                      + ", ".join(f"{r}x{c}" for r, c in sizes[:4]) + " (rows x columns)")
    for ds, info in slices:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise BadFile(f"file: {info.filename[:100]} is a multi-frame DICOM; send one"
                          " slice per file")
    placed = all(k in ds for ds, _ in slices
                 for k in ("ImagePositionPatient", "ImageOrientationPatient"))
    if len(slices) == 1:
        ds, info = slices[0]
        if not placed or not _spaced(ds):
            return Series(slices)
        dicom_slices.check_finite(ds, info, "ImagePositionPatient", 3)
        dicom_slices.check_finite(ds, info, "ImageOrientationPatient", 6)
        return Series(slices, geometry.affine([ds]))
    for ds, info in slices:
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            raise BadFile(f"file: {info.filename[:100]} has no ImagePositionPatient or"
                          " ImageOrientationPatient: the slices cannot be ordered")
        dicom_slices.check_finite(ds, info, "ImagePositionPatient", 3)
        dicom_slices.check_finite(ds, info, "ImageOrientationPatient", 6)
    headers = [ds for ds, _ in slices]
    try:
        geometry.check_orientation(headers)
    except geometry.SeriesGeometryError as exc:
        raise BadFile(f"file: {exc}") from None
    across = geometry.normal(headers[0])
    positions = np.array([np.dot(across, np.asarray(ds.ImagePositionPatient, np.float64))
                          for ds in headers])
    if not np.isfinite(np.diff(np.sort(positions))).all():
        raise BadFile("file: the slices' positions along their normal are too far apart to"
                      " be measured")
    sort = np.argsort(positions, kind="stable")
    positions = positions[sort]
    gaps = np.diff(positions)
    if (np.abs(gaps) < 1e-4).any():
        raise BadFile(f"file: two slices at the same position ({positions[np.argmin(gaps)]:.3f}"
                      " mm along the normal)")
    try:
        geometry.check_gaps(positions)
    except geometry.SeriesGeometryError as exc:
        raise BadFile(f"file: {exc}") from None
    slices = [slices[i] for i in sort]
    series = Series(slices, gap=float(np.median(gaps)))
    if _spaced(series.first):
        series.affine = geometry.affine([ds for ds, _ in slices])
    return series
