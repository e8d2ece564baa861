"""The value under the cursor: one voxel of each layer, in its units and in SUV, and where it is."""
import math

import numpy as np

from dashboard.volumes import cache, viewer

AXES = ("i", "j", "k")


class OutOfRange(LookupError):
    """A voxel index outside the volume."""


def voxel(args, shape):
    """(i, j, k) from the query, ValueError naming a missing or non-integer one, OutOfRange."""
    found = []
    for name, size in zip(AXES, shape):
        text = args.get(name, "")
        try:
            index = int(text)
        except ValueError:
            raise ValueError(f"{name}: required, an integer voxel index") from None
        if not 0 <= index < size:
            raise OutOfRange(f"{name}: {index} is outside 0..{size - 1}")
        found.append(index)
    return tuple(found)


def _number(value):
    """A float for JSON: None for NaN and infinities."""
    value = float(value)
    return value if math.isfinite(value) else None


def value_of(found, result, layer, ijk):
    """{value, units, suv} of one layer at a voxel (suv null without an SUV factor)."""
    details = viewer.layer_details(result, layer)
    value = _number(cache.volume(found)[ijk])
    factor = (details["suv"] or {}).get("factor")
    suv = value * factor if value is not None and factor else None
    return {"value": value, "units": details["units"], "suv": suv,
            "modality": details["modality"]}


def reading(layers, args):
    """The answer of GET .../volume/value: the chosen layer's value and every layer's."""
    first = next(iter(layers.values()))
    result = first["result"] or {}
    layer = args.get("layer") or next(iter(layers))
    if layer not in layers:
        raise ValueError(f"layer: unknown {layer[:40]!r} (known: {', '.join(layers)})")
    ijk = voxel(args, first["shape"])
    each = {name: value_of(found, result, name, ijk) for name, found in layers.items()}
    affine = result.get("affine")
    position = None
    if affine:
        position = [round(float(v), 3) for v in (np.asarray(affine) @ [*ijk, 1.0])[:3]]
    return {"i": ijk[0], "j": ijk[1], "k": ijk[2], "layer": layer, **each[layer],
            "position_mm": position, "layers": each}
