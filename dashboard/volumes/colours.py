"""Colour maps for PET (the `cmap` library's tables) and PET drawn over CT (fusion)."""
import numpy as np
from cmap import Colormap

CMAPS = ("gray", "gray_r", "hot", "inferno")
CMAP_LABELS = {"gray": "Gray", "gray_r": "Gray, inverted", "hot": "Hot", "inferno": "Inferno"}
_luts = {}


def lut(name):
    """The 256 x 3 uint8 table of colour map `name` (one of CMAPS)."""
    if name not in _luts:
        table = Colormap(name).lut(256)[:, :3]
        _luts[name] = np.rint(table * 255).astype(np.uint8)
    return _luts[name]


def colour(gray8, name):
    """An 8-bit image through a colour map: rows x columns x 3, uint8 (gray stays one channel)."""
    if name == "gray":
        return gray8
    if name == "gray_r":
        return 255 - gray8
    return lut(name)[gray8]


def fuse(ct8, pet8, name, opacity):
    """The PET (8-bit, coloured by `name`) over the gray CT at `opacity` (0..1).

    PET at or below its window's bottom is transparent: the CT shows through unchanged.
    """
    ct = np.repeat(ct8[..., None], 3, axis=2).astype(np.float32)
    pet = colour(pet8, name)
    if pet.ndim == 2:
        pet = np.repeat(pet[..., None], 3, axis=2)
    alpha = np.where(pet8 > 0, np.float32(opacity), np.float32(0))[..., None]
    return np.rint(ct + (pet.astype(np.float32) - ct) * alpha).astype(np.uint8)


def gradient_stops(name, count=11):
    """[(offset 0..1, "#rrggbb")] along colour map `name`, for the page's colour bar."""
    table = colour(np.arange(256, dtype=np.uint8), name)
    if table.ndim == 1:
        table = np.repeat(table[:, None], 3, axis=1)
    stops = []
    for n in range(count):
        r, g, b = (int(v) for v in table[round(n * 255 / (count - 1))])
        stops.append((round(n / (count - 1), 3), f"#{r:02x}{g:02x}{b:02x}"))
    return stops
