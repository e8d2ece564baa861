"""Where a DICOM series lies in the patient: one orientation, even slice gaps, the RAS+ affine.

DICOM positions are in LPS (x toward the patient's left, y posterior, z superior);
the affine this module gives maps an array index [i, j, k] to RAS+ millimetres, as
nibabel's do, so a DICOM series and the NIfTI made of it are held the same way.
"""
import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SAME_ORIENTATION = 1e-3          # cosines that differ less are one orientation (rounding)
GAP_SHARE, GAP_MM = 0.01, 0.01   # slice gaps may differ by 1 % of the usual gap, or 0.01 mm
SHOWN_GAPS = 8                   # gaps named in a refusal


class SeriesGeometryError(ValueError):
    """The slices do not make one regular volume; the message says why."""


def _vector(ds, keyword):
    """The slice's `keyword` as a float64 array."""
    return np.asarray(ds[keyword].value, dtype=np.float64).reshape(-1)


def check_orientation(headers):
    """SeriesGeometryError unless every slice has the first slice's ImageOrientationPatient."""
    first = _vector(headers[0], "ImageOrientationPatient")
    for ds in headers[1:]:
        if np.abs(_vector(ds, "ImageOrientationPatient") - first).max() > SAME_ORIENTATION:
            raise SeriesGeometryError("slices of one series have different orientations")


def normal(ds):
    """The unit vector across the slice (row direction x column direction), LPS."""
    iop = _vector(ds, "ImageOrientationPatient")
    return np.cross(iop[:3], iop[3:])


def check_gaps(positions):
    """SeriesGeometryError when the gaps between sorted slice positions are uneven."""
    gaps = np.diff(positions)
    if gaps.size < 2:
        return
    usual = float(np.median(gaps))
    if np.abs(gaps - usual).max() > max(GAP_SHARE * abs(usual), GAP_MM):
        shown = ", ".join(f"{g:.6g}" for g in gaps[:SHOWN_GAPS])
        more = f", … ({gaps.size} gaps)" if gaps.size > SHOWN_GAPS else ""
        raise SeriesGeometryError(f"uneven slice gaps: {shown}{more} mm (they differ by more"
                                  f" than {GAP_SHARE:.0%} or {GAP_MM:g} mm)")


def affine(headers):
    """The RAS+ affine of the [column, row, slice] array of slices sorted along the normal."""
    first = headers[0]
    iop = _vector(first, "ImageOrientationPatient")
    row_mm, col_mm = (float(v) for v in first.PixelSpacing)
    origin = _vector(first, "ImagePositionPatient")
    if len(headers) > 1:
        step = (_vector(headers[-1], "ImagePositionPatient") - origin) / (len(headers) - 1)
    else:
        thickness = first.get("SliceThickness")
        step = normal(first) * (float(thickness) if thickness else 1.0)
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * col_mm        # along a row: the next column
    lps[:3, 1] = iop[3:] * row_mm        # down a column: the next row
    lps[:3, 2] = step
    lps[:3, 3] = origin
    return LPS_TO_RAS @ lps


def canonical_order(shape, affine_ras):
    """(nibabel orientation, RAS+ shape) that brings an array of `shape` to RAS+ order."""
    from nibabel.orientations import io_orientation
    ornt = io_orientation(affine_ras)
    ras_shape = [0, 0, 0]
    for axis, (target, _) in enumerate(ornt[:3]):
        ras_shape[int(target)] = int(shape[axis])
    return ornt, tuple(ras_shape)


def ras_affine(shape, affine_ras):
    """The affine of an array of `shape` once brought to RAS+ order."""
    from nibabel.orientations import inv_ornt_aff
    ornt, _ = canonical_order(shape, affine_ras)
    return affine_ras @ inv_ornt_aff(ornt, shape)


def to_ras(array, affine_ras):
    """(array view in RAS+ order, its affine): nibabel's flips and transposes, no copy."""
    from nibabel.orientations import apply_orientation
    ornt, _ = canonical_order(array.shape, affine_ras)
    return apply_orientation(array, ornt), ras_affine(array.shape, affine_ras)


def spacing(affine_ras):
    """The voxel size in mm along each array axis (the affine's column lengths)."""
    return [float(v) for v in np.sqrt((np.asarray(affine_ras)[:3, :3] ** 2).sum(axis=0))]
