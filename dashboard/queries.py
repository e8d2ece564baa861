"""Read-side queries for the dashboard and the API: the list's filters (as values), keyset
pagination, counts, and what the live poll compares (poll_state, in_flight)."""
import re
from typing import NamedTuple

from flask import g
from sqlalchemy import text

from .extensions import db, outside_transaction
from .lifecycle import Status

# What the live poll compares, as one column: the latest request version (the sequence
# every request change draws from), then this statement's snapshot "xmin:xmax:in-progress".
POLL_STATE_SQL = ("SELECT (SELECT last_value FROM request_version_seq)::text"
                  " || '/' || pg_current_snapshot()::text")
# Tokens list at most this many in-progress transactions; more and the next poll renders.
MAX_IN_FLIGHT = 32
UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
STATUSES = [s.value for s in Status]

# The two alternatives of a search by text: the submitter, or the upload's file name.
BY_USER = "r.submitted_by = :who_or_file"
BY_FILE = "r.upload_id IN (SELECT id FROM uploads WHERE filename ILIKE :file_pattern)"
# At most this many uploads matching a file-name search are looked up one by one.
FEW_UPLOADS = 1000

LIST_COLUMNS = """
r.id, r.job_type, r.status, r.attempt, r.task_id, r.worker, r.params, r.progress, r.result,
r.error, r.submitted_by, r.created_at, r.queued_at, r.started_at, r.finished_at, r.version,
r.parent_id, u.filename, r.schedule_id, r.scheduled_for,
(SELECT s.name FROM schedules s WHERE s.id = r.schedule_id) AS schedule
"""


def search_terms(q):
    """What the search box's text means: a request id, a task id, or a submitter or file name.

    {"request_id", "task_id", "who_or_file", "file_pattern"}, each None unless meant;
    `file_pattern` is `who_or_file` as an ILIKE pattern matching it anywhere.
    """
    terms = dict.fromkeys(("request_id", "task_id", "who_or_file", "file_pattern"))
    if not q:
        return terms
    if q.isascii() and q.isdigit() and len(q) < 19:
        terms["request_id"] = int(q)
    elif UUID_RE.match(q):
        terms["task_id"] = q.lower()
    else:
        terms["who_or_file"] = q
        terms["file_pattern"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%")\
            .replace("_", "\\_") + "%"
    return terms


class Filters:
    """The list's filters, parsed from query args; unknown values are errors, not ignored."""

    def __init__(self, args, job_types):
        self.status = args.get("status", "") or ""
        self.job_type = args.get("job_type", "") or ""
        self.q = (args.get("q", "") or "").replace("\x00", "").strip()[:200]  # NUL: not SQL text
        self.errors = []
        if self.status and self.status not in STATUSES:
            self.errors.append(f"status: unknown status {self.status[:40]!r}")
        if self.job_type and self.job_type not in job_types:
            self.errors.append(f"job_type: unknown job type {self.job_type[:40]!r}")

    def values(self):
        """The filters as the values a statement takes (None: not filtered on)."""
        return {"status": self.status or None, "job_type": self.job_type or None,
                **search_terms(self.q)}

    def args(self):
        """The filters as query args (for links that keep them)."""
        return {k: v for k, v in (("status", self.status), ("job_type", self.job_type),
                                  ("q", self.q)) if v}


def _conditions(values):
    """(conditions every row meets, alternatives of which one must hold, params) for filter
    values. A search by submitter or file name is two alternatives (BY_USER, BY_FILE):
    each has its own index path, which one OR'd condition would not use."""
    clauses, alternatives = [], []
    if values["status"]:
        clauses.append("r.status = :status")
    if values["job_type"]:
        clauses.append("r.job_type = :job_type")
    if values["request_id"] is not None:
        clauses.append("r.id = :request_id")
    if values["task_id"]:
        clauses.append("r.task_id = :task_id")
    if values["who_or_file"]:
        alternatives += [BY_USER, BY_FILE]
    params = {k: v for k, v in values.items() if v is not None}
    return clauses, alternatives, params


def _where(values):
    """(SQL condition on requests `r`, params) for filter values; this module's own queries only."""
    clauses, alternatives, params = _conditions(values)
    if alternatives:
        clauses = clauses + ["(" + " OR ".join(alternatives) + ")"]
    return (" AND ".join(clauses) or "true"), params


def list_sql(filters, limit=50, after=None):
    """(SQL, params) of one page of the list: newest first, after the id `after`.

    Each alternative of a search is its own newest-first page (an index scan that stops
    after `limit` rows); the page is the newest of their union. For a file name the
    matching uploads are read first (trigram index): when they are few, each one's
    newest requests come from requests_upload_id_id_idx; when they are many, they are
    common enough for the newest-first scan to meet them soon.
    """
    clauses, alternatives, params = _conditions(filters.values())
    if after is not None:
        clauses = clauses + ["r.id < :after"]
        params["after"] = after
    params["limit"] = limit + 1
    if len(alternatives) > 1:
        pages = [_page(clauses, alt, params) for alt in alternatives]
        where = "r.id IN (" + " UNION ".join(pages) + ")"
    else:
        where = " AND ".join(clauses + alternatives) or "true"
    return (f"SELECT {LIST_COLUMNS} FROM requests r LEFT JOIN uploads u ON u.id = r.upload_id"
            f" WHERE {where} ORDER BY r.id DESC LIMIT :limit"), params


def _page(clauses, alternative, params):
    """One alternative's newest-first page of ids, as a subquery."""
    if alternative == BY_FILE:
        ids = db.session.execute(text(
            "SELECT id FROM uploads WHERE filename ILIKE :file_pattern LIMIT :few"),
            {"file_pattern": params["file_pattern"], "few": FEW_UPLOADS + 1}).scalars().all()
        if not ids:
            return "(SELECT NULL::bigint WHERE false)"
        if len(ids) <= FEW_UPLOADS:
            params["upload_ids"] = ids
            inner = " AND ".join(clauses + ["r.upload_id = m.upload_id"])
            return ("(SELECT x.id FROM unnest(CAST(:upload_ids AS bigint[])) AS m(upload_id)"
                    f" CROSS JOIN LATERAL (SELECT r.id FROM requests r WHERE {inner}"
                    " ORDER BY r.id DESC LIMIT :limit) x ORDER BY x.id DESC LIMIT :limit)")
    return (f"(SELECT r.id FROM requests r WHERE {' AND '.join(clauses + [alternative])}"
            " ORDER BY r.id DESC LIMIT :limit)")


def list_requests(filters, limit=50, after=None):
    """(rows, next cursor): newest first, `after` is the last id of the previous page."""
    sql, params = list_sql(filters, limit, after)
    rows = db.session.execute(text(sql), params).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


def get_request(request_id):
    """One request row with its filename, or None."""
    return db.session.execute(text(
        f"SELECT {LIST_COLUMNS}, r.traceback, r.upload_id, r.updated_at, u.size AS file_size,"
        " u.sha256 AS file_sha256 FROM requests r LEFT JOIN uploads u ON u.id = r.upload_id"
        " WHERE r.id = :id"), {"id": request_id}).mappings().first()


def attempts(request_id):
    """All attempts of a request, newest first."""
    return db.session.execute(text(
        "SELECT number, task_id, status, worker, triggered_by, queued_at, started_at,"
        " finished_at, error, traceback FROM attempts WHERE request_id = :id"
        " ORDER BY number DESC"), {"id": request_id}).mappings().all()


def artifacts(request_id, attempt):
    """Artifacts (without bytes) produced by an attempt."""
    return db.session.execute(text(
        "SELECT id, name, content_type, octet_length(data) AS size FROM artifacts"
        " WHERE request_id = :id AND attempt = :attempt ORDER BY id"),
        {"id": request_id, "attempt": attempt}).mappings().all()


def counts():
    """Requests per status (from the trigger-kept deltas)."""
    rows = db.session.execute(text(
        "SELECT status, sum(n)::bigint AS n FROM status_counts GROUP BY status")).all()
    found = {status: int(n) for status, n in rows}
    return {s: found.get(s, 0) for s in STATUSES}


class PollState(NamedTuple):
    """The latest request version, and which transactions were still running then: those
    listed in progress and every one from `xmax` on (a PostgreSQL snapshot's xmax is one
    past the latest completed transaction; running ones above it are not listed)."""
    version: int
    xmax: int
    in_progress: frozenset

    def running(self, xid):
        """True when transaction `xid` (a 64-bit id) had not completed."""
        return xid >= self.xmax or xid in self.in_progress


def _snapshot(text_value):
    """(xmax, in-progress ids) from pg_current_snapshot()'s "xmin:xmax:xid,xid"."""
    _, xmax, listed = text_value.split(":")
    return int(xmax), frozenset(int(x) for x in listed.split(",") if x)


def poll_state():
    """What a live poll compares with its token: the request version sequence's last
    value (it moves whenever any request changes) and the transactions then running.

    The signed-in user's loader (sessions.load_user) reads this in the same round trip
    as the user, so an unchanged poll costs one query; without it, one read of its own.
    """
    found = g.pop("poll_state", None)
    if found is None:
        found = db.session.execute(text(POLL_STATE_SQL),
                                   bind_arguments=outside_transaction()).scalar()
    version, _, snapshot = found.partition("/")
    return PollState(int(version), *_snapshot(snapshot))


def in_flight():
    """The transactions of this database running now (64-bit ids), which may hold request
    changes that the rows read next cannot show yet.

    Read after poll_state() and before the rows, it lists every transaction that drew a
    version up to poll_state().version and has not committed: requests_touch takes the
    transaction id before the version (migration 0003), so such a transaction already
    has its id. Only this database's sessions count (others on the same server do not
    touch requests); pg_stat_activity shows every session's database and transaction id
    to any role.
    """
    snapshot, listed = db.session.execute(text(
        "SELECT pg_current_snapshot()::text, coalesce(string_agg(backend_xid::text, ','), '')"
        " FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL"),
        bind_arguments=outside_transaction()).one()
    xmax = _snapshot(snapshot)[0]
    # pg_stat_activity shows 32-bit ids: widen each to the 64-bit id nearest the snapshot's.
    return frozenset(xmax + ((int(x) - xmax + 2 ** 31) % 2 ** 32) - 2 ** 31
                     for x in listed.split(",") if x)
