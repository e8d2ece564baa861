"""The OpenAPI part for job types: the list, one type, an admin's change to its limits."""

from dashboard.web.openapi.parts import NULLABLE_INT, body_errors
from dashboard.web.openapi.parts import error as _error
from dashboard.web.openapi.parts import json_answer as _json
from dashboard.web.openapi.parts import ref as _ref

PRIORITY = {"type": "integer", "minimum": -10, "maximum": 10}
LIMIT = {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1}


def schemas():
    """JobType (an entry of /api/job-types), JobTypeLimits, JobTypeChange."""
    limits = {"priority": PRIORITY,
              "max_running": {**NULLABLE_INT, "minimum": 0,
                              "description": "pending + running of the type at most; null:"
                                             " no limit"},
              "rate_per_min": {**NULLABLE_INT, "minimum": 0,
                               "description": "dispatched a minute at most; null: no limit"},
              "paused": {"type": "boolean", "description": "submits accepted, none dispatched"}}
    run_time = {"p50": {"type": "number", "nullable": True, "description": "seconds"},
                "p95": {"type": "number", "nullable": True, "description": "seconds"},
                "count": {"type": "integer", "minimum": 0}}
    entry = {
        "name": {"type": "string"}, "title": {"type": "string"},
        "description": {"type": "string"},
        "params": {"type": "object", "description": "the JSON Schema of its params"},
        "file": {"type": "string", "enum": ["none", "optional", "required"]},
        "queue": {"type": "string", "description": "the broker queue its requests go to"},
        "declared": {**_ref("JobTypeLimits"), "description": "as its package declares them"},
        "current": {**_ref("JobTypeLimits"),
                    "description": "in force: the declared ones with an admin's changes"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "its requests by status (every status)"},
        "run_time_24h": {"type": "object", "required": list(run_time), "properties": run_time,
                         "description": "run times of its requests finished in the last 24 h"},
        "workers": {"type": "array", "description": "the online workers consuming its queue",
                    "items": {"type": "object", "required": ["name", "state"], "properties": {
                        "name": {"type": "string"},
                        "state": {"type": "string", "nullable": True}}}},
    }
    change = {key: {**(PRIORITY if key == "priority" else
                       {"type": "boolean"} if key == "paused" else LIMIT), "nullable": True,
                    "description": "null: back to the declared value"}
              for key in limits}
    return {
        "JobTypeLimits": {"type": "object", "required": list(limits), "properties": limits},
        "JobType": {"type": "object", "required": list(entry), "properties": entry},
        "JobTypeChange": {"type": "object", "additionalProperties": False, "minProperties": 1,
                          "properties": change},
    }


def paths(auth_errors):
    """GET /api/job-types, GET and PATCH /api/job-types/{name}."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "a job type's name"}
    missing = _error("no such job type")
    return {
        "/api/job-types": {
            "get": {"operationId": "listJobTypes", "summary": "Every job type: declaration,"
                    " limits, counts by status, run times, the workers consuming its queue",
                    "responses": {"200": _json({"type": "array", "items": _ref("JobType")},
                                               "the job types, by name"), **auth_errors}},
        },
        "/api/job-types/{name}": {
            "get": {"operationId": "getJobType", "summary": "One job type",
                    "parameters": [name],
                    "responses": {"200": _json(_ref("JobType"), "the job type"),
                                  "404": missing, **auth_errors}},
            "patch": {"operationId": "changeJobType",
                      "summary": "Change a job type's limits (admin)",
                      "description": "Each given key is stored; null returns it to the"
                                     " declared value. In force at the next dispatch; a"
                                     " changed priority applies to requests submitted from"
                                     " then on. Audited.",
                      "parameters": [name],
                      "requestBody": {"required": True, "content": {"application/json": {
                          "schema": _ref("JobTypeChange")}}},
                      "responses": {"200": _json(_ref("JobType"), "the job type, changed"),
                                    **body_errors('{"max_running": 4}'),
                                    "404": missing, **auth_errors}},
        },
    }
