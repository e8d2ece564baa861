"""The overview charts drawn on the server as SVG geometry: stacked bars of finished
requests per slot and run-time bars per job type. Plain values in, plain values out;
templates/requests/_overview.html turns them into <svg> (no chart library in the browser).
"""
from flask_babel import gettext as _

from dashboard.overview.stats import OUTCOMES
from dashboard.web.humanize import duration_text
from dashboard.web.words import status_label

WIDTH, HEIGHT = 420, 150
LEFT, RIGHT, TOP, BOTTOM = 34, 14, 8, 22


def nice_max(value):
    """The top of the y axis: 1, 2 or 5 times a power of ten, at least `value` (and 1)."""
    value, step = max(value, 1), 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def stacked_bars(buckets, unit):
    """Geometry of a stacked bar chart of outcomes per bucket (oldest first)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_max(max((sum(b[o] for o in OUTCOMES) for b in buckets), default=0))
    slot = plot_w / max(len(buckets), 1)
    label_every = 15 if unit == "minute" else 6
    bars, labels = [], []
    for i, b in enumerate(buckets):
        x = LEFT + i * slot
        y, segments = TOP + plot_h, []
        for outcome in OUTCOMES:
            if b[outcome]:
                h = b[outcome] / top * plot_h
                y -= h
                segments.append({"outcome": outcome, "n": b[outcome], "y": round(y, 2),
                                 "h": round(h, 2)})
        stamp = b["t"].strftime("%H:%M")
        parts = (", ".join(f"{b[o]} {status_label(o)}" for o in OUTCOMES if b[o])
                 or _("none finished"))
        bars.append({"x": round(x + slot * 0.1, 2), "w": round(slot * 0.8, 2), "t": b["t"],
                     "segments": segments, "title": f"{stamp} UTC: {parts}"})
        if i % label_every == 0 or i == len(buckets) - 1:
            labels.append({"x": round(x + slot / 2, 2), "text": stamp})
    ticks = [{"y": round(TOP + plot_h - v / top * plot_h, 2), "value": v}
             for v in ([0, top // 2, top] if top % 2 == 0 else [0, top])]
    totals = {o: sum(b[o] for b in buckets) for o in OUTCOMES}
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
            "top": TOP, "bottom": TOP + plot_h, "bars": bars, "labels": labels, "ticks": ticks,
            "totals": totals, "max": top}


def duration_bars(durations):
    """Geometry of horizontal p50/p95 bars per job type (seconds, shared scale)."""
    rows = sorted(durations.items())
    longest = max((d["p95"] or 0 for _, d in rows), default=0) or 1
    label_w, plot_w, row_h = 90, WIDTH - 90 - 170, 26
    items = []
    for i, (job_type, d) in enumerate(rows):
        y = TOP + i * row_h
        items.append({
            "job_type": job_type, "y": y, "count": d["count"],
            "p50": d["p50"], "p95": d["p95"],
            "p50_w": round((d["p50"] or 0) / longest * plot_w, 2),
            "p95_w": round((d["p95"] or 0) / longest * plot_w, 2),
            "text": f"p50 {duration_text(d['p50'])}, p95 {duration_text(d['p95'])}"})
    return {"width": WIDTH, "height": TOP * 2 + max(len(items), 1) * row_h,
            "label_w": label_w, "items": items}
