"""`load_array`: load a raw 3D PET-CT volume; statistics and projection images.

The file is read in place (`np.frombuffer`, no copy); statistics run over
flat chunks converted to float64 one at a time, so memory stays at the file
plus a few megabytes. Non-finite values (NaN, +inf, -inf) are counted and
reported, and the statistics are over the finite values only.
"""
import io

import numpy as np
from PIL import Image

from . import InvalidInput, JobType, register

DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]
ITEMSIZE = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
            "float32": 4, "float64": 8}
HISTOGRAM_BINS = 64
CHUNK = 1 << 20                      # voxels converted to float64 at a time (8 MB)
AXES = "xyz"

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["shape"],
    "properties": {
        "shape": {"type": "array", "minItems": 3, "maxItems": 3,
                  "items": {"type": "integer", "minimum": 1, "maximum": 4096}},
        "dtype": {"enum": DTYPES, "default": "float32"},
        "byte_order": {"enum": ["little", "big"], "default": "little"},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
    },
}


def check(params, upload_meta):
    """The file must hold exactly prod(shape) values of dtype."""
    x, y, z = params["shape"]
    expected = x * y * z * ITEMSIZE[params["dtype"]]
    if upload_meta and upload_meta["size"] != expected:
        raise InvalidInput(
            f"file: size {upload_meta['size']} bytes does not match shape {params['shape']}"
            f" of {params['dtype']} ({expected} bytes expected)")


def volume(data, shape, dtype, byte_order):
    """The raw bytes as a read-only (x, y, z) array in C order, without copying."""
    dt = np.dtype(dtype).newbyteorder("<" if byte_order == "little" else ">")
    expected = int(np.prod(shape)) * dt.itemsize
    if len(data) != expected:
        raise ValueError(f"file holds {len(data)} bytes, shape {list(shape)} of {dtype}"
                         f" needs {expected}")
    return np.frombuffer(data, dtype=dt).reshape(shape)


def _chunks(flat):
    """Successive float64 copies of CHUNK voxels of a flat view."""
    for start in range(0, flat.size, CHUNK):
        yield start, flat[start:start + CHUNK].astype(np.float64)


def statistics(vol, progress=lambda pct: None):
    """min, max, mean, std (population), non-finite counts and a histogram of the finite values.

    Two passes over float64 chunks: min/max/sum/counts, then squared deviations
    and the histogram over [min, max]. `progress` gets 0..100.
    """
    flat = vol.reshape(-1)
    total = flat.size
    floating = vol.dtype.kind == "f"
    nan = posinf = neginf = finite = 0
    lo, hi, acc = np.inf, -np.inf, 0.0
    for start, chunk in _chunks(flat):
        if floating:
            ok = np.isfinite(chunk)
            if not ok.all():
                bad = chunk[~ok]
                n_nan = int(np.isnan(bad).sum())
                n_pos = int((bad > 0).sum())
                nan, posinf, neginf = nan + n_nan, posinf + n_pos, neginf + bad.size - n_nan - n_pos
                chunk = chunk[ok]
        if chunk.size:
            finite += chunk.size
            lo, hi = min(lo, chunk.min()), max(hi, chunk.max())
            acc += chunk.sum()
        progress(50 * min(total, start + CHUNK) / total)
    stats = {"voxels": total, "finite": finite, "nan": nan, "posinf": posinf, "neginf": neginf}
    if not finite:
        return {**stats, "min": None, "max": None, "mean": None, "std": None,
                "histogram": {"bins": HISTOGRAM_BINS, "counts": [], "edges": []}}
    mean = acc / finite
    squares = 0.0
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    try:
        edges = np.histogram_bin_edges(np.empty(0), bins=HISTOGRAM_BINS, range=(lo, hi))
    except ValueError:  # a float64 range too wide for finite-sized bins
        edges = None
    for start, chunk in _chunks(flat):
        if floating:
            chunk = chunk[np.isfinite(chunk)]
        if edges is not None:
            counts += np.histogram(chunk, bins=HISTOGRAM_BINS, range=(lo, hi))[0]
        chunk -= mean
        squares += np.dot(chunk, chunk)
        progress(50 + 40 * min(total, start + CHUNK) / total)
    return {**stats, "min": _number(lo, vol.dtype), "max": _number(hi, vol.dtype),
            "mean": _number(mean), "std": _number(np.sqrt(squares / finite)),
            "histogram": {"bins": HISTOGRAM_BINS,
                          "counts": counts.tolist() if edges is not None else [],
                          "edges": edges.tolist() if edges is not None else []}}


def _number(value, dtype=None):
    """A JSON number: an int for integer volumes, else a float; None if it overflowed."""
    if dtype is not None and dtype.kind in "iu":
        return int(value)
    return float(value) if np.isfinite(value) else None


def projection(vol, axis):
    """Maximum intensity projection along `axis` (NaN ignored unless a whole ray is NaN)."""
    return np.fmax.reduce(vol, axis=axis)


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


def png(gray8):
    """PNG bytes of an 8-bit grayscale image."""
    buffer = io.BytesIO()
    Image.fromarray(gray8).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def run(ctx):
    """Statistics of the volume and one MIP per axis, saved as PNG artifacts."""
    p = ctx.params
    shape = tuple(p["shape"])
    ctx.log(f"reading a {'x'.join(map(str, shape))} {p['dtype']} volume ({p['byte_order']}-endian)")
    vol = volume(ctx.upload_bytes(), shape, p["dtype"], p["byte_order"])
    ctx.log("computing statistics")
    result = {"shape": list(shape), "dtype": p["dtype"], "byte_order": p["byte_order"]}
    # Signalling NaNs and huge values in real files raise FP flags; they are counted, not errors.
    with np.errstate(invalid="ignore", over="ignore"):
        result.update(statistics(vol, ctx.progress))
        result["projections"] = _projections(vol, ctx)
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


register(JobType(
    name="load_array", title="Load PET-CT volume", schema=SCHEMA, run=run, check=check,
    file="required", soft_limit_s=300, hard_limit_s=330, max_attempts=1,
))
