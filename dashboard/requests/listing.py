"""Read-side queries for the dashboard and the API: the list's filters (as values), keyset
pagination, counts, and what the live poll compares (poll_state, in_flight)."""
import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from flask import g
from flask_babel import gettext as _
from sqlalchemy import text

from dashboard.extensions import db, outside_transaction, standby_reads
from dashboard.lifecycle import Status

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
# What a time filter accepts: ISO-8601 date and time to the minute or finer (a
# datetime-local input's value), with an optional zone (Z or +HH:MM; none means UTC).
TIME_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                r"(Z|[+-][0-9]{2}:[0-9]{2})?$")
TIME_RE = re.compile(TIME_PATTERN)
# The newer filters' conditions, each on its own index (indexes of the baseline migration).
FILTER_CLAUSES = {
    "worker": "r.worker = :worker",
    "submitted_by": "r.submitted_by = :submitted_by",
    "created_after": "r.created_at >= :created_after",
    "created_before": "r.created_at < :created_before",
    "error_pattern": "r.error ILIKE :error_pattern",
    # The param.<name>=<value> filters as one JSON object the params must contain
    # (requests_params_idx, GIN jsonb_path_ops).
    "param_match": "r.params @> CAST(:param_match AS jsonb)",
}
# A parameter filter's URL name: PARAM_PREFIX + the parameter's name.
PARAM_PREFIX = "param."
PARAM_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
JSON_NUMBER_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# At most this many uploads matching a file-name search are looked up one by one.
FEW_UPLOADS = 1000

LIST_COLUMNS = """
r.id, r.job_type, r.status, r.attempt, r.task_id, r.worker, r.params, r.progress, r.result,
r.error, r.submitted_by, r.created_at, r.queued_at, r.started_at, r.finished_at, r.version,
r.parent_id, u.filename, r.schedule_id, r.scheduled_for, r.priority,
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
        terms["file_pattern"] = _like(q)
    return terms


def _like(text_value):
    """`text_value` as an ILIKE pattern matching it anywhere (its % _ \\ taken literally)."""
    return "%" + text_value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text(args, name, cap):
    """A free-text query arg: trimmed, capped, without NUL (not SQL text)."""
    return (args.get(name, "") or "").replace("\x00", "").strip()[:cap]


def param_value(raw):
    """A param.<name> filter's value as the JSON value it matches: a number when it is
    written as one, true/false as booleans, otherwise the string as written."""
    if raw in ("true", "false"):
        return raw == "true"
    if JSON_NUMBER_RE.fullmatch(raw):
        number = json.loads(raw)
        if not isinstance(number, float) or math.isfinite(number):
            return number
    return raw


def _param_filters(args):
    """({parameter name: value as given}, [errors naming the field]) from the param.<name>
    query args (several names: all must match); an empty value is not filtered on."""
    items = args.items(multi=True) if hasattr(args, "getlist") else args.items()
    found, errors = {}, []
    for arg, raw in items:
        if not arg.startswith(PARAM_PREFIX):
            continue
        name, raw = arg[len(PARAM_PREFIX):], (raw or "").replace("\x00", "")
        if not PARAM_NAME_RE.fullmatch(name):
            errors.append(_("%(arg)s: a parameter name is 1 to 64 letters, digits, _ . or -",
                             arg=arg[:80]))
        elif raw and found.setdefault(name, raw) != raw:
            errors.append(_("%(arg)s: given twice with different values", arg=arg[:80]))
    return found, errors


def _when(name, raw):
    """(aware UTC datetime, None) from ISO-8601 or a datetime-local value (no zone: UTC),
    or (None, error naming the field)."""
    try:
        if not TIME_RE.fullmatch(raw):
            raise ValueError(raw)
        at = datetime.fromisoformat(raw)
        at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # no such date, or out of range once in UTC
        return None, (f"{name}: not a date and time {raw[:40]!r}"
                      " (use ISO-8601 in UTC, e.g. 2026-12-01T09:30 or 2026-12-01T09:30:00Z)")
    return at, None


class Filters:
    """The list's filters and sort, parsed from query args; bad values are errors naming
    the field, never ignored.

    PARAMS is the one definition of the list's URL parameters (the page, its live
    partial, GET /api/requests, the bulk retry and the OpenAPI description all take
    these), with the family `param.<name>` (PARAM_PREFIX: a top-level parameter's value,
    `params`); `examples()` gives a realistic value for each, so a bench can measure every
    filter: `for name, value in Filters.examples().items(): Filters({name: value}, ...)`.
    """
    PARAMS = ("status", "job_type", "q", "worker", "submitted_by", "created_after",
              "created_before", "error", "sort")
    # sort: (what it means, ORDER BY, keyset condition after the id `:after`)
    SORTS = {
        "newest": ("newest first", "r.id DESC", "r.id < :after"),
        "oldest": ("oldest first", "r.id ASC", "r.id > :after"),
        "longest": ("longest run first (finished requests only)",
                    "(r.finished_at - r.started_at) DESC, r.id DESC",
                    "(r.finished_at - r.started_at, r.id) < (SELECT a.finished_at - a.started_at,"
                    " a.id FROM requests a WHERE a.id = :after)"),
    }
    # With a created-time range, newest and oldest are read from requests_created_at_id_idx
    # in created order (the range is where that index starts): by id, a range far from
    # the newest rows would be found only after every newer row was read (440 ms at a
    # million rows). Same order but for requests created in one instant out of id order.
    BY_CREATED = {
        "newest": ("r.created_at DESC, r.id DESC",
                   "(r.created_at, r.id) < (SELECT a.created_at, a.id FROM requests a"
                   " WHERE a.id = :after)"),
        "oldest": ("r.created_at ASC, r.id ASC",
                   "(r.created_at, r.id) > (SELECT a.created_at, a.id FROM requests a"
                   " WHERE a.id = :after)"),
    }
    # "longest": only requests with a duration (the partial index's own condition).
    HAS_DURATION = "r.finished_at IS NOT NULL AND r.started_at IS NOT NULL"
    DEFAULT_SORT = "newest"

    @staticmethod
    def examples(now=None):
        """A realistic value for every parameter (names as in bench/dashboard.py's seed;
        the time range is the day before yesterday, to now minus one day); together they
        are a valid filter too."""
        now = now or datetime.now(timezone.utc)
        return {"status": "failure", "job_type": "load_array", "q": "user7",
                "worker": "worker1@node2", "submitted_by": "user7",
                "created_after": Filters._iso(now - timedelta(days=2)),
                "created_before": Filters._iso(now - timedelta(days=1)),
                "error": "soft time limit", "sort": "longest"}

    def __init__(self, args, job_types):
        self.status = args.get("status", "") or ""
        self.job_type = args.get("job_type", "") or ""
        self.q = _text(args, "q", 200)
        self.worker = _text(args, "worker", 255)
        self.submitted_by = _text(args, "submitted_by", 80)
        self.error = _text(args, "error", 200)
        self.sort = (args.get("sort", "") or "").strip() or self.DEFAULT_SORT
        self.params, self.errors = _param_filters(args)
        if self.status and self.status not in STATUSES:
            self.errors.append(_("status: unknown status %(status)r", status=self.status[:40]))
        if self.job_type and self.job_type not in job_types:
            self.errors.append(_("job_type: unknown job type %(job_type)r",
                                  job_type=self.job_type[:40]))
        self.created_after = self.created_before = None
        for name in ("created_after", "created_before"):
            raw = args.get(name, "") or ""  # as given: the pattern is the whole check
            if raw:
                at, problem = _when(name, raw)
                setattr(self, name, at)
                if problem:
                    self.errors.append(problem)
        if self.created_after and self.created_before \
                and self.created_after > self.created_before:
            self.errors.append(_("created_after: must not be later than created_before"))
        if self.sort not in self.SORTS:
            self.errors.append(_("sort: must be one of %(sorts)s (got %(sort)r)",
                                  sorts=', '.join(self.SORTS), sort=self.sort[:40]))
            self.sort = self.DEFAULT_SORT

    def ordering(self):
        """(ORDER BY, keyset condition after the id `:after`) of this sort."""
        if self.sort in self.BY_CREATED and (self.created_after or self.created_before):
            return self.BY_CREATED[self.sort]
        return self.SORTS[self.sort][1:]

    def values(self):
        """The filters as the values a statement takes (None: not filtered on)."""
        return {"status": self.status or None, "job_type": self.job_type or None,
                **search_terms(self.q), "worker": self.worker or None,
                "submitted_by": self.submitted_by or None,
                "created_after": self.created_after, "created_before": self.created_before,
                "error_pattern": _like(self.error) if self.error else None,
                "param_match": json.dumps({k: param_value(v) for k, v in self.params.items()})
                if self.params else None}

    @staticmethod
    def _iso(at):
        return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else ""

    def local(self, name):
        """A time filter as a datetime-local input's value (UTC, no zone), or ""."""
        at = getattr(self, name)
        return at.strftime("%Y-%m-%dT%H:%M:%S") if at else ""

    def args(self):
        """The filters as query args (for links that keep them); the default sort is left out."""
        given = (("status", self.status), ("job_type", self.job_type), ("q", self.q),
                 ("worker", self.worker), ("submitted_by", self.submitted_by),
                 ("created_after", self._iso(self.created_after)),
                 ("created_before", self._iso(self.created_before)), ("error", self.error),
                 ("sort", "" if self.sort == self.DEFAULT_SORT else self.sort),
                 *((PARAM_PREFIX + name, value) for name, value in self.params.items()))
        return {k: v for k, v in given if v}


def conditions(values):
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
    for name, clause in FILTER_CLAUSES.items():
        if values.get(name) is not None:
            clauses.append(clause)
    if values["who_or_file"]:
        alternatives += [BY_USER, BY_FILE]
    params = {k: v for k, v in values.items() if v is not None}
    return clauses, alternatives, params


def list_sql(filters, limit=50, after=None):
    """(SQL, params) of one page of the list in the filters' sort, after the id `after`
    (the last row of the previous page; for "longest", the keyset is that row's
    (duration, id)).

    Each alternative of a search is its own page in that order (an index scan that stops
    after `limit` rows); the page is the first of their union. For a file name the
    matching uploads are read first (trigram index): when they are few, each one's
    first requests come from requests_upload_id_id_idx; when they are many, they are
    common enough for the list's own scan to meet them soon.
    """
    order, keyset = filters.ordering()
    clauses, alternatives, params = conditions(filters.values())
    if filters.sort == "longest":
        clauses = clauses + [Filters.HAS_DURATION]
    if after is not None:
        clauses = clauses + [keyset]
        params["after"] = after
    params["limit"] = limit + 1
    if len(alternatives) > 1:
        pages = [_page(clauses, alt, params, order) for alt in alternatives]
        where = "r.id IN (" + " UNION ".join(pages) + ")"
    else:
        where = " AND ".join(clauses + alternatives) or "true"
    return (f"SELECT {LIST_COLUMNS} FROM requests r LEFT JOIN uploads u ON u.id = r.upload_id"
            f" WHERE {where} ORDER BY {order} LIMIT :limit"), params


def _page(clauses, alternative, params, order="r.id DESC"):
    """One alternative's first page of ids in the list's `order`, as a subquery."""
    if alternative == BY_FILE:
        ids = db.session.execute(text(
            "SELECT id FROM uploads WHERE filename ILIKE :file_pattern LIMIT :few"),
            {"file_pattern": params["file_pattern"], "few": FEW_UPLOADS + 1},
            bind_arguments=standby_reads()).scalars().all()
        if not ids:
            return "(SELECT NULL::bigint WHERE false)"
        if len(ids) <= FEW_UPLOADS:
            params["upload_ids"] = ids
            inner = " AND ".join(clauses + ["r.upload_id = m.upload_id"])
            return ("(SELECT r.id FROM unnest(CAST(:upload_ids AS bigint[])) AS m(upload_id)"
                    " CROSS JOIN LATERAL (SELECT r.id, r.created_at, r.started_at, r.finished_at"
                    f" FROM requests r WHERE {inner} ORDER BY {order} LIMIT :limit) r"
                    f" ORDER BY {order} LIMIT :limit)")
    return (f"(SELECT r.id FROM requests r WHERE {' AND '.join(clauses + [alternative])}"
            f" ORDER BY {order} LIMIT :limit)")


def list_requests(filters, limit=50, after=None):
    """(rows, next cursor): in the filters' sort; `after` is the last id of the previous page."""
    sql, params = list_sql(filters, limit, after)
    rows = db.session.execute(text(sql), params, bind_arguments=standby_reads()).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


def recent_workers(limit=1000):
    """The workers of the newest `limit` requests that had one (the worker filter's choices)."""
    return db.session.execute(text(
        "SELECT DISTINCT worker FROM (SELECT worker FROM requests WHERE worker IS NOT NULL"
        " ORDER BY id DESC LIMIT :limit) w ORDER BY worker"), {"limit": limit}).scalars().all()


def get_request(request_id):
    """One request row with its filename, or None."""
    return db.session.execute(text(
        f"SELECT {LIST_COLUMNS}, r.traceback, r.upload_id, r.updated_at, u.size AS file_size,"
        " u.sha256 AS file_sha256 FROM requests r LEFT JOIN uploads u ON u.id = r.upload_id"
        " WHERE r.id = :id"), {"id": request_id}).mappings().first()


def attempts(request_id):
    """All attempts of a request, newest first; `batch`: the task id of the batch message
    that ran it (short requests share one, see tasks.run_batch), else None."""
    return db.session.execute(text(
        "SELECT number, task_id, status, worker, triggered_by, queued_at, started_at,"
        " finished_at, error, traceback, (SELECT l.detail->>'batch' FROM attempt_logs l"
        "   WHERE l.request_id = a.request_id AND l.attempt = a.number"
        "     AND l.event IN ('started', 'redelivered') ORDER BY l.id DESC LIMIT 1) AS batch"
        " FROM attempts a WHERE request_id = :id"
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
        "SELECT status, sum(n)::bigint AS n FROM status_counts GROUP BY status"),
        bind_arguments=standby_reads()).all()
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
    transaction id before the version (the baseline migration's trigger), so such a transaction already
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
