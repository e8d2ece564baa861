"""The viewer's images: slices and projections oriented as docs/user-guide.md describes, windowed.

Index order is [x, y, z]. `axial` k shows v[:, :, k], `coronal` j shows v[:, j, :],
`sagittal` i shows v[i, :, :]. A volume without a patient orientation (raw, npy) is
shown as stored: x (y for sagittal) runs left to right; axial rows are y from top to
bottom; coronal and sagittal rows are z with the highest at the top. A RAS+ volume
(NIfTI, DICOM) is shown as PACS viewers show it (radiological): the patient's right
(high x) on the image's left, anterior (high y) at the top of an axial image, superior
(high z) at the top of coronal and sagittal ones, anterior on the left of a sagittal
one. Images are scaled (nearest neighbour) to the voxel spacing, so a position is the
same fraction of the image whatever the spacing.
"""
import io
import math
import sys

import numpy as np
from PIL import Image

VIEWS = ("axial", "coronal", "sagittal")
AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}     # the axis a view's index walks along
# The image's (columns, rows) axes of the volume, per view.
PLANE = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}
MIN_SIDE, MAX_SIDE = 320, 1024                        # the longer side of a rendered image
# Named windows (level, width). CT ones in HU; "pet" and "full" come from the volume.
CT_WINDOWS = {"soft_tissue": (40.0, 400.0), "lung": (-600.0, 1500.0), "bone": (400.0, 1800.0)}
WINDOW_LABELS = {"suv5": "PET SUV 0-5", "suv10": "PET SUV 0-10", "full": "Full range",
                 "soft_tissue": "CT soft tissue", "lung": "CT lung", "bone": "CT bone",
                 "pet": "PET (0.5-99.5 percentile)"}
SUV_WINDOWS = {"suv5": 5.0, "suv10": 10.0}             # SUV 0 to this


def slice_count(shape, view):
    """How many slices a view has."""
    return int(shape[AXIS[view]])


def flips(view, oriented):
    """(columns reversed, rows reversed): how a view's image runs against the volume's axes."""
    if oriented:
        return True, True                # high x / y on the left, high y / z at the top
    return False, view != "axial"        # as stored: z highest at the top


def orient(plane, view, oriented=False):
    """A 2D plane of the volume (axes as PLANE[view]) as image rows x columns."""
    image = plane.T                      # rows: the second axis, columns: the first
    cols_reversed, rows_reversed = flips(view, oriented)
    return image[::-1 if rows_reversed else 1, ::-1 if cols_reversed else 1]


def cut(vol, view, index, oriented=False):
    """Slice `index` of `view` as an image array (rows x columns), or IndexError."""
    if not 0 <= index < slice_count(vol.shape, view):
        raise IndexError(f"{view} slice {index} is outside 0..{slice_count(vol.shape, view) - 1}")
    plane = {"axial": lambda: vol[:, :, index], "coronal": lambda: vol[:, index, :],
             "sagittal": lambda: vol[index, :, :]}[view]()
    return orient(np.asarray(plane), view, oriented)


def projection(vol, axis):
    """Maximum intensity projection along `axis` (NaN ignored unless a whole ray is NaN)."""
    return np.fmax.reduce(vol, axis=axis)


def mip(vol, view, oriented=False):
    """The maximum intensity projection seen from `view`, oriented like its slices."""
    return orient(projection(vol, AXIS[view]), view, oriented)


def windows(stats):
    """Named windows {name: (level, width)} for a volume's statistics (PET: SUV ones, no CT)."""
    found = {} if stats.get("modality") == "PT" else dict(CT_WINDOWS)
    factor = (stats.get("suv") or {}).get("factor")
    if factor and factor > 0:
        for name, top in SUV_WINDOWS.items():
            found[name] = _spanning(0.0, top / factor)
    lo, hi = stats.get("min"), stats.get("max")
    if lo is not None and hi is not None:
        found["full"] = _spanning(lo, hi)
    pct = stats.get("percentiles") or {}
    if "0.5" in pct and "99.5" in pct:
        found["pet"] = _spanning(pct["0.5"], pct["99.5"])
    return {name: found[name] for name in WINDOW_LABELS if name in found}


def default_window(stats, named):
    """The window a volume opens in: SUV 0-5 (or by percentile) for PET, else the full range."""
    first = ("suv5", "pet", "full") if stats.get("modality") == "PT" else ("full",)
    return next((name for name in first if name in named), next(iter(named)))


def _spanning(low, high):
    """(level, width) of the window from `low` to `high`, both finite floats.

    Halves are added (the sum of two large values overflows); a span wider than a
    float holds gets the largest width there is. An empty span gets width 1.
    """
    low, high = float(low), float(high)
    width = min(high - low, sys.float_info.max)
    return low / 2.0 + high / 2.0, width or 1.0


def window(image, level, width):
    """An image as uint8 through a window: level - width/2 is black, level + width/2 white.

    NaN and -inf are black, +inf white.
    """
    values = np.asarray(image, dtype=np.float64)
    lo = level - width / 2.0
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = (values - lo) * (255.0 / width)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)


def to_gray8(image):
    """A 2D array scaled over its finite range to uint8; NaN and -inf black, +inf white.

    A constant image is black (there is no range to scale over).
    """
    values = np.asarray(image, dtype=np.float64)
    ok = np.isfinite(values)
    out = np.zeros(values.shape, dtype=np.uint8)
    if ok.any():
        lo, hi = values[ok].min(), values[ok].max()
        if hi > lo:
            # Divide by the span itself (a subnormal one too: 255 / span would overflow);
            # by halves only when the span is wider than a float64 holds.
            half_span = hi / 2 - lo / 2
            if half_span <= np.finfo(np.float64).max / 2:
                fraction = (np.where(ok, values, lo) - lo) / (hi - lo)
            else:
                fraction = (np.where(ok, values, lo) / 2 - lo / 2) / half_span
            out = np.rint(np.clip(fraction * 255.0, 0, 255)).astype(np.uint8)
    out[np.isposinf(values)] = 255
    return out


def display_size(rows, cols, view, spacing):
    """(width, height) in pixels: the voxel aspect ratio kept, the longer side readable.

    Voxel sizes that are not positive finite numbers count as square voxels; a voxel
    more than MAX_SIDE times longer than wide is drawn MAX_SIDE times longer.
    """
    col_axis, row_axis = PLANE[view]
    col_mm, row_mm = (spacing[col_axis], spacing[row_axis]) if spacing else (1.0, 1.0)
    if not (0 < col_mm < math.inf and 0 < row_mm < math.inf):
        col_mm = row_mm = 1.0
    unit = min(col_mm, row_mm)
    width = cols * min(col_mm / unit, MAX_SIDE)
    height = rows * min(row_mm / unit, MAX_SIDE)
    longer = max(width, height)
    factor = min(max(1.0, MIN_SIDE / longer), MAX_SIDE / longer)
    return max(1, round(width * factor)), max(1, round(height * factor))


def png(gray8, size=None):
    """PNG bytes of an 8-bit grayscale image, resized (nearest neighbour) to `size` if given."""
    image = Image.fromarray(np.ascontiguousarray(gray8))
    if size is not None and size != image.size:
        image = image.resize(size, Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()
