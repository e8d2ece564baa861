"""Submitting a request: validate everything first, then one transaction inserts it."""
import json

from dashboard import audit, jobs, lifecycle, uploads
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.web import body_caps


def parse_params(text):
    """Params from the form's JSON text (or the object a JSON body carried): an object of
    finite values, or Refused.

    One size limit whatever the encoding (multipart, urlencoded, JSON): 413 past it.
    """
    if isinstance(text, dict):  # measured and checked as the same JSON text would be
        text = json.dumps(text, ensure_ascii=False)
    body_caps.check_params_size(text)
    params = jobs.parse_params(text)
    if not isinstance(params, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(params), "a number")
        raise Refused(f"params: must be a JSON object, not {kind}")
    where = jobs.non_finite(params)
    if where:
        raise Refused(f"{where}: NaN and Infinity are not numbers JSON allows")
    return params


def submit(job_type, params_text, file_storage, username, max_bytes):
    """Validate and store a new `unassigned` request; returns its id or raises Refused."""
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


def rerun(parent, params, file_storage, username, max_bytes):
    """Store a re-run of `parent` (its row: id, job_type, upload_id) with new params.

    `params` is a dict (JSON body) or the form's JSON text. The parent's file is
    reused unless a new one is sent; with a new one, the params the parent's file
    gave (the job type's `from_file`, e.g. a volume's format) are found anew unless
    changed. Validated as at submit; returns the new id or raises Refused, nothing
    stored.
    """
    job = jobs.get(parent["job_type"])
    if not isinstance(params, dict):
        params = parse_params(params)
    elif jobs.non_finite(params):
        raise Refused(f"{jobs.non_finite(params)}: NaN and Infinity are not numbers JSON allows")
    data, meta = uploads.read(file_storage, max_bytes)
    if data is not None:   # a new file: what the parent's file told is found anew
        told = parent["params"] or {}
        params = {key: value for key, value in params.items()
                  if key not in job.from_file or value != told.get(key)}
    reused = data is None and parent["upload_id"] is not None
    if reused:
        meta = uploads.meta(parent["upload_id"])
        with uploads.spooled(parent["upload_id"]) as path, open(path, "rb") as stored:
            params = job.validate(params, {**meta, "file": stored})  # checked as at submit
    else:
        params = job.validate(params, {**meta, "file": data} if meta else None)
    try:
        upload_id = (parent["upload_id"] if reused
                     else uploads.store(data, meta) if data is not None else None)
        request_id = lifecycle.submit(job.name, json.dumps(params), upload_id, username,
                                      parent_id=parent["id"])
        changed = changes(parent["params"] or {}, params)
        audit.record("submit", "ok", request_id=request_id, username=username,
                     detail={"job_type": job.name, "file": meta["filename"] if meta else None,
                             "rerun_of": parent["id"]})
        audit.record("rerun", "ok", request_id=parent["id"], username=username,
                     detail={"child": request_id, "changed": sorted(changed),
                             "file": "reused" if reused else "new" if data else None})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return request_id


def changes(old, new):
    """{name: (old value, new value)} for every parameter that differs (None: absent)."""
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)}


def refused(message, job_type=None):
    """Audit a refused submission (nothing else is stored)."""
    db.session.rollback()
    detail = {"error": message[:500]}
    if job_type:
        detail["job_type"] = str(job_type)[:80]
    audit.record("submit", "refused", detail=detail)
    db.session.commit()
