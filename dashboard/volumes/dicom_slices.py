"""The slices in a zip of DICOM files: safe members, one header or image each, checked.

zip members with absolute or `..` names are skipped; what the members would unpack
to is counted before anything is unpacked; each slice must hold one grey value per
pixel, in cells this reader takes, with all the pixel data its header announces.
"""
import posixpath
import zipfile

import numpy as np

from dashboard.volumes.formats import MB, BadFile

MAX_MEMBERS = 20_000                        # zip entries looked at (a DICOM series has < 5000)
BITS_ALLOCATED = (8, 16, 32)                # DICOM pixel cells a volume can be read from


def safe_members(archive):
    """The zip's file entries whose names stay inside it (absolute or `..` names skipped)."""
    members = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        if info.is_dir() or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            continue
        if ".." in posixpath.normpath(name).split("/") or ".." in name.split("/"):
            continue
        members.append(info)
        if len(members) > MAX_MEMBERS:
            raise BadFile(f"file: the zip has more than {MAX_MEMBERS} files")
    return members


def open_zip(fileobj, max_bytes):
    """(ZipFile, safe members) after checking what they would unpack to, or BadFile."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BadFile(f"file: corrupt or truncated zip ({str(exc)[:200]})")
    members = safe_members(archive)
    declared = sum(info.file_size for info in members)
    if declared > max_bytes:
        raise BadFile(f"file: the zip would unpack to {declared / MB:.0f} MB, more than"
                      f" MAX_VOLUME_MB ({max_bytes // MB} MB); nothing was unpacked")
    return archive, members


def read(archive, info, pixels):
    """The DICOM dataset in one zip member (None when it is not DICOM), or BadFile.

    zipfile stops each member at its declared size and checks its CRC, so a header
    that lies about a size ends in BadZipFile here, not in an unbounded unpack.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    # Values that break the standard (a DS of "NaN") are read as they are and judged here.
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    try:
        with archive.open(info) as member:
            if pixels:
                return pydicom.dcmread(member)
            return pydicom.dcmread(member, defer_size=1024)  # pixel data skipped, not read
    except InvalidDicomError:
        return None
    except zipfile.BadZipFile as exc:
        raise BadFile(f"file: {info.filename[:100]}: corrupt zip member ({str(exc)[:200]})")
    except Exception as exc:  # noqa: BLE001  (a parser's failure on untrusted bytes)
        raise BadFile(f"file: {info.filename[:100]}: truncated or corrupt DICOM"
                      f" ({exc.__class__.__name__}: {str(exc)[:160]})")


def check_pixel_kind(ds, info):
    """BadFile unless a slice holds one grey value per pixel, in cells this reader takes."""
    name = info.filename[:100]
    try:
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        photometric = str(ds.get("PhotometricInterpretation", "") or "MONOCHROME2")
        bits = int(ds.BitsAllocated)
        stored = int(ds.get("BitsStored", bits))
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError) as exc:
        raise BadFile(f"file: {name}: no usable Rows, Columns or BitsAllocated"
                      f" ({str(exc)[:120]})")
    if samples != 1 or not photometric.startswith("MONOCHROME"):
        raise BadFile(f"file: {name}: a colour image ({photometric}, {samples} samples per"
                      " pixel); a volume has one grey value per voxel")
    if bits not in BITS_ALLOCATED:
        raise BadFile(f"file: {name}: BitsAllocated is {bits}; only"
                      f" {', '.join(map(str, BITS_ALLOCATED))} bits per pixel can be read")
    if not 1 <= stored <= bits:
        raise BadFile(f"file: {name}: BitsStored is {stored} in {bits} bits allocated")
    if rows < 1 or cols < 1:
        raise BadFile(f"file: {name}: {rows} x {cols} pixels (rows x columns); a slice needs"
                      " at least one of each")


def check_pixel_length(ds, info):
    """BadFile when a slice's pixel data is cut off or shorter than rows x columns needs."""
    element = ds.get_item("PixelData", keep_deferred=True)
    length, start = getattr(element, "length", None), getattr(element, "value_tell", None)
    if length is None or start is None or length == 0xFFFFFFFF:  # encapsulated: not checked
        return
    if start + length > info.file_size:
        raise BadFile(f"file: {info.filename[:100]}: truncated DICOM (pixel data needs"
                      f" {start + length} bytes, the file has {info.file_size})")
    try:
        needed = (int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1)
                  * int(ds.BitsAllocated) // 8)
    except (AttributeError, TypeError, ValueError) as exc:
        raise BadFile(f"file: {info.filename[:100]}: no usable Rows, Columns or BitsAllocated"
                      f" ({str(exc)[:120]})")
    if length < needed:
        raise BadFile(f"file: {info.filename[:100]}: {length} bytes of pixel data,"
                      f" {ds.Rows} x {ds.Columns} needs {needed}")


def check_finite(ds, info, keyword, count):
    """BadFile unless the slice's `keyword` holds `count` finite numbers."""
    try:
        values = np.asarray(ds[keyword].value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise BadFile(f"file: {info.filename[:100]}: {keyword} is not numbers ({str(exc)[:80]})")
    if values.size != count or not np.isfinite(values).all():
        raise BadFile(f"file: {info.filename[:100]}: {keyword} {[float(v) for v in values[:6]]}"
                      f" is not {count} finite numbers")


def check_decodable(ds, info):
    """BadFile unless pydicom can decode this slice's transfer syntax here."""
    from pydicom.pixels import get_decoder
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None:
        return
    try:
        available = get_decoder(syntax).is_available
    except (NotImplementedError, ValueError):
        available = False
    if not available:
        raise BadFile(f"file: {info.filename[:100]}: pixel data in {syntax.name}, which"
                      " cannot be decoded here (send uncompressed DICOM)")


def check_decodes(archive, ds, info):
    """BadFile unless the first slice decodes to one value per pixel (rows x columns)."""
    try:
        pixels = read(archive, info, pixels=True).pixel_array
    except BadFile:
        raise
    except Exception as exc:  # noqa: BLE001  (a decoder's failure on untrusted bytes)
        raise BadFile(f"file: {info.filename[:100]}: its pixels cannot be decoded"
                      f" ({exc.__class__.__name__}: {str(exc)[:160]})")
    if pixels.shape != (int(ds.Rows), int(ds.Columns)):
        raise BadFile(f"file: {info.filename[:100]}: its pixels decode to {list(pixels.shape)},"
                      f" not {int(ds.Rows)} x {int(ds.Columns)}")
