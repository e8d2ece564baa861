"""The `nifti` format: NIfTI-1/2, also gzipped, checked from its header and loaded with nibabel.

At submit the header is read (a gzip is unpacked in chunks only to count it); in the
worker the image is scaled (scl_slope, scl_inter), a 4-D one's `frame` picked
(dashboard.volumes.frames) and brought to nibabel's closest canonical (RAS+) order.
"""
import gzip
import io
import zlib

import numpy as np

from dashboard.volumes import frames
from dashboard.volumes.formats import (
    MB,
    NIFTI_HEAD,
    READ,
    BadFile,
    Found,
    Loaded,
    voxels,
)


def _unpacked(fileobj, max_bytes, limit_mb):
    """(first NIFTI_HEAD bytes, total size) of a gzip stream, read in chunks, or BadFile.

    Stops (refusing) as soon as the content passes `max_bytes`: the size in a gzip's
    trailer is the sender's word, the count while reading is not.
    """
    head, total = b"", 0
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as stream:
            while True:
                chunk = stream.read(READ)
                if not chunk:
                    break
                if len(head) < NIFTI_HEAD:
                    head += chunk[:NIFTI_HEAD - len(head)]
                total += len(chunk)
                if total > max_bytes:
                    raise BadFile(f"file: the gzip unpacks to more than MAX_VOLUME_MB"
                                  f" ({limit_mb} MB); refused")
    except (OSError, EOFError, zlib.error) as exc:
        raise BadFile(f"file: corrupt or truncated gzip ({str(exc)[:200]})")
    return head, total


def inspect_nifti(fileobj, size, params, max_volume_bytes):
    """A NIfTI-1/2 file, maybe gzipped: a sound header and at least the bytes it needs."""
    import nibabel as nib
    from nibabel.spatialimages import HeaderDataError
    head = fileobj.read(NIFTI_HEAD)
    packed = head[:2] == b"\x1f\x8b"
    total = size
    if packed:
        fileobj.seek(0)
        head, total = _unpacked(fileobj, max_volume_bytes + NIFTI_HEAD + MB,
                                max_volume_bytes // MB)
    where = " inside the gzip" if packed else ""
    if nib.Nifti1Header.may_contain_header(head):
        klass = nib.Nifti1Header
        if head[344:347] == b"ni1":
            raise BadFile("file: a two-file NIfTI header (.hdr/.img); send one .nii or .nii.gz")
    elif nib.Nifti2Header.may_contain_header(head):
        klass = nib.Nifti2Header
    else:
        raise BadFile(f"file: no NIfTI-1 or NIfTI-2 header{where} (truncated or not NIfTI)")
    try:
        header = klass.from_fileobj(io.BytesIO(head), check=True)
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = header.get_data_dtype()
        offset = int(header.get_data_offset())
        zooms = [float(z) for z in header.get_zooms()]
        affine = header.get_best_affine()
    except (HeaderDataError, ValueError, TypeError, IndexError) as exc:
        raise BadFile(f"file: corrupt NIfTI header ({str(exc)[:200]})")
    if len(shape) < 3 or any(n != 1 for n in shape[4:]):
        raise BadFile(f"file: the NIfTI image has shape {list(shape)}; a volume has 3"
                      " dimensions (4 with frames)")
    if dtype.fields or dtype.kind not in "iuf":
        raise BadFile(f"file: the NIfTI data type {dtype} is not one a volume can have")
    if min(shape[:4]) < 1:
        raise BadFile(f"file: corrupt NIfTI header: shape {list(shape[:3])} has an empty axis")
    frame = frames.choose(params, shape, BadFile)
    expected = offset + voxels(shape[:4]) * dtype.itemsize
    if total < expected:
        raise BadFile(f"file: truncated NIfTI: {total} bytes{where}, its header (shape"
                      f" {list(shape[:4])} of {dtype.name} from byte {offset}) needs {expected}")
    shape = shape[:3]
    if not np.isfinite(affine).all():
        raise BadFile("file: the NIfTI header's voxel-to-world transform (qform or sform) has"
                      " values that are not finite numbers")
    slope, inter = header.get_slope_inter()
    scaled = slope is not None and (slope != 1 or (inter or 0) != 0)
    ornt = nib.orientations.io_orientation(affine)
    canonical = [0, 0, 0]
    spacing = [0.0, 0.0, 0.0]
    for axis, (target, _) in enumerate(ornt[:3]):
        canonical[int(target)], spacing[int(target)] = shape[axis], zooms[axis]
    small = dtype.itemsize <= 2 or dtype == np.float32
    scaled = scaled or frame == frames.SUM
    return Found("nifti", tuple(canonical),
                 ("float32" if small else "float64") if scaled else dtype.name, spacing)


def load_nifti(path, params, max_volume_bytes):
    """The NIfTI image scaled and in nibabel's closest canonical (RAS+) orientation.

    `path` must end in .nii or .nii.gz (nibabel picks the opener from the name).
    """
    import os

    import nibabel as nib
    with open(path, "rb") as fh:
        packed = fh.read(2) == b"\x1f\x8b"
    named = path + (".nii.gz" if packed else ".nii")
    os.symlink(path, named)
    try:
        image = nib.load(named)
        proxy = image.dataobj
        stored = proxy.get_unscaled()               # a memory map of a plain .nii
    finally:
        os.unlink(named)                            # a memory map keeps the file itself
    slope, inter = float(proxy.slope), float(proxy.inter)
    count = int(stored.shape[3]) if stored.ndim > 3 else 1
    frame = frames.choose(params, stored.shape, BadFile)
    if frame is None:
        stored, done = stored.reshape(stored.shape[:3], order="A"), False
    else:
        stored, done = frames.pick(stored.reshape(stored.shape[:4], order="A"), frame,
                                   slope, inter)
    if (slope, inter) != (1.0, 0.0) and not done:
        # scl_slope / scl_inter applied one z slab at a time, into float32 for 8- and 16-bit
        # data (exact there), so the peak is the scaled volume, not a float64 temporary.
        small = stored.dtype.itemsize <= 2 or stored.dtype == np.float32
        scaled = np.empty(stored.shape, np.float32 if small else np.float64, order="F")
        for k in range(stored.shape[2]):
            scaled[:, :, k] = stored[:, :, k] * slope + inter
        stored = scaled
    image = nib.Nifti1Image(stored, image.affine, image.header) if isinstance(
        image, nib.Nifti1Image) else nib.Nifti2Image(stored, image.affine, image.header)
    canonical = nib.as_closest_canonical(image)     # flips and transposes: views, no copy
    array = np.asanyarray(canonical.dataobj)
    spacing = [float(z) for z in canonical.header.get_zooms()[:3]]
    return Loaded(array, "nifti", spacing, orientation="RAS",
                  affine=canonical.affine.tolist(), frame=frame,
                  frames=count if frame is not None else None)
