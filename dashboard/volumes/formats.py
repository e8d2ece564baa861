"""Volume file formats: recognised from the content, checked at submit, loaded in the worker.

`raw` (anything not recognised: shape, dtype and byte order from the params), `npy`
(NumPy's own header), `nifti` (.nii and .nii.gz, read with nibabel: see
dashboard.volumes.nifti) and `dicom-zip` (a zip of one DICOM series, or a CT and a PT
series to fuse, read with pydicom: see dashboard.volumes.dicom_zip). `inspect` reads headers only (and counts what a gzip or
a zip would unpack to) so that a bad file is refused at submit with what is wrong;
`load` gives the worker the volume as an [x, y, z] array: NIfTI and DICOM in RAS+
order (index i toward the patient's right, j anterior, k superior) with their affine.
"""
import math
from dataclasses import dataclass

import numpy as np

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
    from dashboard.volumes.nifti import inspect_nifti
    try:
        found = {"raw": _inspect_raw, "npy": _inspect_npy, "nifti": inspect_nifti,
                 "dicom-zip": inspect_zip}[fmt](fileobj, size, params, max_volume_bytes)
    except BadFile:
        raise
    except Exception as exc:  # noqa: BLE001  (whatever a parser trips on, the file is bad)
        raise BadFile(f"file: not a readable {fmt} volume ({exc.__class__.__name__}:"
                      f" {str(exc)[:160]})") from exc
    finally:
        fileobj.seek(0)
    _check_geometry(found, "params.spacing" if fmt in ("raw", "npy") else "file")
    count = voxels(found.shape)
    if count * np.dtype(found.dtype).itemsize > max_volume_bytes:
        raise BadFile(f"file: the volume {list(found.shape)} of {found.dtype} is larger than"
                      f" MAX_VOLUME_MB ({max_volume_bytes // MB} MB)")
    return found


def voxels(shape):
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
    expected = voxels(shape) * np.dtype(dtype).itemsize
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
    expected = offset + voxels(shape) * dtype.itemsize
    if size != expected:
        raise BadFile(f"file: size {size} bytes does not match the npy header (shape"
                      f" {list(shape)} of {dtype.name}: {expected} bytes expected)")
    return Found("npy", tuple(shape), dtype.name, _spacing(params))


def load(path, params, max_volume_bytes):
    """The volume in the file at `path` as Loaded (the worker's side; the file was inspected)."""
    with open(path, "rb") as fh:
        head = fh.read(NIFTI_HEAD)
    fmt = params.get("format") or detect(head)
    from dashboard.volumes.dicom_zip import load_zip
    from dashboard.volumes.nifti import load_nifti
    return {"raw": _load_raw, "npy": _load_npy, "nifti": load_nifti,
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
