"""`load_array`: a PET-CT volume (raw, npy, NIfTI, DICOM series): statistics, projections, viewer.

The formats, statistics and images live in dashboard.volumes; this module is the
job type: its parameters, the check at submit and the run in the worker.
"""
import os

import numpy as np
from flask import current_app

from dashboard import uploads
from dashboard.errors import Refused
from dashboard.jobs import JobType
from dashboard.volumes import cache, formats, render
from dashboard.volumes.formats import DTYPES, MB
from dashboard.volumes.render import png, projection, to_gray8
from dashboard.volumes.stats import statistics

AXES = "xyz"
DEFAULT_MAX_VOLUME_MB = 2048

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "format": {"enum": list(formats.FORMATS), "title": "Format",
                   "description": "The file's format; empty: found from the file."},
        "shape": {"type": "array", "minItems": 3, "maxItems": 3,
                  "items": {"type": "integer", "minimum": 1, "maximum": 4096},
                  "title": "Shape (x, y, z)",
                  "description": "Voxels along each axis; needed for a raw file."},
        "dtype": {"enum": DTYPES, "title": "Data type",
                  "description": "A raw file's value type; empty: float32."},
        "byte_order": {"enum": ["little", "big"], "title": "Byte order",
                       "description": "A raw file's byte order; empty: little."},
        "spacing": {"type": "array", "minItems": 3, "maxItems": 3,
                    "items": {"type": "number", "minimum": formats.MIN_SPACING_MM,
                              "maximum": formats.MAX_SPACING_MM},
                    "title": "Voxel spacing (mm)",
                    "description": "Millimetres between voxels along x, y and z; empty: from"
                                   " the file."},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600,
                            "title": "Time limit (s)",
                            "description": "Lowers the job type's time limits; empty keeps"
                                           " them."},
    },
}


def max_volume_bytes():
    """MAX_VOLUME_MB in bytes: the largest volume (or unpacked archive) taken."""
    return int(current_app.config.get("MAX_VOLUME_MB", DEFAULT_MAX_VOLUME_MB)) * MB


def check(params, upload_meta):
    """The file must be a volume its format's rules accept; fills in `format` (and raw defaults)."""
    if not upload_meta:
        return
    if "file" in upload_meta:
        try:
            found = formats.inspect(upload_meta["file"], upload_meta["size"], params,
                                    max_volume_bytes())
        except formats.BadFile as exc:
            raise Refused(exc.message) from None
        params["format"] = found.format
    elif params.get("format", "raw") != "raw":
        raise Refused("file: cannot be checked (no file content at submit)")
    elif "shape" not in params:
        raise Refused("params.shape: is required")
    else:
        params["format"] = "raw"
    if params["format"] == "raw":
        params.setdefault("dtype", "float32")
        params.setdefault("byte_order", "little")
        if "file" not in upload_meta:
            found = formats.Found("raw", tuple(params["shape"]), params["dtype"])
            expected = int(np.prod(found.shape)) * np.dtype(found.dtype).itemsize
            if upload_meta["size"] != expected:
                raise Refused(f"file: size {upload_meta['size']} bytes does not match shape"
                                   f" {params['shape']} of {params['dtype']}"
                                   f" ({expected} bytes expected)")


def run(ctx):
    """Load the volume, its statistics and one MIP per axis; keep it for the viewer."""
    p = ctx.params
    with uploads.spooled(ctx.upload_id) as path:
        ctx.log(f"reading the volume ({os.path.getsize(path)} bytes)")
        loaded = formats.load(path, p, max_volume_bytes())
        vol = loaded.array
        ctx.log(f"loaded a {loaded.format} volume, shape {'x'.join(map(str, vol.shape))},"
                f" {vol.dtype.name}; computing statistics")
        result = {"format": loaded.format, "shape": [int(n) for n in vol.shape],
                  "dtype": vol.dtype.name, "spacing_mm": loaded.spacing_mm,
                  "modality": loaded.modality, "units": loaded.units}
        if loaded.format == "raw":
            result["byte_order"] = p.get("byte_order", "little")
        # Signalling NaNs and huge values in real files raise FP flags; they are counted.
        with np.errstate(invalid="ignore", over="ignore"):
            result.update(statistics(vol, ctx.progress))
            result["projections"] = _projections(vol, ctx)
        result["windows"] = {name: {"level": level, "width": width}
                             for name, (level, width) in render.windows(result).items()}
        cache.record(ctx.request_id, ctx.attempt, loaded, ctx.upload_id)
        del vol, loaded
    return result


def _projections(vol, ctx):
    """One MIP per axis as a PNG artifact; returns their descriptions."""
    projections = []
    for axis, name in enumerate(AXES):
        rows, cols = [a for a in AXES if a != name]
        gray = to_gray8(projection(vol, axis))
        filename = f"mip_{name}.png"
        ctx.add_artifact(filename, "image/png", png(gray))
        ctx.log(f"projection along {name}: {gray.shape[1]}x{gray.shape[0]} PNG")
        projections.append({"name": filename, "axis": name, "rows": rows, "cols": cols,
                            "height": int(gray.shape[0]), "width": int(gray.shape[1])})
        ctx.progress(90 + 10 * (axis + 1) / len(AXES))
    return projections


LOAD_ARRAY = JobType(
    name="load_array", title="Load PET-CT volume", schema=SCHEMA, run=run, check=check,
    file="required", from_file=("format",), soft_limit_s=300, hard_limit_s=330,
    max_attempts=1,
    max_wait_s=120, max_run_s=600,
)

JOB_TYPES = (LOAD_ARRAY,)
