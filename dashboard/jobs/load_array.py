"""`load_array`: a PET-CT volume (raw, npy, NIfTI, DICOM series or PET/CT pair): statistics, viewer.

The formats, statistics and images live in dashboard.volumes; this module is the
job type: its parameters, the check at submit and the run in the worker. A single
volume is kept as layer "main"; a PET/CT zip as layers "ct" and "pet" (the PET on
the CT grid), with the CT's statistics at the top of the result and the PET's in `pet`.
"""
import os

import numpy as np
from flask import current_app

from dashboard import uploads
from dashboard.errors import Refused
from dashboard.jobs import JobType
from dashboard.volumes import cache, formats, frames, render
from dashboard.volumes.formats import DTYPES, MB
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
        "frame": {"anyOf": [{"type": "integer", "minimum": 0},
                            {"type": "string", "pattern": "^ *([0-9]+|sum) *$"}],
                  "title": "Frame",
                  "description": "A 4-D (dynamic) NIfTI's frame: its index from 0, or \"sum\""
                                 " for all frames added."},
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
    if "frame" in params:
        params["frame"] = frames.normalise(params["frame"])
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
    elif "frame" in params:
        raise Refused("params.frame: only for 4-D NIfTI files (this file is raw)")
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
    """Load the volume (and a fused PET), their statistics and projections; keep them for the viewer."""
    p = ctx.params
    with uploads.spooled(ctx.upload_id) as path:
        ctx.log(f"reading the volume ({os.path.getsize(path)} bytes)")
        loaded = formats.load(path, p, max_volume_bytes())
        vol = loaded.array
        ctx.log(f"loaded a {loaded.format} volume, shape {'x'.join(map(str, vol.shape))},"
                f" {vol.dtype.name}; computing statistics")
        result = {"format": loaded.format, "shape": [int(n) for n in vol.shape],
                  "dtype": vol.dtype.name, "spacing_mm": loaded.spacing_mm,
                  "modality": loaded.modality, "units": loaded.units,
                  "orientation": loaded.orientation, "affine": loaded.affine,
                  "layers": loaded.layers}
        if loaded.format == "raw":
            result["byte_order"] = p.get("byte_order", "little")
        if loaded.frame is not None:
            result.update(frame=loaded.frame, frames=loaded.frames)
        weight = 0.5 if loaded.pet is not None else 1.0
        # Signalling NaNs and huge values in real files raise FP flags; they are counted.
        with np.errstate(invalid="ignore", over="ignore"):
            result.update(statistics(vol, lambda pct: ctx.progress(pct * weight)))
            _add_suv(result, loaded)
            if loaded.pet is not None:
                result["pet"] = _pet_block(loaded.pet, ctx)
            result["windows"] = {name: {"level": level, "width": width}
                                 for name, (level, width) in render.windows(result).items()}
            result["projections"] = _projections(vol, result, loaded.orientation, ctx)
        if loaded.pet is None:
            cache.record(ctx.request_id, ctx.attempt, loaded, ctx.upload_id)
        else:
            cache.record(ctx.request_id, ctx.attempt, loaded, ctx.upload_id, layer="ct")
            cache.record(ctx.request_id, ctx.attempt, loaded.pet, ctx.upload_id, layer="pet")
            ctx.log(f"PET resampled onto the CT grid (from {loaded.pet.resampled_from['shape']})")
        del vol, loaded
    return result


def _add_suv(block, loaded):
    """block["suv"] = {factor, max, mean} for a PT volume with a factor, else None (and why)."""
    if loaded.modality != "PT":
        block["suv"] = None
        return
    factor = loaded.suv_factor
    if factor is None:
        block["suv"], block["suv_note"] = None, loaded.suv_note
        return
    block["suv"] = {"factor": factor,
                    "max": None if block["max"] is None else block["max"] * factor,
                    "mean": None if block["mean"] is None else block["mean"] * factor}


def _pet_block(pet, ctx):
    """The fused PET layer's description and statistics (in its units), with its SUV."""
    block = {"modality": pet.modality, "units": pet.units,
             "source_shape": pet.resampled_from["shape"],
             "source_spacing_mm": pet.resampled_from["spacing_mm"]}
    block.update(statistics(pet.array, lambda pct: ctx.progress(45 + pct / 2)))
    _add_suv(block, pet)
    block["windows"] = {name: {"level": level, "width": width}
                        for name, (level, width) in render.windows(block).items()}
    return block


def _projections(vol, result, orientation, ctx):
    """One MIP per view as a PNG artifact, drawn as the viewer draws it; their descriptions."""
    named = render.windows(result)
    level, width = named[render.default_window(result, named)] if named else (0.0, 1.0)
    projections = []
    for axis, name in enumerate(AXES):
        view = {0: "sagittal", 1: "coronal", 2: "axial"}[axis]
        image = render.mip(vol, view, orientation is not None)
        gray = render.window(image, level, width) if named else render.to_gray8(image)
        size = render.display_size(gray.shape[0], gray.shape[1], view, result["spacing_mm"])
        filename = f"mip_{name}.png"
        ctx.add_artifact(filename, "image/png", render.png(gray, size))
        ctx.log(f"projection along {name} ({view}): {size[0]}x{size[1]} PNG")
        rows, cols = [a for a in AXES if a != name]
        projections.append({"name": filename, "axis": name, "view": view, "rows": rows,
                            "cols": cols, "width": size[0], "height": size[1]})
        ctx.progress(90 + 10 * (axis + 1) / len(AXES))
    return projections


LOAD_ARRAY = JobType(
    name="load_array", title="Load PET-CT volume", schema=SCHEMA, run=run, check=check,
    file="required", from_file=("format",), soft_limit_s=300, hard_limit_s=330,
    max_attempts=1,
    max_wait_s=120, max_run_s=600,
)

JOB_TYPES = (LOAD_ARRAY,)
