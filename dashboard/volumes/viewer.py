"""What the slice viewer shows of a request: its volume's description, windows and image sizes."""
import math

from dashboard.volumes import cache, render

HISTOGRAM_BOX = (480, 160)


def describe(request_id):
    """The viewer's description of the request's volume (a dict), or None when it has none."""
    found = cache.find(request_id)
    if found is None:
        return None
    return _description(found)


def _description(found):
    """The description of a found volume (see cache.find)."""
    result = found["result"] or {}
    shape = [int(n) for n in found["shape"]]
    spacing = result.get("spacing_mm")
    windows = render.windows(result)
    sizes = {}
    for view in render.VIEWS:
        cols, rows = (shape[axis] for axis in render.PLANE[view])
        sizes[view] = render.display_size(rows, cols, view, spacing)
    return {
        "shape": shape, "spacing_mm": spacing, "format": result.get("format"),
        "dtype": result.get("dtype"), "modality": result.get("modality"),
        "units": result.get("units"),
        "slices": {view: render.slice_count(shape, view) for view in render.VIEWS},
        "windows": {name: {"level": level, "width": width, "label": render.WINDOW_LABELS[name]}
                    for name, (level, width) in windows.items()},
        "default_window": "full" if "full" in windows else next(iter(windows)),
        "sizes": sizes,
        "histogram": result.get("histogram") or {},
        "histogram_bars": render.histogram_svg_points(result.get("histogram") or {},
                                                      *HISTOGRAM_BOX),
        "histogram_box": HISTOGRAM_BOX,
    }


def api_description(request_id):
    """The JSON answer of GET /api/requests/<id>/volume, or None."""
    described = describe(request_id)
    if described is None:
        return None
    keep = ("shape", "spacing_mm", "format", "dtype", "modality", "units", "slices", "windows",
            "default_window")
    return {key: described[key] for key in keep}


def chosen_window(found, args):
    """(level, width) from ?window= or ?level=&width= (default: the full range), or ValueError."""
    windows = render.windows(found["result"] or {})
    if "level" in args or "width" in args:
        try:
            level, width = float(args.get("level", "")), float(args.get("width", ""))
        except ValueError:
            raise ValueError("level, width: both must be numbers") from None
        if not (math.isfinite(level) and math.isfinite(width)) or width <= 0:
            raise ValueError("width: must be a positive number (and level finite)")
        return level, width
    name = args.get("window") or ("full" if "full" in windows else next(iter(windows)))
    if name not in windows:
        raise ValueError(f"window: unknown preset {name[:40]!r} (known: {', '.join(windows)})")
    return windows[name]
