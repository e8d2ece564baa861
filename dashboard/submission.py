"""Submitting a request: validate everything first, then one transaction inserts it."""
import json

from flask_babel import gettext as _

from dashboard import audit, idempotency, jobs, lifecycle, uploads
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
        raise Refused(_("params: must be a JSON object, not %(kind)s", kind=kind))
    where = jobs.non_finite(params)
    if where:
        raise Refused(_("%(where)s: NaN and Infinity are not numbers JSON allows", where=where))
    return params


def parse_priority(text):
    """A submit's `priority` field: None when absent or empty (the job type's current
    priority), else an integer from -10 to 10, or Refused naming `priority`."""
    if text is None or str(text).strip() == "":
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or not PRIORITY_RANGE[0] <= value <= PRIORITY_RANGE[1]:
        raise Refused(_("priority: must be an integer from %(priority_range)s to "
                         "%(priority_range2)s (not %(text)r)", priority_range=PRIORITY_RANGE[0],
                         priority_range2=PRIORITY_RANGE[1], text=str(text)[:40]))
    return value


def submit(job_type, params_text, file_storage, username, max_bytes, priority=None):
    """Validate and store a new `unassigned` request; returns its id or raises Refused.
    `priority` (parse_priority's): None for the job type's current one."""
    job = jobs.get(job_type)
    params = parse_params(params_text)
    stream, meta = uploads.read(file_storage, max_bytes)
    params = job.validate(params, {**meta, "file": stream} if meta else None)
    try:
        upload_id = uploads.store(stream, meta) if stream is not None else None
        request_id = lifecycle.submit(job.name, json.dumps(params), upload_id, username,
                                      priority=priority)
        audit.record("submit", "ok", request_id=request_id, username=username,
                     detail={"job_type": job.name, "file": meta["filename"] if meta else None,
                             **({"priority": priority} if priority is not None else {})})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return request_id


MAX_BATCH = 1000  # requests a batch may hold: as many ids as a bulk action takes
ITEM_FIELDS = ("job_type", "params", "priority")
PRIORITY_RANGE = (-10, 10)


def _batch_item(index, item):
    """(job, validated params, priority or None) of one batch item, or Refused naming
    `requests[index].field`."""
    where = f"requests[{index}]"
    if not isinstance(item, dict):
        raise Refused(_('%(where)s: must be a JSON object {"job_type": ..., "params": {...}}',
                         where=where))
    extra = sorted(set(item) - set(ITEM_FIELDS))
    if extra:
        raise Refused(_("%(where)s.%(extra)s: unknown field (known: %(item_fields)s)",
                         where=where, extra=str(extra[0])[:80],
                         item_fields=', '.join(ITEM_FIELDS)))
    if not isinstance(item.get("job_type"), str) or not item["job_type"]:
        raise Refused(_("%(where)s.job_type: is required (a job type's name)", where=where))
    priority = item.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)
                                 or not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]):
        raise Refused(_("%(where)s.priority: must be an integer from %(priority_range)s to "
                         "%(priority_range2)s", where=where, priority_range=PRIORITY_RANGE[0],
                         priority_range2=PRIORITY_RANGE[1]))
    params = item.get("params")
    if params is not None and not isinstance(params, dict):
        raise Refused(_("%(where)s.params: must be a JSON object", where=where))
    try:
        job = jobs.get(item["job_type"])
        return job, job.validate(parse_params(params or {}), None), priority
    except Refused as exc:
        raise Refused(f"{where}.{exc.message}", exc.status) from None


def parse_batch(body):
    """The items of a batch body {"requests": [...]}, or Refused (422; 413 past MAX_BATCH)."""
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise Refused(_('requests: must be a non-empty list of {"job_type": ..., "params": '
                         "{...}} objects"))
    if len(items) > MAX_BATCH:
        raise Refused(_("requests: at most %(max_batch)s requests at once (got %(n)s)",
                         max_batch=MAX_BATCH, n=len(items)), 413)
    extra = sorted(set(body) - {"requests"})
    if extra:
        raise Refused(_('%(extra)s: unknown field (send {"requests": [...]})',
                         extra=str(extra[0])[:80]))
    return items


def submit_many(items, username):
    """Validate every item as a single submit is (no file: a job type that needs one is
    refused), then store them all as `unassigned` in one transaction; their ids in order.

    The first bad item raises Refused naming it (`requests[3].params.x: ...`) and nothing
    is stored. One audit entry records the batch: its size, job types and id range.
    """
    checked = [_batch_item(i, item) for i, item in enumerate(items)]
    try:
        ids = _store_many(checked, username)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ids


def _store_many(checked, username, key=None):
    """Insert the checked items and audit the batch (in the caller's transaction); the ids."""
    ids = lifecycle.submit_many([(job.name, json.dumps(params), priority)
                                 for job, params, priority in checked],
                                username)
    kinds = {}
    for job, _params, _priority in checked:
        kinds[job.name] = kinds.get(job.name, 0) + 1
    audit.record("submit_batch", "ok", username=username,
                 detail={"count": len(ids), "job_types": kinds, "first_id": ids[0],
                         "last_id": ids[-1], **({"idempotency_key": key} if key else {})})
    return ids


def submit_many_once(key, ttl_h, items, username):
    """Submit a batch under an idempotency key: (ids, True) when this call stored it;
    (ids, False) when the key, younger than `ttl_h` hours, already names a batch of the
    same job types and params in the same order, and the priorities the repeat gives
    (an item without one takes what the first call stored), as the first call answered.

    Refused 422 for a malformed key or a bad item, 409 when the key's batch (or single
    request) differs. Concurrent calls with one key store one batch (idempotency.claim:
    the key names the batch's first request).
    """
    key = idempotency.parse(key)
    checked = [_batch_item(i, item) for i, item in enumerate(items)]
    sent = [(job.name, params) for job, params, _ in checked]
    priorities = [priority for _, _, priority in checked]

    def find():
        found = idempotency.batch_holder(username, key, ttl_h, len(sent) + 1)
        if found is None:
            return None
        if [(r["job_type"], r["params"]) for r in found] != sent or any(
                p is not None and p != r["priority"] for p, r in zip(priorities, found)):
            used = dict(header=idempotency.HEADER, key=key[:40], id=found[0]["id"])
            raise Refused(_("%(header)s: %(key)r was used for request %(id)s with other job"
                            " types, params or priorities", **used) if len(found) == 1 else
                          _("%(header)s: %(key)r was used for the batch from request %(id)s"
                            " with other job types, params or priorities", **used), 409)
        return [r["id"] for r in found]

    def store():
        ids = _store_many(checked, username, key)
        return ids, ids[0]
    return idempotency.once(username, key, ttl_h, find, store)


def refused_batch(message):
    """Audit a refused batch (nothing else is stored)."""
    db.session.rollback()
    audit.record("submit_batch", "refused", detail={"error": message[:500]})
    db.session.commit()


def submit_once(key, ttl_h, job_type, params_text, file_storage, username, max_bytes,
                priority=None):
    """Submit under an idempotency key (the header's raw value): (request id, True) when
    this call stored it; (id, False) when the key, younger than `ttl_h` hours, already
    names a request of the same job type, params and file (compared by sha256).

    Refused 422 for a malformed key, 409 when the key's request differs; the rest as
    `submit`. Concurrent calls with one key store one request (idempotency.claim).
    """
    key = idempotency.parse(key)
    job = jobs.get(job_type)
    params = parse_params(params_text)
    stream, meta = uploads.read(file_storage, max_bytes)
    params = job.validate(params, {**meta, "file": stream} if meta else None)
    sent = (job.name, params, meta["sha256"] if meta else None)

    def find():
        found = idempotency.holder(username, key, ttl_h)
        return None if found is None else _same(found, sent, key)

    def store():
        upload_id = uploads.store(stream, meta) if stream is not None else None
        request_id = lifecycle.submit(job.name, json.dumps(params), upload_id, username,
                                      priority=priority)
        audit.record("submit", "ok", request_id=request_id, username=username,
                     detail={"job_type": job.name, "idempotency_key": key,
                             "file": meta["filename"] if meta else None})
        return request_id, request_id
    return idempotency.once(username, key, ttl_h, find, store)


def _same(found, sent, key):
    """The key's request id when it was submitted as `sent` (job type, params, file
    sha256), else Refused 409."""
    if (found["job_type"], found["params"], found["file_sha256"]) != sent:
        raise Refused(_("%(header)s: %(key)r was used for request %(id)s with another job "
                         "type, params or file", header=idempotency.HEADER, key=key[:40],
                         id=found['id']), 409)
    return found["id"]


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
        raise Refused(_("%(jobs)s: NaN and Infinity are not numbers JSON allows",
                         jobs=jobs.non_finite(params)))
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
