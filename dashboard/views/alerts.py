"""The Alerts page: rules and their state, what fires now, the history; admins manage the
rules here (forms with CSRF), operators acknowledge, viewers read."""
from datetime import datetime, timedelta, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dashboard import audit, jobs
from dashboard.alerts import acks, rules, store
from dashboard.errors import Refused
from dashboard.views.navigation import nav
from dashboard.web.auth import require_role

bp = Blueprint("alerts", __name__)
nav("alerts.index", "Alerts")
ACK_MINUTES = (15, 60, 240, 1440)
BLANK = {"kind": "worker_offline", "enabled": True, "params": {"for_s": 60, "worker": None}}


def _number(raw):
    """A form's number as int or float; the text itself when it is not one (the check says why)."""
    try:
        value = float(raw)
    except ValueError:
        return raw
    return int(value) if value.is_integer() else value


def _form_values():
    """The form as the fields store.create takes: the chosen kind's params only."""
    kind = request.form.get("kind", "")
    params = {}
    for key in rules.KINDS.get(kind, ()):
        raw = request.form.get(key, "").strip()
        if key == "worker":
            params[key] = raw or None
        elif key in ("job_type", "limit"):
            params[key] = raw
        elif raw:
            params[key] = _number(raw)
    data = {"name": request.form.get("name", ""), "kind": kind, "params": params,
            "emails": request.form.get("emails", ""),
            "webhook_url": request.form.get("webhook_url", "").strip() or None,
            "enabled": "enabled" in request.form}
    if request.form.get("webhook_secret"):
        data["webhook_secret"] = request.form["webhook_secret"]
    return data


def _page(form=None, error=None, editing=None, status=200):
    rows = store.all_rules()
    now = datetime.now(timezone.utc)
    return render_template(
        "alerts.html", rows=rows, firing=[r for r in rows if r["state"] == "firing"],
        history=store.history(), form=form or BLANK, error=error, editing=editing,
        kinds=rules.KINDS, job_types=sorted(jobs.REGISTRY), state_of=store.shown_state,
        now=now, ack_minutes=ACK_MINUTES, webhook_site=store.webhook_site), status


def _rule_or_404(rule_id):
    row = store.get(rule_id)
    if row is None:
        abort(404, description=_("There is no alert rule #%(id)s.", id=rule_id))
    return row


@bp.route("/alerts")
@require_role("viewer")
def index():
    """Rules, what fires now, the history; the form for admins."""
    return _page()


@bp.route("/alerts", methods=["POST"])
@require_role("admin")
def create():
    """Store a rule from the form; 422/409 shows the form again with the reason."""
    data = _form_values()
    try:
        store.create(data, current_user.username)
    except Refused as exc:
        audit.refused("alert_create", exc.message, current_user.username)
        return _page(form=data, error=exc.message, status=exc.status)
    flash(_("Alert rule %(name)s created.", name=data["name"].strip()), "info")
    return redirect(url_for("alerts.index"), 303)


@bp.route("/alerts/<int:rule_id>/edit")
@require_role("admin")
def edit(rule_id):
    """The page with the form filled with one rule."""
    return _page(form=_rule_or_404(rule_id), editing=rule_id)


@bp.route("/alerts/<int:rule_id>", methods=["POST"])
@require_role("admin")
def update(rule_id):
    """Save the edit form (an empty secret keeps the stored one)."""
    _rule_or_404(rule_id)
    data = _form_values()
    try:
        store.update(rule_id, data, current_user.username)
    except Refused as exc:
        audit.refused("alert_update", exc.message, current_user.username)
        return _page(form=data, error=exc.message, editing=rule_id, status=exc.status)
    flash(_("Alert rule saved."), "info")
    return redirect(url_for("alerts.index"), 303)


@bp.route("/alerts/<int:rule_id>/delete", methods=["POST"])
@require_role("admin")
def delete(rule_id):
    """Delete a rule with its history."""
    row = _rule_or_404(rule_id)
    store.delete(rule_id, current_user.username)
    flash(_("Alert rule %(name)s deleted.", name=row["name"]), "info")
    return redirect(url_for("alerts.index"), 303)


@bp.route("/alerts/<int:rule_id>/ack", methods=["POST"])
@require_role("operator")
def ack(rule_id):
    """Acknowledge for the chosen minutes (0 lifts the acknowledgement)."""
    _rule_or_404(rule_id)
    raw = request.form.get("minutes", "")
    minutes = int(raw) if raw.isdigit() and int(raw) in (0, *ACK_MINUTES) else None
    if minutes is None:
        flash(_("minutes: choose one of the offered times"), "error")
        return redirect(url_for("alerts.index"), 303)
    until = datetime.now(timezone.utc) + timedelta(minutes=minutes) if minutes else None
    acks.acknowledge(rule_id, until, current_user.username)
    flash(_("Acknowledged.") if until else _("Acknowledgement lifted."), "info")
    return redirect(url_for("alerts.index"), 303)
