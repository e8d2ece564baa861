"""The histogram of a volume's values as SVG bars for the request page."""
import numpy as np

BOX = (480, 160)                     # the chart's width and height in SVG units


def histogram_bars(histogram, width=BOX[0], height=BOX[1]):
    """Bars of the histogram on a log scale: [(x, y, w, h)] in an SVG box of width x height."""
    counts = histogram.get("counts") or []
    if not counts:
        return []
    logs = np.log10(np.asarray(counts, dtype=np.float64) + 1.0)
    top = logs.max() or 1.0
    bar = width / len(counts)
    return [(round(i * bar, 2), round(height - height * v / top, 2), round(bar, 2),
             round(height * v / top, 2)) for i, v in enumerate(logs)]
