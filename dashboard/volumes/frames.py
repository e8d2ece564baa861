"""Dynamic (4-D) NIfTI volumes: the `frame` parameter picks one frame, or "sum" adds them all."""
import numpy as np

SUM = "sum"


def normalise(value):
    """The `frame` param as an int or "sum" (a form's "3" becomes 3); other values unchanged."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, str) and value.strip().lower() == SUM:
        return SUM
    return value


def choose(params, shape, bad_file):
    """The frame the params ask for in a NIfTI of `shape` (None for 3-D), or `bad_file`."""
    frames = int(shape[3]) if len(shape) > 3 else 1
    if frames == 1:
        if "frame" in params:
            raise bad_file(f"params.frame: only for 4-D NIfTI files (this one has shape"
                           f" {list(shape)})")
        return None
    if "frame" not in params:
        raise bad_file(f"params.frame: is required: this NIfTI holds {frames} frames (shape"
                       f" {list(shape)}); give an index from 0 to {frames - 1}, or \"sum\"")
    frame = normalise(params["frame"])
    if frame == SUM:
        return SUM
    if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < frames:
        raise bad_file(f"params.frame: {frame!r} is not a frame of this NIfTI: give an index"
                       f" from 0 to {frames - 1}, or \"sum\"")
    return frame


def pick(stored, frame, slope, inter):
    """(3-D array, applied scaling?) : one frame (a view), or the scaled sum of all frames."""
    if frame != SUM:
        return stored[:, :, :, frame], False
    count = stored.shape[3]
    small = stored.dtype.itemsize <= 2 or stored.dtype == np.float32
    total = np.empty(stored.shape[:3], np.float32 if small else np.float64, order="F")
    for k in range(stored.shape[2]):                 # one z slab at a time, in float64
        total[:, :, k] = (stored[:, :, k, :].sum(axis=-1, dtype=np.float64) * slope
                          + count * inter)
    return total, True
