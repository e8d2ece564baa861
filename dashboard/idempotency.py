"""Idempotency keys: a submitter's `Idempotency-Key` names the one request it created.

The table's primary key (submitted_by, key) is the guard: of concurrent submits with one
key, the first insert wins and the others find the key taken once it commits. A key
older than the time to live no longer answers; the next submit that uses it deletes it.

A batch's key names its first request: the batch is that request and the ones after it
the same user submitted in the same transaction (the same `created_at`, which is the
transaction's start, as the key's own).
"""
import re

from flask_babel import gettext as _
from sqlalchemy import text

from dashboard.errors import Refused
from dashboard.extensions import db

HEADER = "Idempotency-Key"
# 1-200 printable ASCII characters (a UUID, a job id, an accession number and a date...).
KEY_RE = re.compile(r"[\x20-\x7e]{1,200}")


def parse(raw):
    """The header's value as a key, or Refused 422 naming the header."""
    if not KEY_RE.fullmatch(raw):
        raise Refused(_("%(header)s: must be 1 to 200 printable ASCII characters (got %(n)s"
                        " characters, some not printable)", header=HEADER, n=len(raw)) if raw
                      else _("%(header)s: must be 1 to 200 printable ASCII characters (got 0"
                             " characters)", header=HEADER))
    return raw


def expire(username, key, ttl_h):
    """Delete the key when it is older than `ttl_h` hours (in the caller's transaction)."""
    db.session.execute(text(
        "DELETE FROM idempotency_keys WHERE submitted_by = :who AND key = :key"
        " AND created_at < now() - make_interval(secs => :ttl_s)"),
        {"who": username, "key": key, "ttl_s": float(ttl_h) * 3600})


def claim(username, key, request_id):
    """Give the key to `request_id` (in the caller's transaction); False when it is taken.

    An insert the unique key turns away, after waiting for the transaction that holds it,
    not a look first: two submits never both see the key free."""
    return db.session.execute(text(
        "INSERT INTO idempotency_keys (submitted_by, key, request_id)"
        " VALUES (:who, :key, :request_id) ON CONFLICT DO NOTHING RETURNING request_id"),
        {"who": username, "key": key, "request_id": request_id}).first() is not None


def holder(username, key, ttl_h):
    """What the key's request was submitted with, {id, job_type, params, file_sha256}, while
    the key is younger than `ttl_h` hours; None when no such key is in force."""
    return db.session.execute(text(
        "SELECT r.id, r.job_type, r.params, u.sha256 AS file_sha256 FROM idempotency_keys k"
        " JOIN requests r ON r.id = k.request_id LEFT JOIN uploads u ON u.id = r.upload_id"
        " WHERE k.submitted_by = :who AND k.key = :key"
        " AND k.created_at >= now() - make_interval(secs => :ttl_s)"),
        {"who": username, "key": key, "ttl_s": float(ttl_h) * 3600}).mappings().first()


# Read through requests_created_at_id_idx: (created_at, id) from the key's request on.
BATCH_SQL = """
SELECT r.id, r.job_type, r.params, r.priority FROM idempotency_keys k
JOIN requests r ON r.id >= k.request_id AND r.submitted_by = k.submitted_by
                AND r.created_at = k.created_at
WHERE k.submitted_by = :who AND k.key = :key
  AND k.created_at >= now() - make_interval(secs => :ttl_s)
ORDER BY r.id LIMIT :most
"""


def batch_holder(username, key, ttl_h, most):
    """The requests the key created, [{id, job_type, params, priority}] in id order (at most `most`;
    one for a single submit's key), while the key is younger than `ttl_h` hours; None when
    no such key is in force."""
    rows = db.session.execute(text(BATCH_SQL), {
        "who": username, "key": key, "ttl_s": float(ttl_h) * 3600, "most": most}).mappings().all()
    return [dict(row) for row in rows] or None


def once(username, key, ttl_h, find, store):
    """Run a keyed submit: (answer, True) when this call stored it, (answer, False) when the
    key already names an earlier submit.

    `find()` gives the earlier submit's answer (raising Refused 409 when it was sent with
    other content), None when no key is in force; `store()` stores this one in the
    caller's transaction and returns (answer, the request id the key is to name). Of
    concurrent calls the unique key decides: a call that loses rolls back what it stored
    and reads the winner's. Committed here.
    """
    for _attempt in range(3):  # the key's requests may go (retention) between two reads
        try:
            found = find()
        finally:
            db.session.rollback()
        if found is not None:
            return found, False
        try:
            expire(username, key, ttl_h)
            answer, named = store()
            if claim(username, key, named):
                db.session.commit()
                return answer, True
            db.session.rollback()  # another submit with this key came first: its answer
        except Exception:
            db.session.rollback()
            raise
    raise Refused(_("%(header)s: in use by a submit that did not finish; send it again",
                     header=HEADER), 409)
