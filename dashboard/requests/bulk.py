"""Bulk operator actions: retry or kill many requests at once, each id done or refused with why.

The status change is one compare-and-set statement for all the ids
(`lifecycle.retry_many` / `kill_many`), then one read says why the others were
refused; one audit entry lists the ids; one commit. Kills of pending and
running requests are then revoked through Celery, as a single kill is.
"""
from flask_babel import gettext as _
from sqlalchemy import text

from dashboard import audit, lifecycle
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.lifecycle import KILLABLE, RETRYABLE
from dashboard.requests import actions, listing
from dashboard.web.words import status_label

MAX_IDS = 1000
ACTIONS = ("retry", "kill")




def parse(body):
    """(action, ids) from the JSON body, or Refused (422; 413 above MAX_IDS ids)."""
    if not isinstance(body, dict):
        raise Refused(_('body: send a JSON object {"action": ..., "ids": [...]}'))
    action = body.get("action")
    if action not in ACTIONS:
        raise Refused(_("action: must be one of %(actions)s", actions=', '.join(ACTIONS)))
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise Refused(_("ids: must be a non-empty list of request ids"))
    if len(ids) > MAX_IDS:
        raise Refused(_("ids: at most %(max_ids)s ids at once (got %(n)s)", max_ids=MAX_IDS,
                         n=len(ids)), 413)
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2 ** 63 for i in ids):
        raise Refused(_("ids: every id must be a positive integer"))
    return action, list(dict.fromkeys(ids))


def matching_ids(filters, cap=MAX_IDS):
    """The ids of the requests the list's filter matches, newest first, at most `cap`."""
    if filters.errors:
        return []
    rows, _ = listing.list_requests(filters, cap)
    return [r["id"] for r in rows]


def _reasons(ids, action):
    """Why each of `ids` was refused: not found, or its status."""
    rows = dict(db.session.execute(
        text("SELECT id, status FROM requests WHERE id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": ids}).all()) if ids else {}
    allowed = RETRYABLE if action == "retry" else KILLABLE
    out = []
    for i in ids:
        if i not in rows:
            out.append({"id": i, "reason": _("not found")})
            continue
        words = {"status": status_label(rows[i]),
                 "allowed": ", ".join(status_label(s) for s in allowed)}
        out.append({"id": i, "reason": _("is %(status)s: only %(allowed)s requests can be"
                                         " retried", **words) if action == "retry" else
                    _("is %(status)s: only %(allowed)s requests can be killed", **words)})
    return out


def run(action, ids, by):
    """Do `action` on every id it applies to: {"done": [ids], "refused": [{id, reason}]}."""
    if action == "retry":
        done = sorted(lifecycle.retry_many(ids, by))
        killed = []
    else:
        killed = lifecycle.kill_many(ids, by)
        done = sorted(row["id"] for row in killed)
    done_set = set(done)
    refused = _reasons([i for i in ids if i not in done_set], action)
    audit.record(f"bulk_{action}", f"{len(done)} done, {len(refused)} refused"[:40],
                 detail={"ids": ids, "done": done,
                         "refused": [r["id"] for r in refused]})
    db.session.commit()
    if killed:
        actions.revoke(*killed)
    return {"done": done, "refused": refused}
