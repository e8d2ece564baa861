"""Percentiles, the results table and the JSON file under var/bench/."""
import json
import math
import os
import platform
import time

from . import stack


def percentile(values, p):
    """The p-th percentile (nearest rank) of a list of numbers."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def verdict(metric):
    """PASS / MISS against the metric's goal ('' when it has none)."""
    goal, value = metric.get("goal"), metric.get("value")
    if goal is None:
        return ""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "MISS"
    ok = value >= goal if metric.get("cmp") == ">=" else value <= goal
    return "PASS" if ok else "MISS"


def _fmt(value, unit):
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "x":
        return f"{value:.2f}x"
    if isinstance(value, float):
        text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _goal(metric):
    if metric.get("goal") is None:
        return ""
    sign = "≥" if metric.get("cmp") == ">=" else "≤"
    return f"{sign} {_fmt(metric['goal'], metric.get('unit', ''))}"


def table(sections):
    """The results as a fixed-width text table."""
    rows = [("metric", "value", "goal", "")]
    for section, (metrics, _) in sections.items():
        rows.append((f"[{section}]", "", "", ""))
        for m in metrics:
            m["verdict"] = verdict(m)
            rows.append(("  " + m["name"], _fmt(m.get("value"), m.get("unit", "")),
                         _goal(m), m["verdict"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    out = [line]
    for i, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)


def write_json(sections, opts, errors):
    """var/bench/bench-<time>.json and var/bench/latest.json; returns the path."""
    os.makedirs(stack.OUT_DIR, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    doc = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(), "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "options": vars(opts),
        "sections": {name: {"metrics": metrics, "details": details}
                     for name, (metrics, details) in sections.items()},
        "errors": errors,
    }
    path = os.path.join(stack.OUT_DIR, f"bench-{stamp}.json")
    for target in (path, os.path.join(stack.OUT_DIR, "latest.json")):
        with open(target, "w") as fh:
            json.dump(doc, fh, indent=2, default=str)
    return path
