"""What the slice viewer shows of a request: its volume's layers, windows, colour maps, sizes."""
import math
from collections import namedtuple

from dashboard.volumes import cache, chart, colours, render

Choice = namedtuple("Choice", "layer window pet_window cmap opacity labels")
LAYER_LABELS = {"main": "Volume", "ct": "CT", "pet": "PET", "fusion": "PET over CT"}
DEFAULT_OPACITY = 0.5


def layer_stats(result, layer):
    """The statistics (min, max, percentiles, suv, modality, units...) of one layer."""
    if layer == "pet":
        return {"modality": "PT", **((result or {}).get("pet") or {})}
    return result or {}


def layer_details(result, layer):
    """A layer's modality, units, SUV, named windows and the window and colour map it opens in."""
    stats = layer_stats(result, layer)
    named = render.windows(stats)
    return {"label": LAYER_LABELS[layer], "modality": stats.get("modality"),
            "units": stats.get("units"), "suv": stats.get("suv"),
            "windows": {name: {"level": level, "width": width,
                               "label": render.WINDOW_LABELS[name]}
                        for name, (level, width) in named.items()},
            "default_window": "soft_tissue" if layer == "ct" and "soft_tissue" in named
            else render.default_window(stats, named),   # PET/CT's CT: read in soft tissue
            "default_cmap": "hot" if stats.get("modality") == "PT" else "gray"}


def describe(request_id):
    """The viewer's description of the request's volume (a dict), or None when it has none."""
    layers = cache.find_layers(request_id)
    return _description(layers) if layers else None


def _description(layers):
    """The description of found layers ({layer: cache row}, see cache.find_layers)."""
    first = next(iter(layers.values()))
    result = first["result"] or {}
    shape = [int(n) for n in first["shape"]]
    spacing, oriented = result.get("spacing_mm"), result.get("orientation") == "RAS"
    details = {name: layer_details(result, name) for name in layers}
    main = details[next(iter(layers))]
    views = {}
    for view in render.VIEWS:
        cols, rows = render.PLANE[view]
        flipped = render.flips(view, oriented)
        views[view] = {"columns_axis": cols, "rows_axis": rows, "columns_reversed": flipped[0],
                       "rows_reversed": flipped[1], "size": render.display_size(
                           shape[rows], shape[cols], view, spacing)}
    return {
        "shape": shape, "spacing_mm": spacing, "format": result.get("format"),
        "dtype": result.get("dtype"), "modality": main["modality"], "units": main["units"],
        "orientation": result.get("orientation"), "affine": result.get("affine"),
        "layers": list(layers), "layer_details": details,
        "default_layer": "fusion" if "pet" in layers and "ct" in layers else next(iter(layers)),
        "slices": {view: render.slice_count(shape, view) for view in render.VIEWS},
        "windows": main["windows"], "default_window": main["default_window"],
        "cmaps": list(colours.CMAPS), "views": views,
        "sizes": {view: views[view]["size"] for view in render.VIEWS},
        "histogram": result.get("histogram") or {}, "histogram_box": chart.BOX,
        "histogram_bars": chart.histogram_bars(result.get("histogram") or {}),
        "colour_bars": {name: colours.gradient_stops(name) for name in colours.CMAPS},
        "result": result,
    }


def api_description(request_id):
    """The JSON answer of GET /api/requests/<id>/volume, or None."""
    described = describe(request_id)
    if described is None:
        return None
    keep = ("shape", "spacing_mm", "format", "dtype", "modality", "units", "slices", "windows",
            "default_window", "orientation", "affine", "layers", "layer_details",
            "default_layer", "cmaps", "views")
    return {key: described[key] for key in keep}


def chosen(layers, args):
    """The image `args` ask for (layer, windows, cmap, opacity, labels) as a Choice, or ValueError."""
    result = next(iter(layers.values()))["result"] or {}
    known = list(layers) + (["fusion"] if {"ct", "pet"} <= set(layers) else [])
    layer = args.get("layer") or next(iter(layers))
    if layer not in known:
        raise ValueError(f"layer: unknown {layer[:40]!r} (known: {', '.join(known)})")
    windowed = "ct" if layer == "fusion" else layer
    window = chosen_window(result, windowed, args, "window")
    pet_window = chosen_window(result, "pet", args, "pet_window") if layer == "fusion" else None
    cmap = args.get("cmap") or layer_details(result, "pet" if layer == "fusion" else layer)[
        "default_cmap"]
    if cmap not in colours.CMAPS:
        raise ValueError(f"cmap: unknown {cmap[:40]!r} (known: {', '.join(colours.CMAPS)})")
    try:
        opacity = float(args.get("opacity", DEFAULT_OPACITY))
    except ValueError:
        opacity = math.nan
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity: must be a number from 0 to 1")
    shown = args.get("labels", "1")
    if shown not in ("0", "1"):
        raise ValueError("labels: must be 1 (orientation letters drawn) or 0")
    return Choice(layer, window, pet_window, cmap, opacity, shown == "1")


def chosen_window(result, layer, args, field):
    """(level, width) of `layer` from ?<field>= (a preset) or ?level=&width= , or ValueError."""
    details = layer_details(result, layer)
    if field == "window" and ("level" in args or "width" in args):
        try:
            level, width = float(args.get("level", "")), float(args.get("width", ""))
        except ValueError:
            raise ValueError("level, width: both must be numbers") from None
        if not (math.isfinite(level) and math.isfinite(width)) or width <= 0:
            raise ValueError("width: must be a positive number (and level finite)")
        return level, width
    name = args.get(field) or details["default_window"]
    if name not in details["windows"]:
        raise ValueError(f"{field}: unknown preset {name[:40]!r}"
                         f" (known: {', '.join(details['windows'])})")
    return details["windows"][name]["level"], details["windows"][name]["width"]
