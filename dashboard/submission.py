"""Submitting a request: validate everything first, then one transaction inserts it."""
import json

from . import audit, jobs, lifecycle, uploads
from .extensions import db


def submit(job_type, params_text, file_storage, username, max_bytes):
    """Validate and store a new `unassigned` request; returns its id or raises InvalidInput."""
    job = jobs.get(job_type)
    params = jobs.parse_params(params_text)
    data, meta = uploads.read(file_storage, max_bytes)
    params = job.validate(params, meta)
    try:
        upload_id = uploads.store(data, meta) if data is not None else None
        request_id = lifecycle.submit(job.name, json.dumps(params), upload_id, username)
        audit.record("submit", "ok", request_id=request_id, username=username,
                     detail={"job_type": job.name})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return request_id


def refused(message):
    """Audit a refused submission (nothing else is stored)."""
    db.session.rollback()
    audit.record("submit", "refused", detail={"error": message[:500]})
    db.session.commit()
