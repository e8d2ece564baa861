"""The schedule form's parameters, built from the job type's JSON Schema as the new-request
form builds them (dashboard/web/param_form.py), and where a refusal is shown.

A stored schedule's params fill the fields (`values_of`); params the fields cannot show
(a property the schema does not declare) go to the JSON box instead. On a post the JSON
box wins when it is filled, as on the new-request form (`params_of`).
"""
import json

from dashboard import jobs
from dashboard.web import param_form

PREFIX = param_form.PREFIX
TIMING_FIELDS = ("name", "job_type", "cron", "every_s", "timezone", "catch_up", "enabled")


def job_of(job_type):
    """The job type a form shows (its own, or the first that takes no file when unknown)."""
    job = jobs.REGISTRY.get(job_type or "")
    if job is not None and job.file != "required":
        return job
    return next(j for j in jobs.REGISTRY.values() if j.file != "required")


def params_of(form):
    """What a posted form's params are: the JSON box's text when filled, else the fields'
    values as a dict (an unknown job type: the empty text, refused by name later)."""
    raw = form.get("params", "")
    if raw.strip():
        return raw
    job = jobs.REGISTRY.get(form.get("job_type", ""))
    return param_form.params_from_form(job, form) if job is not None else ""


def _shown(spec, value):
    """True when a field of this schema property can show `value` as it is stored."""
    if isinstance(value, bool) or spec.get("type") == "boolean":
        return spec.get("type") == "boolean" and isinstance(value, bool)
    if param_form._fixed_length(spec):
        return isinstance(value, list) and len(value) == param_form._fixed_length(spec) \
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return isinstance(value, (int, float, str))


def values_of(job_type, params):
    """A stored schedule's params as the form's field values ({"p.name": text, ...}), or
    {"params": JSON text} when some value has no field to show it."""
    job = jobs.REGISTRY.get(job_type or "")
    properties = job.schema.get("properties", {}) if job else {}
    params = params or {}
    if not all(k in properties and _shown(properties[k], v) for k, v in params.items()):
        return {"params": json.dumps(params, indent=1)}
    values = {}
    for name, value in params.items():
        if isinstance(value, bool):
            if value:
                values[PREFIX + name] = "true"
        elif isinstance(value, list):
            values.update({f"{PREFIX}{name}.{i}": str(v) for i, v in enumerate(value)})
        else:
            values[PREFIX + name] = str(value)
    if params and not values:
        values[PREFIX] = ""  # as posted: unticked boxes stay unticked, not their default
    return values


def placed(error, shown, raw):
    """Where a refusal is shown: "field" (on a parameter's control, set by param_form),
    "params" (the JSON box), or the form field it names (name, cron, every_s, ...)."""
    if not error:
        return None
    named = error.split(":", 1)[0]
    if named in TIMING_FIELDS:
        return named
    if not raw and param_form.with_error(shown, error):
        return "field"
    return "params"
