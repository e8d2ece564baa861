"""A request's timeline: every step of every attempt and every audit entry about it, in order.

Read side only. Built from the request row, its `attempts`, the worker's step
lines in `attempt_logs` (started with worker and pid, redelivered, progress
milestones), its re-runs, and the audit log. Each item is
`{at, kind, attempt, by, detail}` (plus the facts it states: worker, pid,
status, address, seconds), `detail` a sentence an operator reads, with the time
between steps ("waited 1.2 s in the queue", "ran 4.8 s").
"""
import re

from flask_babel import gettext as _
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.serializers import iso
from dashboard.submission import changes
from dashboard.web.words import status_label

# Same-instant steps sort in the order they happen.
_RANK = {"submitted": 0, "retried": 0, "audit": 1, "claimed": 2, "started": 3,
         "redelivered": 4, "progress": 5, "finished": 6, "killed": 6, "notified": 7, "rerun": 8}
# Audit entries the timeline already tells as a step of its own.
_TOLD = {("submit", "ok"), ("retry", "ok"), ("kill", "ok"), ("rerun", "ok")}
# Its own entries, and the bulk actions that listed it: each condition has its index
# (ix_audit_log_request_id; audit_log_bulk_ids_idx, partial on exactly these actions).
AUDIT_SQL = ("SELECT at, username, action, outcome, address, detail FROM audit_log"
             " WHERE request_id = :id OR (action IN ('bulk_retry', 'bulk_kill')"
             " AND detail -> 'ids' @> to_jsonb(CAST(:id AS bigint))) ORDER BY id")


def _seconds(later, earlier):
    """Seconds between two times; None when either is missing or they are out of order."""
    if later is None or earlier is None or later < earlier:
        return None
    return round((later - earlier).total_seconds(), 3)


def _s(seconds):
    """Seconds as the timeline writes them: 2.0 s, 125 s."""
    return _("%(n)s s", n=f"{seconds:.1f}" if seconds < 100 else f"{seconds:.0f}")


def _progress(message):
    """A progress step's line ("progress: 25 %", as the job logs it) in the reader's words."""
    found = re.fullmatch(r"progress: (\d+) %", message or "")
    return _("progress: %(pct)s %%", pct=found.group(1)) if found else message


def _item(at, kind, attempt, by=None, detail="", **facts):
    return {"at": at, "kind": kind, "attempt": attempt, "by": by, "detail": detail,
            **{k: v for k, v in facts.items() if v is not None}}


def _rows(sql, **params):
    return db.session.execute(text(sql), params).mappings().all()


def _attempt_at(attempts, at):
    """The number of the attempt that was current at `at`."""
    number = 1
    for a in attempts:
        if a["created_at"] <= at:
            number = a["number"]
    return number


def build(request_id):
    """The request's timeline items in time order, or None when there is no such request."""
    request = _rows("SELECT id, created_at, submitted_by, parent_id FROM requests"
                    " WHERE id = :id", id=request_id)
    if not request:
        return None
    request = request[0]
    attempts = _rows(
        "SELECT number, status, worker, triggered_by, created_at, queued_at, started_at,"
        " finished_at, error FROM attempts WHERE request_id = :id ORDER BY number", id=request_id)
    steps = _rows(
        "SELECT attempt, at, event, message, detail FROM attempt_logs"
        " WHERE request_id = :id AND event IS NOT NULL ORDER BY id", id=request_id)
    audit = _rows(AUDIT_SQL, id=request_id)
    reruns = _rows("SELECT id, created_at, submitted_by FROM requests WHERE parent_id = :id"
                   " ORDER BY id", id=request_id)
    told = {}
    for entry in audit:
        told.setdefault((entry["action"], entry["outcome"]), []).append(entry)

    def address(action):
        entries = told.get((action, "ok"))
        return entries.pop(0)["address"] if entries else None

    items = []
    for a in attempts:
        n = a["number"]
        if n == 1:
            parent = request["parent_id"]
            items.append(_item(request["created_at"], "submitted", 1, request["submitted_by"],
                               _("submitted by %(who)s",
                                 who=request["submitted_by"] or _("unknown"))
                               + (f", a re-run of #{parent}" if parent else ""),
                               address=address("submit"), parent_id=parent))
        else:
            by = a["triggered_by"]
            items.append(_item(a["created_at"], "retried", n, by,
                               _("retried by %(who)s as attempt %(n)s", who=by, n=n),
                               address=address("retry") if by != "auto" else None))
        if a["queued_at"]:
            waited = _seconds(a["queued_at"], a["created_at"])
            items.append(_item(a["queued_at"], "claimed", n, "dispatcher",
                               _("claimed by the dispatcher and sent to the broker after"
                                 " %(time)s unassigned", time=_s(waited)) if waited else
                               _("claimed by the dispatcher and sent to the broker"),
                               seconds=waited))
        started = [s for s in steps if s["attempt"] == n and s["event"] in ("started",
                                                                              "redelivered")]
        for s in started:
            facts = s["detail"] or {}
            waited = _seconds(s["at"], a["queued_at"])
            where = {"worker": facts.get("worker"), "pid": facts.get("pid")}
            what = (_("redelivered after its worker died; started again on %(worker)s"
                      " (pid %(pid)s)", **where) if s["event"] == "redelivered" else
                    _("started on %(worker)s (pid %(pid)s)", **where))
            items.append(_item(s["at"], s["event"], n, facts.get("worker"),
                               what + (", " + _("waited %(time)s in the queue", time=_s(waited))
                                       if waited is not None and s is started[0] else ""),
                               worker=facts.get("worker"), pid=facts.get("pid"),
                               seconds=waited if s is started[0] else None))
        if not started and a["started_at"]:
            waited = _seconds(a["started_at"], a["queued_at"])
            items.append(_item(a["started_at"], "started", n, a["worker"],
                               _("started on %(worker)s", worker=a["worker"])
                               + (", " + _("waited %(time)s in the queue", time=_s(waited))
                                  if waited is not None else ""),
                               worker=a["worker"], seconds=waited))
        for s in steps:
            if s["attempt"] == n and s["event"] == "progress":
                items.append(_item(s["at"], "progress", n, None, _progress(s["message"])))
        if a["finished_at"]:
            ran = _seconds(a["finished_at"], a["started_at"])
            if a["status"] == "killed":
                error = a["error"] or ""
                by = error[len("killed by "):] if error.startswith("killed by ") else None
                items.append(_item(a["finished_at"], "killed", n, by,
                                   _("killed by %(who)s", who=by or _("unknown"))
                                   + (" " + _("after running %(time)s", time=_s(ran))
                                      if ran is not None else ""),
                                   status="killed", seconds=ran, address=address("kill")))
            else:
                items.append(_item(a["finished_at"], "finished", n, a["worker"],
                                   _("finished: %(status)s", status=status_label(a["status"]))
                                   + (", " + _("ran %(time)s", time=_s(ran))
                                      if ran is not None else "")
                                   + (f": {a['error']}" if a["error"] else ""),
                                   status=a["status"], seconds=ran, error=a["error"]))
    for child in reruns:
        items.append(_item(child["created_at"], "rerun", _attempt_at(attempts, child["created_at"]),
                           child["submitted_by"],
                           _("re-run as #%(id)s by %(who)s", id=child["id"],
                             who=child["submitted_by"]),
                           child_id=child["id"]))
    for entry in audit:
        key = (entry["action"], entry["outcome"])
        if key in _TOLD:
            continue
        kind = "notified" if entry["action"] == "notify" else "audit"
        detail = (_("notified the submitter: %(outcome)s", outcome=entry["outcome"])
                  if kind == "notified"
                  else f"{entry['action']}: {entry['outcome']}")
        items.append(_item(entry["at"], kind, _attempt_at(attempts, entry["at"]),
                           entry["username"], detail, action=entry["action"],
                           outcome=entry["outcome"], address=entry["address"]))
    items.sort(key=lambda i: (i["at"], i["attempt"], _RANK.get(i["kind"], 1)))
    for i in items:
        i["at"] = iso(i["at"])
    return items


def page_context(row):
    """What a request's page shows of its story: timeline items, re-runs, changed params."""
    reruns = _rows("SELECT id, status FROM requests WHERE parent_id = :id ORDER BY id",
                   id=row["id"])
    changed = {}
    if row["parent_id"]:
        parent = _rows("SELECT params FROM requests WHERE id = :id", id=row["parent_id"])
        if parent:
            changed = changes(parent[0]["params"] or {}, row["params"] or {})
    return {"story_items": build(row["id"]) or [], "reruns": reruns, "changed": changed}
