"""Alert rules over the API: list, create, change, delete (admin), acknowledge (operator)."""
from flask import jsonify, url_for
from flask_login import current_user

from dashboard import audit
from dashboard.alerts import acks, store
from dashboard.errors import Refused
from dashboard.views.api import bp, error, json_body
from dashboard.web.auth import require_role


def _answer(row):
    """The rule as this user may see it (the whole webhook URL for admins)."""
    return store.as_dict(row, admin=current_user.has_role("admin"))


def _rule_or_404(rule_id):
    """(rule, None) or (None, 404 answer)."""
    row = store.get(rule_id)
    return (row, None) if row else (None, error(f"alert rule {rule_id} not found", 404))


@bp.route("/alerts", methods=["GET"])
@require_role("viewer")
def alert_list():
    """Every rule with its state (`ok` | `firing` | `acknowledged`) and since when."""
    return jsonify([_answer(r) for r in store.all_rules()])


@bp.route("/alerts", methods=["POST"])
@require_role("admin")
def alert_create():
    """Create a rule: 201; 422 naming the field; 409 for a name in use."""
    try:
        rule_id = store.create(json_body('{"name": ..., "kind": ..., "params": {...}}'),
                               current_user.username)
    except Refused as exc:
        audit.refused("alert_create", exc.message, current_user.username)
        return error(exc.message, exc.status)
    response = jsonify(_answer(store.get(rule_id)))
    response.headers["Location"] = url_for("api.alert_show", rule_id=rule_id)
    return response, 201


@bp.route("/alerts/<int:rule_id>", methods=["GET"])
@require_role("viewer")
def alert_show(rule_id):
    """One rule."""
    row, missing = _rule_or_404(rule_id)
    return missing or jsonify(_answer(row))


@bp.route("/alerts/<int:rule_id>", methods=["PATCH"])
@require_role("admin")
def alert_update(rule_id):
    """Change any of a rule's fields (a webhook_secret left out is kept): 200; 422/409."""
    try:
        row = store.update(rule_id, json_body('{"enabled": false}'), current_user.username)
    except Refused as exc:
        audit.refused("alert_update", exc.message, current_user.username)
        return error(exc.message, exc.status)
    if row is None:
        return error(f"alert rule {rule_id} not found", 404)
    return jsonify(_answer(row))


@bp.route("/alerts/<int:rule_id>", methods=["DELETE"])
@require_role("admin")
def alert_delete(rule_id):
    """Delete a rule and its history: 204."""
    if not store.delete(rule_id, current_user.username):
        return error(f"alert rule {rule_id} not found", 404)
    return "", 204


@bp.route("/alerts/<int:rule_id>/ack", methods=["POST"])
@require_role("operator")
def alert_ack(rule_id):
    """Acknowledge: no notifications until `until` (ISO time; null lifts it): 200."""
    try:
        body = json_body('{"until": "2026-12-07T18:00:00Z"}')
        if not isinstance(body, dict) or "until" not in body:
            raise Refused("until: required (an ISO 8601 time, or null to lift)")
        unknown = sorted(set(body) - {"until"})
        if unknown:
            raise Refused(f"{str(unknown[0])[:40]}: unknown field (known: until)")
        row = acks.acknowledge(rule_id, acks.parse_until(body["until"]), current_user.username)
    except Refused as exc:
        audit.refused("alert_ack", exc.message, current_user.username)
        return error(exc.message, exc.status)
    if row is None:
        return error(f"alert rule {rule_id} not found", 404)
    return jsonify(_answer(row))
