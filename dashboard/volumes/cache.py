"""The canonical volume each load_array attempt leaves behind, and the web's memory maps of it.

The worker records, per attempt, which upload holds the [x, y, z] volume and how to
map it (`volume_caches`): for raw and npy files the uploaded file itself (no copy),
for NIfTI and DICOM a C-order copy it stores as a new upload. PostgreSQL is the only
store every host shares, so the web copies that upload once, in chunks, to a local
file under VOLUME_CACHE_DIR and keeps a small per-process LRU of `np.memmap`s of it:
a slice is then a strided read from the OS page cache (shared by every gunicorn
worker), not a database read of the whole upload per image. Projections, a full
pass over the volume, are kept per process as well. The directory is kept under
VOLUME_CACHE_MB by removing the least recently used copies.
"""
import collections
import contextlib
import os
import tempfile
import threading

import numpy as np
from flask import current_app
from sqlalchemy import text

from dashboard import uploads
from dashboard.extensions import db
from dashboard.volumes import render

OPEN_VOLUMES = 8                     # memory maps kept per process
KEPT_MIPS = 24                       # projections kept per process (small 2D arrays)
_lock = threading.Lock()
_volumes = collections.OrderedDict()  # (upload_id, sha256) -> np.memmap
_mips = collections.OrderedDict()     # (upload_id, sha256, view, oriented) -> 2D array


def record(request_id, attempt, loaded, upload_id, layer="main"):
    """Remember the attempt's volume (in the caller's transaction); stores a copy if needed."""
    array = loaded.array
    if loaded.in_file is not None:
        offset, dtype, fortran_order = loaded.in_file
    else:
        with tempfile.TemporaryFile("w+b") as fh:
            for i in range(array.shape[0]):          # C order, one x slab at a time
                fh.write(np.ascontiguousarray(array[i]).tobytes())
            upload_id = uploads.store_file(fh, f"volume-{request_id}-{attempt}.raw")
        offset, dtype, fortran_order = 0, array.dtype.str, False
    db.session.execute(text(
        "INSERT INTO volume_caches (request_id, attempt, layer, upload_id, byte_offset, dtype,"
        " shape, fortran_order) VALUES (:r, :a, :l, :u, :o, :d, :s, :f)"
        " ON CONFLICT (request_id, attempt, layer) DO UPDATE SET upload_id = EXCLUDED.upload_id,"
        " byte_offset = EXCLUDED.byte_offset, dtype = EXCLUDED.dtype, shape = EXCLUDED.shape,"
        " fortran_order = EXCLUDED.fortran_order"),
        {"r": request_id, "a": attempt, "l": layer, "u": upload_id, "o": offset, "d": dtype,
         "s": [int(n) for n in array.shape], "f": bool(fortran_order)})


def find(request_id):
    """The volume of the request's current attempt when it succeeded, as a dict, or None."""
    row = db.session.execute(text(
        "SELECT v.upload_id, v.byte_offset, v.dtype, v.shape, v.fortran_order, u.sha256,"
        " r.result, r.attempt FROM requests r"
        " JOIN volume_caches v ON v.request_id = r.id AND v.attempt = r.attempt"
        " AND v.layer IN ('main', 'ct')"
        " JOIN uploads u ON u.id = v.upload_id"
        " WHERE r.id = :id AND r.status = 'success'"), {"id": request_id}).mappings().first()
    return dict(row) if row else None


def find_layers(request_id):
    """{layer: row as `find` gives it} of the request's current attempt ('main', or 'ct' then
    'pet'), empty when it has no loaded volume."""
    rows = db.session.execute(text(
        "SELECT v.layer, v.upload_id, v.byte_offset, v.dtype, v.shape, v.fortran_order,"
        " u.sha256, r.result, r.attempt FROM requests r"
        " JOIN volume_caches v ON v.request_id = r.id AND v.attempt = r.attempt"
        " JOIN uploads u ON u.id = v.upload_id"
        " WHERE r.id = :id AND r.status = 'success'"), {"id": request_id}).mappings().all()
    order = {"main": 0, "ct": 1, "pet": 2}
    return {row["layer"]: dict(row) for row in sorted(rows, key=lambda r: order.get(
        r["layer"], 3))}


def _local_path(found):
    """Where this process keeps the volume's bytes; copied from PostgreSQL the first time."""
    directory = current_app.config["VOLUME_CACHE_DIR"]
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"upload-{found['upload_id']}-{found['sha256'][:16]}.bin")
    if not os.path.exists(path):
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as fh:
                uploads.copy_to(found["upload_id"], fh)
            os.replace(partial, path)
        except BaseException:
            os.unlink(partial)
            raise
        finally:
            db.session.rollback()
        prune(directory, current_app.config["VOLUME_CACHE_MB"] * 1024 * 1024, keep=path)
    else:
        os.utime(path)                   # recently used: pruned last
    return path


def prune(directory, budget, keep):
    """Remove the least recently used copies until the directory fits `budget` bytes.

    A copy another process has mapped stays readable there (the kernel keeps its pages).
    """
    entries = []
    for entry in os.scandir(directory):
        if entry.name.startswith("upload-") and entry.is_file():
            info = entry.stat()
            entries.append((info.st_mtime, info.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= budget:
            break
        if path != keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            total -= size


def volume(found):
    """A read-only memory map of the volume described by `found` (see `find`)."""
    key = (found["upload_id"], found["sha256"])
    with _lock:
        if key in _volumes:
            _volumes.move_to_end(key)
            return _volumes[key]
        array = np.memmap(_local_path(found), dtype=np.dtype(found["dtype"]), mode="r",
                          offset=int(found["byte_offset"]), shape=tuple(found["shape"]),
                          order="F" if found["fortran_order"] else "C")
        _volumes[key] = array
        while len(_volumes) > OPEN_VOLUMES:
            _volumes.popitem(last=False)
        return array


def mip(found, view, oriented=False):
    """The maximum intensity projection of `view`, computed once per process."""
    key = (found["upload_id"], found["sha256"], view, oriented)
    with _lock:
        if key in _mips:
            _mips.move_to_end(key)
            return _mips[key]
    with np.errstate(invalid="ignore"):
        image = render.mip(volume(found), view, oriented)
    with _lock:
        _mips[key] = image
        while len(_mips) > KEPT_MIPS:
            _mips.popitem(last=False)
    return image
