"""Statistics of a volume, in chunks: min, max, mean, std, non-zero share, histogram, percentiles.

The volume is read as flat chunks converted to float64 one at a time, so memory
stays at the volume (often a memory map) plus a few megabytes. Non-finite values
(NaN, +inf, -inf) are counted and reported; the statistics are over the finite
values only. Percentiles (for the PET window) come from a fine histogram.
"""
import numpy as np

HISTOGRAM_BINS = 64
FINE_BINS = 4096                     # percentile resolution: 1/4096 of the value range
PERCENTILES = (0.5, 1.0, 99.0, 99.5)
CHUNK = 1 << 20                      # voxels converted to float64 at a time (8 MB)


def _chunks(vol):
    """Successive float64 copies of about CHUNK voxels: (voxels before, flat chunk).

    A C- or Fortran-contiguous volume (a memory map, say) is read flat in its memory
    order; any other view (a reoriented NIfTI) one slab of x at a time: never a copy
    of the whole volume.
    """
    if vol.flags.c_contiguous or vol.flags.f_contiguous:
        flat = vol.reshape(-1, order="A")
        for start in range(0, flat.size, CHUNK):
            yield start, np.asarray(flat[start:start + CHUNK], dtype=np.float64)
        return
    plane = int(np.prod(vol.shape[1:]))
    step = max(1, CHUNK // max(plane, 1))
    for i in range(0, vol.shape[0], step):
        yield i * plane, np.asarray(vol[i:i + step], dtype=np.float64).reshape(-1)


def statistics(vol, progress=lambda pct: None):
    """min, max, mean, std (population), non-finite counts, non-zero share, histogram.

    Two passes over float64 chunks: min/max/sum/counts, then squared deviations and
    the histograms over [min, max]. `progress` gets 0..90.
    """
    total = vol.size
    floating = vol.dtype.kind == "f"
    nan = posinf = neginf = finite = nonzero = 0
    lo, hi, acc = np.inf, -np.inf, 0.0
    for start, chunk in _chunks(vol):
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
            nonzero += int(np.count_nonzero(chunk))
            lo, hi = min(lo, chunk.min()), max(hi, chunk.max())
            acc += chunk.sum()
        progress(50 * min(total, start + CHUNK) / total)
    stats = {"voxels": total, "finite": finite, "nan": nan, "posinf": posinf, "neginf": neginf,
             "nonzero_fraction": nonzero / finite if finite else None}
    if not finite:
        return {**stats, "min": None, "max": None, "mean": None, "std": None,
                "histogram": {"bins": HISTOGRAM_BINS, "counts": [], "edges": []},
                "percentiles": {}}
    mean = acc / finite
    squares = 0.0
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    fine = np.zeros(FINE_BINS, dtype=np.int64)
    try:
        edges = np.histogram_bin_edges(np.empty(0), bins=HISTOGRAM_BINS, range=(lo, hi))
        fine_edges = np.histogram_bin_edges(np.empty(0), bins=FINE_BINS, range=(lo, hi))
    except ValueError:  # a float64 range too wide for finite-sized bins
        edges = fine_edges = None
    for start, chunk in _chunks(vol):
        if floating:
            chunk = chunk[np.isfinite(chunk)]
        if edges is not None:
            counts += np.histogram(chunk, bins=HISTOGRAM_BINS, range=(lo, hi))[0]
            fine += np.histogram(chunk, bins=FINE_BINS, range=(lo, hi))[0]
        chunk -= mean
        squares += np.dot(chunk, chunk)
        progress(50 + 40 * min(total, start + CHUNK) / total)
    return {**stats, "min": _number(lo, vol.dtype), "max": _number(hi, vol.dtype),
            "mean": _number(mean), "std": _number(np.sqrt(squares / finite)),
            "histogram": {"bins": HISTOGRAM_BINS,
                          "counts": counts.tolist() if edges is not None else [],
                          "edges": edges.tolist() if edges is not None else []},
            "percentiles": _percentiles(fine, fine_edges, finite) if edges is not None else {}}


def _percentiles(counts, edges, total):
    """{"99.5": value, ...}: the upper edge of the fine bin where each share is reached."""
    cumulative = np.cumsum(counts)
    found = {}
    for p in PERCENTILES:
        index = int(np.searchsorted(cumulative, total * p / 100.0, side="left"))
        found[f"{p:g}"] = float(edges[min(index + 1, len(edges) - 1)])
    return found


def _number(value, dtype=None):
    """A JSON number: an int for integer volumes, else a float; None if it overflowed."""
    if dtype is not None and dtype.kind in "iu":
        return int(value)
    return float(value) if np.isfinite(value) else None
