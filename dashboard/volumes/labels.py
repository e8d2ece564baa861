"""Orientation letters (R, L, A, P, S, I) drawn on the four edges of a RAS+ volume's images."""
import threading

from PIL import ImageDraw, ImageFont

# (left, right, top, bottom) edge of each view, in the radiological convention.
LETTERS = {"axial": ("R", "L", "A", "P"), "coronal": ("R", "L", "S", "I"),
           "sagittal": ("A", "P", "S", "I")}
_local = threading.local()            # a FreeType face is not to be shared between threads


def _font(size):
    """Pillow's own font at `size` pixels (no system font needed), one per thread."""
    fonts = _local.__dict__.setdefault("fonts", {})
    if size not in fonts:
        fonts[size] = ImageFont.load_default(size=size)
    return fonts[size]


def letter_size(image):
    """The letters' height in pixels for an image: about a twentieth of its shorter side."""
    return max(11, min(28, min(image.size) // 20))


def draw(image, view):
    """Write the view's four letters on a PIL image (L or RGB): white, outlined in black."""
    left, right, top, bottom = LETTERS[view]
    size = letter_size(image)
    font, pen = _font(size), ImageDraw.Draw(image)
    white, black = (255, 0) if image.mode == "L" else ((255, 255, 255), (0, 0, 0))
    width, height = image.size
    margin = max(2, size // 4)
    places = ((left, (margin, height / 2), "lm"), (right, (width - margin, height / 2), "rm"),
              (top, (width / 2, margin), "mt"), (bottom, (width / 2, height - margin), "mb"))
    for text, xy, anchor in places:
        pen.text(xy, text, font=font, fill=white, anchor=anchor, stroke_width=max(1, size // 8),
                 stroke_fill=black)
    return image
