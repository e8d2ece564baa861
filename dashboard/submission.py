"""Submitting a request: validate everything first, then one transaction inserts it."""
import json
import math

from . import audit, jobs, lifecycle, limits, uploads
from .extensions import db
from .jobs import InvalidInput


def _non_finite(value, path="params"):
    """The path of the first NaN/Infinity in `value` (PostgreSQL's jsonb has none), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{path}.{key}")
        if found:
            return found
    return None


def parse_params(text):
    """Params from the form's JSON text (or the object a JSON body carried): an object of
    finite values, or InvalidInput.

    One size limit whatever the encoding (multipart, urlencoded, JSON): 413 past it.
    """
    if isinstance(text, dict):  # measured and checked as the same JSON text would be
        text = json.dumps(text, ensure_ascii=False)
    limits.check_params_size(text)
    params = jobs.parse_params(text)
    if not isinstance(params, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(params), "a number")
        raise InvalidInput(f"params: must be a JSON object, not {kind}")
    where = _non_finite(params)
    if where:
        raise InvalidInput(f"{where}: NaN and Infinity are not numbers JSON allows")
    return params


def submit(job_type, params_text, file_storage, username, max_bytes):
    """Validate and store a new `unassigned` request; returns its id or raises InvalidInput."""
    job = jobs.get(job_type)
    params = parse_params(params_text)
    stream, meta = uploads.read(file_storage, max_bytes)
    params = job.validate(params, {**meta, "file": stream} if meta else None)
    try:
        upload_id = uploads.store(stream, meta) if stream is not None else None
        request_id = lifecycle.submit(job.name, json.dumps(params), upload_id, username)
        audit.record("submit", "ok", request_id=request_id, username=username,
                     detail={"job_type": job.name, "file": meta["filename"] if meta else None})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return request_id


def refused(message, job_type=None):
    """Audit a refused submission (nothing else is stored)."""
    db.session.rollback()
    detail = {"error": message[:500]}
    if job_type:
        detail["job_type"] = str(job_type)[:80]
    audit.record("submit", "refused", detail=detail)
    db.session.commit()
