"""Volume file formats: recognised from the content, checked at submit, loaded in the worker.

`raw` (anything not recognised: shape, dtype and byte order from the params), `npy`
(NumPy's own header), `nifti` (.nii and .nii.gz, read with nibabel) and `dicom-zip`
(a zip of one DICOM series, or a CT and a PT series to fuse, read with pydicom:
dashboard.volumes.dicom_zip). `inspect` reads headers only (and counts what a gzip or
a zip would unpack to) so that a bad file is refused at submit with what is wrong;
`load` gives the worker the volume as an [x, y, z] array: NIfTI and DICOM in RAS+
order (index i toward the patient's right, j anterior, k superior) with their affine.
"""
import gzip
import io
import math
import zlib
from dataclasses import dataclass

import numpy as np

from dashboard.volumes import frames

FORMATS = ("raw", "npy", "nifti", "dicom-zip")
DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]
MB = 1024 * 1024
READ = MB                                   # bytes read at a time when counting or copying
NIFTI_HEAD = 540                            # NIfTI-2's header size (NIfTI-1's is 348)
# Voxel sizes taken (mm): from 0.1 um to 1 m; outside, a header is wrong (or not in mm).
MIN_SPACING_MM, MAX_SPACING_MM = 1e-4, 1000.0


class BadFile(ValueError):
    """The file cannot be used: `message` names the field (`file:` or `params.x:`)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class Found:
    """What a file holds, as far as its headers tell (shape as stored, [x, y, z] for DICOM)."""
    format: str
    shape: tuple
    dtype: str
    spacing_mm: list = None
    modality: str = None
    units: str = None


@dataclass
class Loaded:
    """A volume in the worker: the [x, y, z] array and where its bytes already are.

    `in_file` is (byte offset, numpy dtype string, Fortran order) when the array is a
    memory map of the uploaded file itself (raw, npy), else None (a copy must be kept).
    """
    array: np.ndarray
    format: str
    spacing_mm: list = None
    modality: str = None
    units: str = None
    in_file: tuple = None
    orientation: str = None          # "RAS" (NIfTI, DICOM), None: shown as stored (raw, npy)
    affine: list = None              # 4x4 voxel index -> RAS+ mm, or None
    suv_factor: float = None         # PT: stored value x factor = SUV (body weight)
    suv_note: str = None             # PT: why there is no SUV factor
    pet: "Loaded" = None             # PET/CT: the PT resampled onto this (CT) grid
    layers: list = None              # volume_caches layers: ["main"], or ["ct", "pet"]
    resampled_from: dict = None      # a resampled PET's own shape and spacing
    frame: object = None             # 4-D NIfTI: the frame index or "sum"; frames: their count
    frames: int = None

    def __post_init__(self):
        self.layers = self.layers or ["main"]


def detect(head):
    """The format of a file from its first bytes (`raw` when nothing is recognised)."""
    import nibabel as nib
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:2] == b"\x1f\x8b":
        return "nifti"                      # the one gzipped format taken: .nii.gz
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "dicom-zip"
    if nib.Nifti1Header.may_contain_header(head) or (
            head[4:7] == b"n+2" and nib.Nifti2Header.may_contain_header(head)):
        return "nifti"
    return "raw"


def inspect(fileobj, size, params, max_volume_bytes):
    """Found for a seekable binary file of `size` bytes, or BadFile saying what is wrong."""
    fileobj.seek(0)
    head = fileobj.read(NIFTI_HEAD)
    fileobj.seek(0)
    fmt = params.get("format") or detect(head)
    if fmt != "nifti" and "frame" in params:
        raise BadFile(f"params.frame: only for 4-D NIfTI files (this file is {fmt})")
    if fmt != "raw":
        for key in ("shape", "dtype", "byte_order"):
            if key in params:
                raise BadFile(f"params.{key}: only for raw files (this file is {fmt})")
    if fmt not in ("raw", "npy") and "spacing" in params:
        raise BadFile(f"params.spacing: only for raw and npy files ({fmt} files carry"
                      " their own voxel spacing)")
    from dashboard.volumes.dicom_zip import inspect_zip
    try:
        found = {"raw": _inspect_raw, "npy": _inspect_npy, "nifti": _inspect_nifti,
                 "dicom-zip": inspect_zip}[fmt](fileobj, size, params, max_volume_bytes)
    except BadFile:
        raise
    except Exception as exc:  # noqa: BLE001  (whatever a parser trips on, the file is bad)
        raise BadFile(f"file: not a readable {fmt} volume ({exc.__class__.__name__}:"
                      f" {str(exc)[:160]})") from exc
    finally:
        fileobj.seek(0)
    _check_geometry(found, "params.spacing" if fmt in ("raw", "npy") else "file")
    voxels = _voxels(found.shape)
    if voxels * np.dtype(found.dtype).itemsize > max_volume_bytes:
        raise BadFile(f"file: the volume {list(found.shape)} of {found.dtype} is larger than"
                      f" MAX_VOLUME_MB ({max_volume_bytes // MB} MB)")
    return found


def _voxels(shape):
    """The number of voxels of `shape`, exactly (Python integers do not overflow)."""
    return math.prod(int(n) for n in shape)


def _check_geometry(found, where):
    """BadFile unless every axis has voxels and every voxel size is a finite, sane length."""
    if any(int(n) < 1 for n in found.shape):
        raise BadFile(f"file: the volume's shape {[int(n) for n in found.shape]} has an axis"
                      " without voxels")
    for axis, size in zip("xyz", found.spacing_mm or ()):
        if not MIN_SPACING_MM <= size <= MAX_SPACING_MM:        # NaN fails both
            raise BadFile(f"{where}: voxel size {size:g} mm along {axis} is outside"
                          f" {MIN_SPACING_MM:g} to {MAX_SPACING_MM:g} mm")


def raw_dtype(params):
    """The numpy dtype of a raw file's voxels (params dtype and byte_order)."""
    order = "<" if params.get("byte_order", "little") == "little" else ">"
    return np.dtype(params.get("dtype", "float32")).newbyteorder(order)


def raw_volume(data, shape, dtype, byte_order):
    """Raw bytes as a read-only (x, y, z) array in C order, without copying."""
    dt = np.dtype(dtype).newbyteorder("<" if byte_order == "little" else ">")
    expected = int(np.prod(shape)) * dt.itemsize
    if len(data) != expected:
        raise ValueError(f"file holds {len(data)} bytes, shape {list(shape)} of {dtype}"
                         f" needs {expected}")
    return np.frombuffer(data, dtype=dt).reshape(shape)


def _spacing(params):
    """The params' spacing in mm, or None."""
    spacing = params.get("spacing")
    return [float(s) for s in spacing] if spacing else None


def _inspect_raw(fileobj, size, params, max_volume_bytes):
    """A raw file: the params give its shape; the size must match exactly."""
    if "shape" not in params:
        raise BadFile("params.shape: is required for a raw file (the file was not recognised"
                      " as npy, NIfTI or a zip of DICOM files; `format` forces one)")
    shape, dtype = tuple(params["shape"]), params.get("dtype", "float32")
    expected = _voxels(shape) * np.dtype(dtype).itemsize
    if size != expected:
        raise BadFile(f"file: size {size} bytes does not match shape {list(shape)}"
                      f" of {dtype} ({expected} bytes expected)")
    return Found("raw", shape, dtype, _spacing(params))


def _npy_header(fileobj):
    """(shape, fortran_order, dtype, data offset) from NumPy's header, or BadFile."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fileobj)
        reader = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"npy format version {version} is not supported")
        shape, fortran_order, dtype = reader(fileobj)
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise BadFile(f"file: corrupt or truncated NumPy (npy) header ({str(exc)[:200]})")
    return shape, fortran_order, dtype, fileobj.tell()


def _inspect_npy(fileobj, size, params, max_volume_bytes):
    """An npy file: 3 dimensions of a number type, and exactly the bytes its header says."""
    shape, _, dtype, offset = _npy_header(fileobj)
    if len(shape) != 3:
        raise BadFile(f"file: the npy array has shape {list(shape)}; a volume has 3 dimensions")
    if dtype.hasobject or dtype.kind not in "iuf" or dtype.itemsize > 8:
        raise BadFile(f"file: the npy dtype {dtype} is not a number type a volume can have")
    if any(n < 1 for n in shape):
        raise BadFile(f"file: the volume's shape {list(shape)} has an axis without voxels")
    expected = offset + _voxels(shape) * dtype.itemsize
    if size != expected:
        raise BadFile(f"file: size {size} bytes does not match the npy header (shape"
                      f" {list(shape)} of {dtype.name}: {expected} bytes expected)")
    return Found("npy", tuple(shape), dtype.name, _spacing(params))


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


def _inspect_nifti(fileobj, size, params, max_volume_bytes):
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
    expected = offset + _voxels(shape[:4]) * dtype.itemsize
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


def load(path, params, max_volume_bytes):
    """The volume in the file at `path` as Loaded (the worker's side; the file was inspected)."""
    with open(path, "rb") as fh:
        head = fh.read(NIFTI_HEAD)
    fmt = params.get("format") or detect(head)
    from dashboard.volumes.dicom_zip import load_zip
    return {"raw": _load_raw, "npy": _load_npy, "nifti": _load_nifti,
            "dicom-zip": load_zip}[fmt](path, params, max_volume_bytes)


def _load_raw(path, params, max_volume_bytes):
    """A memory map of the raw file (C order: z varies fastest)."""
    dtype, shape = raw_dtype(params), tuple(params["shape"])
    array = np.memmap(path, dtype=dtype, mode="r", shape=shape)
    return Loaded(array, "raw", _spacing(params), in_file=(0, dtype.str, False))


def _load_npy(path, params, max_volume_bytes):
    """A memory map of the npy file's array."""
    with open(path, "rb") as fh:
        _, fortran_order, dtype, offset = _npy_header(fh)
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return Loaded(array, "npy", _spacing(params), in_file=(offset, dtype.str, fortran_order))


def _load_nifti(path, params, max_volume_bytes):
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
