"""The alert rules' part of the OpenAPI description: /api/alerts (dashboard.views.api.alerts)."""
from dashboard.alerts.rules import KINDS
from dashboard.web.openapi import parts

AUTH_ERRORS = {"401": parts.error("not signed in and no valid bearer token"),
               "403": parts.error("signed in, but the role does not allow this")}
PARAMS_TEXT = ("by kind: " + "; ".join(f"`{kind}` {{{', '.join(keys)}}}"
                                       for kind, keys in KINDS.items())
               + ". worker null means any worker; durations in seconds, never negative;"
                 " limit is \"wait\" or \"run\"")


def schemas():
    """AlertRule (an answer), the bodies that create and change one, and an acknowledgement."""
    body = {
        "name": {"type": "string", "minLength": 1, "maxLength": 80},
        "kind": {"type": "string", "enum": list(KINDS)},
        "params": {"type": "object", "description": PARAMS_TEXT},
        "emails": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
        "webhook_url": {**parts.NULLABLE_TEXT, "description": "an http:// or https:// URL"},
        "webhook_secret": {**parts.NULLABLE_TEXT,
                           "description": "required with webhook_url; signs each body"
                                          " (X-Dashboard-Signature: sha256=<hex HMAC-SHA256>);"
                                          " never answered back"},
        "enabled": {"type": "boolean"},
    }
    answer = {
        "id": {"type": "integer", "minimum": 1}, **body,
        "webhook_secret": {"type": "string", "nullable": True, "enum": [None],
                           "description": "always null: the secret is never answered"},
        "webhook_secret_set": {"type": "boolean"},
        "state": {"type": "string", "enum": ["ok", "firing", "acknowledged"]},
        "since": {"type": "string", "format": "date-time"},
        "acknowledged_until": parts.NULLABLE_TIME, "acknowledged_by": parts.NULLABLE_TEXT,
        "created_by": parts.NULLABLE_TEXT, "updated_by": parts.NULLABLE_TEXT,
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    }
    return {
        "AlertRule": {"type": "object", "required": sorted(answer), "properties": answer},
        "AlertRuleCreate": {"type": "object", "additionalProperties": False,
                            "required": ["name", "kind", "params"], "properties": body},
        "AlertRuleChange": {"type": "object", "additionalProperties": False, "properties": body,
                            "description": "any of a rule's fields; the others are kept (a"
                                           " webhook_secret left out too)"},
        "AlertAck": {"type": "object", "additionalProperties": False, "required": ["until"],
                     "properties": {"until": {**parts.NULLABLE_TIME,
                                              "description": "no notifications until then;"
                                                             " null lifts it"}}},
    }


def paths():
    """GET/POST /api/alerts, GET/PATCH/DELETE /api/alerts/{rule_id}, POST .../ack."""
    rid = {"name": "rule_id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 0}}
    one = parts.json_answer(parts.ref("AlertRule"), "the rule with its state")
    missing = {"404": parts.error("no such rule"), **AUTH_ERRORS}

    def body(name):
        return {"required": True, "content": {"application/json": {"schema": parts.ref(name)}}}
    bad = {**parts.body_errors('{"name": ..., "kind": ..., "params": {...}}'),
           "409": parts.error("another rule has this name")}
    return {
        "/api/alerts": {
            "get": {"operationId": "listAlerts", "summary": "Alert rules and their state",
                    "responses": {"200": parts.json_answer(
                        {"type": "array", "items": parts.ref("AlertRule")}, "rules"),
                        **AUTH_ERRORS}},
            "post": {"operationId": "createAlert", "summary": "Create an alert rule (admin)",
                     "requestBody": body("AlertRuleCreate"),
                     "responses": {"201": one, **bad, **AUTH_ERRORS}},
        },
        "/api/alerts/{rule_id}": {
            "get": {"operationId": "getAlert", "summary": "One alert rule", "parameters": [rid],
                    "responses": {"200": one, **missing}},
            "patch": {"operationId": "updateAlert", "summary": "Change an alert rule (admin)",
                      "parameters": [rid], "requestBody": body("AlertRuleChange"),
                      "responses": {"200": one, **bad, **missing}},
            "delete": {"operationId": "deleteAlert", "summary": "Delete a rule and its history"
                                                                " (admin)",
                       "parameters": [rid],
                       "responses": {"204": {"description": "deleted"}, **missing}},
        },
        "/api/alerts/{rule_id}/ack": {
            "post": {"operationId": "ackAlert",
                     "summary": "Acknowledge a rule until a time (operator)",
                     "parameters": [rid], "requestBody": body("AlertAck"),
                     "responses": {"200": one,
                                   **parts.body_errors('{"until": "2026-12-07T18:00:00Z"}'),
                                   **missing}},
        },
    }
