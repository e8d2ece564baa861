"""One viewer image as PNG bytes: windowed, coloured or fused, scaled, lettered."""
import io

import numpy as np
from PIL import Image

from dashboard.volumes import colours, labels, render


def draw(planes, view, choice, size, oriented):
    """PNG of `planes` ({layer: 2D array}) as `choice` (viewer.Choice) asks, at `size`."""
    if choice.layer == "fusion":
        ct8 = render.window(planes["ct"], *choice.window)
        pet8 = render.window(planes["pet"], *choice.pet_window)
        pixels = colours.fuse(ct8, pet8, choice.cmap, choice.opacity)
    else:
        pixels = colours.colour(render.window(planes[choice.layer], *choice.window), choice.cmap)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if size != image.size:
        image = image.resize(size, Image.NEAREST)
    if oriented and choice.labels:
        labels.draw(image, view)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()
