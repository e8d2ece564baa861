"""The OpenAPI part for worker and process operations and "why"."""

from dashboard.web.openapi.parts import NULLABLE_INT, NULLABLE_TIME, body_errors
from dashboard.web.openapi.parts import error as _error
from dashboard.web.openapi.parts import json_answer as _json
from dashboard.web.openapi.parts import ref as _ref


def schemas():
    """Worker (the fields of /api/workers), Process, Why."""
    worker = {
        "name": {"type": "string"},
        "host": {"type": "string", "nullable": True,
                 "description": "the machine it runs on (its name after @)"},
        "state": {"type": "string", "enum": ["online", "paused", "offline"]},
        "online": {"type": "boolean"},
        "pid": NULLABLE_INT, "uptime_s": NULLABLE_INT,
        "concurrency": {**NULLABLE_INT, "description": "pool processes now"},
        "autoscale": {"type": "array", "items": {"type": "integer"}, "nullable": True,
                      "description": "[max, min] when autoscaling"},
        "prefetch": NULLABLE_INT, "processed": NULLABLE_INT,
        "queues": {"type": "array", "items": {"type": "string"}},
        "active": {"type": "array", "items": {
            "type": "object", "required": ["request_id", "task_id", "started_at"],
            "properties": {"request_id": NULLABLE_INT, "task_id": {"type": "string"},
                           "started_at": NULLABLE_TIME, "pid": NULLABLE_INT,
                           "batch": {"type": "string", "nullable": True,
                                     "description": "the task id of the batch message it"
                                                    " shares (short requests), or null"}}}},
        "last_heartbeat": {**NULLABLE_TIME, "description": "the worker's own latest heartbeat"
                           " (its clock), as it reported it; null for a worker without events"
                           " or not seen by this process"},
        "last_seen": {**NULLABLE_TIME, "description": "when this web process last had an answer"
                      " from the worker: its latest inspection while it answers, its last"
                      " answer once offline; null when it has not answered this process"},
        "flower_url": {"type": "string"},
        "pause": {"type": "object", "nullable": True,
                  "description": "the stored pause that applies (kept across restarts), or null",
                  "required": ["by", "at", "everyone"],
                  "properties": {"by": {"type": "string"}, "at": {"type": "string",
                                                                   "format": "date-time"},
                                 "everyone": {"type": "boolean",
                                              "description": "from pause everything"}}},
    }
    reason = {"type": "object", "required": ["code", "message"],
              "properties": {"code": {"type": "string", "enum": [
                  "dispatcher_down", "broker_down", "no_consumers", "workers_paused",
                  "all_busy", "backlog", "retry_backoff", "job_type_paused",
                  "concurrency_limit", "rate_limit"]},
                  "message": {"type": "string"},
                  "running": {"type": "integer", "description": "concurrency_limit: pending +"
                              " running requests of the job type"},
                  "max_running": {"type": "integer", "description": "concurrency_limit"},
                  "ids": {"type": "array", "items": {"type": "integer"},
                          "description": "concurrency_limit: those requests (at most 50)"},
                  "rate_per_min": {"type": "integer", "description": "rate_limit"},
                  "next_slot_at": {"type": "string", "format": "date-time", "nullable": True,
                                   "description": "rate_limit: when the next request may"
                                                  " start (null: a rate of 0)"}}}
    return {
        "Worker": {"type": "object", "required": list(worker), "properties": worker},
        "Process": {"type": "object", "required": ["name", "state", "pid", "uptime_s"],
                    "properties": {"name": {"type": "string"},
                                   "state": {"type": "string", "enum": [
                                       "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING",
                                       "EXITED", "FATAL", "UNKNOWN"]},
                                   "pid": NULLABLE_INT, "uptime_s": NULLABLE_INT}},
        "Why": {"type": "object", "required": ["request_id", "status", "reasons", "queue",
                                               "running"],
                "properties": {
                    "request_id": {"type": "integer"}, "status": {"type": "string"},
                    "reasons": {"type": "array", "items": reason},
                    "queue": {"type": "object", "nullable": True,
                              "description": "the request's job type's broker queue; null"
                                             " when the broker does not answer",
                              "required": ["name", "messages", "consumers"],
                              "properties": {"name": {"type": "string"},
                                             "messages": {"type": "integer"},
                                             "consumers": {"type": "integer"}}},
                    "running": {"type": "object", "nullable": True,
                                "properties": {"worker": {"type": "string", "nullable": True},
                                               "pid": NULLABLE_INT, "since": NULLABLE_TIME}}}},
    }


def paths(auth_errors, id_param):
    """Worker actions, pause/resume all, processes, why."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    no_supervisor = _error("no process supervisor (supervisord does not answer)")
    return {
        "/api/workers/{name}/{action}": {
            "post": {"operationId": "workerAction", "summary": "Act on one worker",
                     "description": "restart and shutdown need admin",
                     "parameters": [name, {"name": "action", "in": "path", "required": True,
                                           "schema": {"type": "string", "enum": [
                                               "pause", "resume", "grow", "shrink",
                                               "restart", "shutdown"]}}],
                     "requestBody": {"required": False, "content": {"application/json": {
                         "schema": {"type": "object", "properties": {
                             "n": {"type": "integer", "minimum": 1, "maximum": 64,
                                   "default": 1}}}}}},
                     "responses": {"202": _json(_ref("Worker"), "done; the worker now"),
                                   "404": _error("no such worker or action"),
                                   "409": _error("the action makes no sense now"),
                                   **body_errors('{"n": 1}'),
                                   "422": _error("bad n, or a body that is not a JSON object"),
                                   **auth_errors}},
        },
        "/api/workers/pause-all": {
            "post": {"operationId": "pauseAllWorkers", "summary": "Every worker stops consuming",
                     "responses": {"202": _json({"type": "object"}, "answers per worker"),
                                   **auth_errors}},
        },
        "/api/workers/resume-all": {
            "post": {"operationId": "resumeAllWorkers", "summary": "Every worker consumes again",
                     "responses": {"202": _json({"type": "object"}, "answers per worker"),
                                   **auth_errors}},
        },
        "/api/processes": {
            "get": {"operationId": "listProcesses", "summary": "This host's supervisord programs",
                    "description": "With SUPERVISORS set: one entry per host listed there,"
                                   " {host, where, processes, problem} (problem: why its"
                                   " supervisord could not be asked, else null)",
                    "responses": {"200": _json({"type": "array", "items": {"oneOf": [
                        _ref("Process"),
                        {"type": "object", "required": ["host", "where", "processes", "problem"],
                         "properties": {"host": {"type": "string"}, "where": {"type": "string"},
                                        "processes": {"type": "array",
                                                      "items": _ref("Process")},
                                        "problem": {"type": "string", "nullable": True}}}]}},
                        "programs"), "503": no_supervisor,
                                  **auth_errors}},
        },
        "/api/processes/{name}/{action}": {
            "post": {"operationId": "processAction", "summary": "Start, stop or restart a program",
                     "parameters": [name, {"name": "action", "in": "path", "required": True,
                                           "schema": {"type": "string",
                                                      "enum": ["start", "stop", "restart"]}},
                                    {"name": "host", "in": "query", "required": False,
                                     "description": "a SUPERVISORS name (default: this host)",
                                     "schema": {"type": "string"}}],
                     "responses": {"202": _json(_ref("Process"), "sent"),
                                   "404": _error("no such program or action"),
                                   "409": _error("already in that state"),
                                   "503": no_supervisor, **auth_errors}},
        },
        "/api/requests/{request_id}/why": {
            "get": {"operationId": "whyRequest", "summary": "Why a request is not running yet",
                    "parameters": [id_param],
                    "responses": {"200": _json(_ref("Why"), "reasons, queue, where it runs"),
                                  "404": _error("no such request"), **auth_errors}},
        },
    }
