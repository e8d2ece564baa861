"""The OpenAPI 3.0 description of the JSON API: /api/openapi.json."""
import copy

from dashboard import jobs
from dashboard.lifecycle import Status
from dashboard.requests import listing
from dashboard.schedules.manage import MAX_EVERY_S, MIN_EVERY_S
from dashboard.web.openapi import alerts, job_types, operations, volumes
from dashboard.web.openapi import parts as parts

STATUSES = [s.value for s in Status]
# A time filter: ISO-8601, or empty (not filtered, as an empty datetime-local field sends).
EMPTY_OR_TIME = f"^$|{listing.TIME_PATTERN}"
NULLABLE_TEXT, NULLABLE_TIME = parts.NULLABLE_TEXT, parts.NULLABLE_TIME
_ref, _json, _error = parts.ref, parts.json_answer, parts.error
_body_errors, _int_query = parts.body_errors, parts.int_query


AUTH_ERRORS = {"401": _error("not signed in and no valid bearer token"),
               "403": _error("signed in, but the role does not allow this")}


def _schemas():
    """Component schemas: request object, attempt, list, worker, error."""
    request_props = {
        "id": {"type": "integer", "minimum": 1},
        "job_type": {"type": "string"},
        "status": {"type": "string", "enum": STATUSES},
        "attempt": {"type": "integer", "minimum": 1},
        "task_id": NULLABLE_TEXT,
        "worker": NULLABLE_TEXT,
        "params": {"type": "object", "description": "validated parameters, defaults filled in"},
        "filename": {**NULLABLE_TEXT, "description": "uploaded file's name, sanitized"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "priority": {"type": "integer", "minimum": -10, "maximum": 10,
                     "description": "fixed at submit; the dispatcher starts higher first,"
                                    " then oldest"},
        "result": {"nullable": True, "description": "the job's result (JSON), once successful"},
        "error": NULLABLE_TEXT,
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": NULLABLE_TIME,
        "finished_at": NULLABLE_TIME,
        "flower_task_url": NULLABLE_TEXT,
        "parent_id": {"type": "integer", "nullable": True,
                      "description": "the request this one is a re-run of"},
        "schedule": {**NULLABLE_TEXT, "description": "the schedule that made it (its name)"},
        "scheduled_for": {**NULLABLE_TIME, "description": "its fire time; null for a manual"
                          " run and for requests no schedule made"},
    }
    attempt_props = {
        "number": {"type": "integer", "minimum": 1},
        "task_id": NULLABLE_TEXT,
        "status": {"type": "string", "enum": STATUSES},
        "worker": NULLABLE_TEXT,
        "triggered_by": {"type": "string", "description": "a username, or `auto`"},
        "queued_at": NULLABLE_TIME, "started_at": NULLABLE_TIME, "finished_at": NULLABLE_TIME,
        "error": NULLABLE_TEXT, "traceback": NULLABLE_TEXT,
    }
    with_attempts = copy.deepcopy(request_props)
    with_attempts["attempts"] = {"type": "array", "items": _ref("Attempt"),
                                 "description": "newest first"}
    return {
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
                  "properties": {"error": {"type": "string", "minLength": 1}}},
        "Request": {"type": "object", "required": list(request_props),
                    "additionalProperties": False, "properties": request_props},
        "RequestWithAttempts": {"type": "object", "required": list(with_attempts),
                                "additionalProperties": False, "properties": with_attempts},
        "Attempt": {"type": "object", "required": list(attempt_props),
                    "additionalProperties": False, "properties": attempt_props},
        "RequestList": {
            "type": "object", "required": ["items", "next"], "additionalProperties": False,
            "properties": {"items": {"type": "array", "items": _ref("Request")},
                           "next": {"type": "string", "pattern": "^[0-9]+$", "nullable": True,
                                    "description": "pass as `after` for the next page"}}},
        **operations.schemas(),  # Worker, Process, Why
        **job_types.schemas(),  # JobType, JobTypeLimits, JobTypeChange
        "Stats": {
            "type": "object",
            "required": ["window", "buckets", "running", "queue_depth", "workers_online",
                         "oldest_waiting_s", "durations"],
            "properties": {
                "window": {"type": "string", "enum": ["1h", "24h"]},
                "buckets": {"type": "array", "items": {
                    "type": "object", "required": ["t", "success", "failure", "timeout", "killed"],
                    "properties": {"t": {"type": "string", "format": "date-time"},
                                   **{o: {"type": "integer", "minimum": 0} for o in
                                      ("success", "failure", "timeout", "killed")}}}},
                "running": {"type": "integer"},
                "queue_depth": {"type": "integer", "description": "requests unassigned or pending"},
                "workers_online": {"type": "integer"},
                "oldest_waiting_s": {"type": "number", "nullable": True},
                "durations": {"type": "object", "additionalProperties": {
                    "type": "object", "required": ["p50", "p95", "count"],
                    "properties": {"p50": {"type": "number", "nullable": True},
                                   "p95": {"type": "number", "nullable": True},
                                   "count": {"type": "integer"}}}},
                "sla_breaches": {"type": "object", "additionalProperties": {"type": "integer"}},
            }},
        **_story_schemas(),
        **_schedule_schemas(),
        **alerts.schemas(),
        **volumes.schemas(),  # Volume, VolumeValue
        "Retried": {"type": "object", "required": ["retried"], "additionalProperties": False,
                    "properties": {"retried": {"type": "integer", "minimum": 0}}},
    }


def _schedule_schemas():
    """A schedule (an operator's or a built-in one) and the body that creates or changes one."""
    timing = {
        "cron": {**NULLABLE_TEXT, "description": "five fields; or every_s"},
        "every_s": {"type": "number", "nullable": True, "minimum": 5},
        "timezone": {"type": "string", "description": "IANA name, default UTC"},
        "enabled": {"type": "boolean"},
        "catch_up": {"type": "string", "enum": ["skip", "once"], "nullable": True},
    }
    props = {
        "id": {"description": "a number; a built-in task's id is its name"},
        "name": {"type": "string"}, "builtin": {"type": "boolean"},
        "job_type": NULLABLE_TEXT, "params": {"type": "object", "nullable": True},
        **timing,
        "words": {"type": "string", "description": "the timing in words"},
        "next_runs": {"type": "array", "items": {"type": "string", "format": "date-time"},
                      "maxItems": 5},
        "last_run_at": NULLABLE_TIME,
        "last_request_id": {"type": "integer", "nullable": True},
        "last_status": {"type": "string", "enum": STATUSES, "nullable": True},
        "created_by": NULLABLE_TEXT, "updated_by": NULLABLE_TEXT,
    }
    body = {"name": {"type": "string", "minLength": 1, "maxLength": 80},
            "job_type": {"type": "string", "enum": sorted(
                n for n, j in jobs.REGISTRY.items() if j.file != "required")},
            "params": {"type": "object", "description": "the job type's params; default {}"},
            "cron": {"type": "string", "nullable": True,
                     "description": "five fields in `timezone`; null: timed by every_s"},
            "every_s": {"type": "integer", "nullable": True, "minimum": MIN_EVERY_S,
                        "maximum": MAX_EVERY_S, "description": "seconds; null: timed by cron"},
            "timezone": {"type": "string", "nullable": True, "description":
                         "IANA name the cron is read in; null or empty: UTC"},
            "enabled": {"type": "boolean", "description": "default true"},
            "catch_up": {"type": "string", "enum": ["skip", "once"], "nullable": True,
                         "description": "after beat was down: skip the missed fire times, or"
                                        " fire once for them; null: skip"}}
    return {
        "Schedule": {"type": "object", "required": list(props), "properties": props},
        "ScheduleCreate": {"type": "object", "additionalProperties": False, "properties": body,
                           "required": ["name", "job_type"],
                           "anyOf": [{"required": ["cron"]}, {"required": ["every_s"]}],
                           "description": "a new schedule: name, job_type, and exactly one"
                                          " of cron and every_s"},
        "ScheduleChange": {"type": "object", "additionalProperties": False, "properties": body,
                           "description": "any of a schedule's fields; the others are kept"
                                          " (giving cron clears every_s, and the other way)"},
    }


def _schedule_paths():
    """/api/schedules: operators' schedules and the built-in ones."""
    sid = {"name": "schedule_id", "in": "path", "required": True,
           "schema": {"type": "string"}, "description": "a schedule's id, or a built-in name"}
    one = _json(_ref("Schedule"), "the schedule")

    def body(name):
        return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}
    bad = {**_body_errors('{"name": ..., "job_type": ..., "cron": ...}'),
           "409": _error("the name is in use, or a built-in task (read-only)")}
    missing = {"404": _error("no such schedule"), **AUTH_ERRORS}
    return {
        "/api/schedules": {
            "get": {"operationId": "listSchedules", "summary": "Schedules and built-in tasks",
                    "responses": {"200": _json({"type": "array", "items": _ref("Schedule")},
                                               "schedules"), **AUTH_ERRORS}},
            "post": {"operationId": "createSchedule", "summary": "Create a schedule",
                     "requestBody": body("ScheduleCreate"),
                     "responses": {"201": one, **bad, **AUTH_ERRORS}},
        },
        "/api/schedules/{schedule_id}": {
            "get": {"operationId": "getSchedule", "summary": "One schedule", "parameters": [sid],
                    "responses": {"200": one, **missing}},
            "patch": {"operationId": "updateSchedule", "summary": "Change a schedule",
                      "parameters": [sid], "requestBody": body("ScheduleChange"),
                      "responses": {"200": one, **bad, **missing}},
            "delete": {"operationId": "deleteSchedule", "summary": "Delete a schedule",
                       "parameters": [sid],
                       "responses": {"204": {"description": "deleted"},
                                     "409": _error("a built-in task (read-only)"), **missing}},
        },
        "/api/schedules/{schedule_id}/run": {
            "post": {"operationId": "runSchedule", "summary": "Run now (a manual request)",
                     "parameters": [sid],
                     "responses": {"201": _json(_ref("Request"), "the request it made"),
                                   "409": _error("a built-in task (read-only)"), **missing}},
        },
    }
def _submit_body():
    """The multipart (or urlencoded) form of POST /api/requests."""
    kinds = "; ".join(f"`{name}` (file: {job.file})" for name, job in sorted(jobs.REGISTRY.items()))
    form = {
        "type": "object", "required": ["job_type"],
        "properties": {
            "job_type": {"type": "string", "enum": sorted(jobs.REGISTRY),
                         "description": "one of the registered job types: " + kinds},
            "params": {"type": "string", "description": "a JSON object as text, validated"
                       " against the job type's schema (see x-job-types); empty means {}"},
            "file": {"type": "string", "format": "binary",
                     "description": "the input file (kept in PostgreSQL in chunks)"},
            "priority": {"type": "string", "pattern": "^ *-?[0-9]+ *$",
                         "description": "an integer from -10 to 10: the dispatcher starts"
                         " higher first, then oldest; empty or absent: the job type's"
                         " current priority"},
        },
    }
    urlencoded = copy.deepcopy(form)
    del urlencoded["properties"]["file"]
    return {"required": True, "content": {"multipart/form-data": {"schema": form},
                                          "application/x-www-form-urlencoded": {
                                              "schema": urlencoded}}}


def _id_param():
    """The {request_id} path parameter."""
    return {"name": "request_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 0}}


# The parameter filters are a family of query names, which a parameter list cannot name.
PARAM_FILTERS = ("Also `param.<name>=<value>` (repeatable, all must match): a top-level"
                 " parameter's value, a JSON number when written as one, `true`/`false` as"
                 " booleans, otherwise the string as written; a name is 1-64 of"
                 " [A-Za-z0-9_.-] (422 naming it otherwise, or when one name has two"
                 " values).")


def _paths():
    """Every endpoint of the JSON API."""
    filters = [  # an empty value means "any" (what the list page's filter form sends)
        {"name": "status", "in": "query",
         "schema": {"type": "string", "enum": [""] + STATUSES}},
        {"name": "job_type", "in": "query",
         "schema": {"type": "string", "enum": [""] + sorted(jobs.REGISTRY)}},
        {"name": "q", "in": "query", "schema": {"type": "string"},
         "description": "request id, task id, submitter or file name (first 200 characters)"},
        {"name": "worker", "in": "query", "schema": {"type": "string"},
         "description": "the worker's hostname, exactly (e.g. worker1@host)"},
        {"name": "submitted_by", "in": "query", "schema": {"type": "string"},
         "description": "the submitter's username, exactly"},
        {"name": "created_after", "in": "query",
         "schema": {"type": "string", "pattern": EMPTY_OR_TIME},
         "description": "created at or after (ISO-8601; no zone: UTC; empty: not filtered,"
                        " as an empty form field sends)"},
        {"name": "created_before", "in": "query",
         "schema": {"type": "string", "pattern": EMPTY_OR_TIME},
         "description": "created before (ISO-8601; no zone: UTC; empty: not filtered);"
                        " not before created_after"},
        {"name": "error", "in": "query", "schema": {"type": "string"},
         "description": "text anywhere in the request's error, any case (first 200 characters)"},
    ]
    sort = [{"name": "sort", "in": "query",
             "schema": {"type": "string", "enum": [""] + list(listing.Filters.SORTS),
                        "default": listing.Filters.DEFAULT_SORT},
             "description": "; ".join(f"{k}: {v[0]}" for k, v in listing.Filters.SORTS.items())
             + "; empty: the default; `after` keeps the sort"}]
    page = [_int_query("limit", 1, 500, "requests a page", default=50),
            {"name": "after", "in": "query",
             "schema": {"type": "string", "pattern": "^$|^[0-9]{1,18}$"},
             "description": "the previous page's `next` (empty: not given)"}]
    action = {"404": _error("no such request"), **AUTH_ERRORS}
    public = []
    return {
        **operations.paths(AUTH_ERRORS, _id_param()),
        **job_types.paths(AUTH_ERRORS),
        "/api/requests": {
            "post": {"operationId": "submitRequest", "summary": "Submit a request",
                     "parameters": [{
                         "name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                    "pattern": "^[ -~]{1,200}$"},
                         "description": "1-200 printable ASCII characters: a repeat from"
                                        " the same user within IDEMPOTENCY_TTL_H hours"
                                        " answers 200 with the request the key created;"
                                        " concurrent repeats store one request"}],
                     "requestBody": _submit_body(),
                     "responses": {"201": _json(_ref("Request"), "stored as `unassigned`"),
                                   "200": _json(_ref("Request"), "a repeat of an"
                                                " Idempotency-Key: the request it created"),
                                   "409": _error("the Idempotency-Key's request has another"
                                                 " job type, params or file"),
                                   "400": _error("not a form, or no job_type"),
                                   "413": _error("file over MAX_UPLOAD_MB or params over 1 MB"),
                                   "422": _error("bad job type, params, file, priority"
                                                 " or Idempotency-Key; nothing stored"),
                                   **AUTH_ERRORS}},
            "get": {"operationId": "listRequests", "summary": "List requests, newest first"
                    " unless sorted",
                    "description": PARAM_FILTERS,
                    "parameters": filters + sort + page,
                    "responses": {"200": _json(_ref("RequestList"), "a page of requests"),
                                  "422": _error("a bad filter value, named"), **AUTH_ERRORS}},
        },
        "/api/requests/{request_id}": {
            "get": {"operationId": "getRequest", "summary": "One request with its attempts",
                    "parameters": [_id_param()],
                    "responses": {"200": _json(_ref("RequestWithAttempts"), "the request"),
                                  "404": _error("no such request"), **AUTH_ERRORS}},
        },
        **volumes.paths(AUTH_ERRORS, _id_param()),
        "/api/requests/{request_id}/retry": {
            "post": {"operationId": "retryRequest", "summary": "Retry as a new attempt",
                     "parameters": [_id_param()],
                     "responses": {"202": _json(_ref("Request"), "queued again"),
                                   "409": _error("not failure, timeout or killed"), **action}},
        },
        "/api/requests/{request_id}/kill": {
            "post": {"operationId": "killRequest", "summary": "Kill an active request",
                     "parameters": [_id_param()],
                     "responses": {"202": _json(_ref("Request"), "killed"),
                                   "409": _error("already finished"), **action}},
        },
        "/api/requests/retry-failed": {
            "post": {"operationId": "retryFailed", "summary": "Retry every failed request",
                     "description": PARAM_FILTERS,
                     "parameters": filters[1:],
                     "responses": {"200": _json(_ref("Retried"), "how many were retried"),
                                   "422": _error("an unknown filter value"), **AUTH_ERRORS}},
        },
        **_story_paths(action),
        "/api/workers": {
            "get": {"operationId": "listWorkers", "summary": "Workers seen by the broker",
                    "responses": {"200": _json({"type": "array", "items": _ref("Worker")},
                                               "workers"), **AUTH_ERRORS}},
        },
        **_schedule_paths(),
        **alerts.paths(),
        "/api/stats": {
            "get": {"operationId": "stats", "summary": "Finished per minute/hour, running, waiting",
                    "parameters": [{"name": "window", "in": "query",
                                    "schema": {"type": "string", "enum": ["", "1h", "24h"],
                                               "default": "1h"},
                                    "description": "empty: not given (1h)"}],
                    "responses": {"200": _json(_ref("Stats"), "the overview numbers"),
                                  "422": _error("window is not 1h or 24h"), **AUTH_ERRORS}},
        },
        "/api/openapi.json": {
            "get": {"operationId": "openapi", "summary": "This description",
                    "security": public,
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")}},
        },
        "/healthz": {
            "get": {"operationId": "healthz", "summary": "Liveness", "security": public,
                    "responses": {"200": _json({"type": "object"}, "the process is up")}},
        },
        "/readyz": {
            "get": {"operationId": "readyz", "summary": "Readiness", "security": public,
                    "responses": {"200": _json({"type": "object"}, "PostgreSQL and RabbitMQ"
                                               " answer"),
                                  "503": _json({"type": "object"}, "a dependency is down")}},
        },
        "/metrics": {
            "get": {"operationId": "metrics", "summary": "Prometheus metrics",
                    "security": public,
                    "responses": {"200": {"description": "Prometheus text format",
                                          "content": {"text/plain": {
                                              "schema": {"type": "string"}}}}}},
        },
    }


def _story_schemas():
    """A request's story: timeline, log lines, bulk answers."""
    line = {"at": {"type": "string", "format": "date-time"}, "level": {"type": "string"},
            "attempt": {"type": "integer", "minimum": 1}, "message": {"type": "string"}}
    item = {"at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
            "attempt": {"type": "integer", "minimum": 1}, "by": NULLABLE_TEXT,
            "detail": {"type": "string"}}
    return {
        "Timeline": {"type": "object", "required": ["items"], "additionalProperties": False,
                     "properties": {"items": {"type": "array", "items": {
                         "type": "object", "required": list(item), "properties": item,
                         "description": "plus the facts it states (worker, pid, status,"
                                        " seconds, error, address, ...)"}}}},
        "LogLines": {"type": "object", "required": ["items", "next"],
                     "additionalProperties": False,
                     "properties": {"items": {"type": "array", "items": {
                         "type": "object", "required": list(line), "additionalProperties": False,
                         "properties": line}},
                         "next": {"type": "string", "pattern": "^[0-9]+$",
                                  "description": "pass as `after` to get the lines after these"}}},
        "BulkResult": {"type": "object", "required": ["done", "refused"],
                       "additionalProperties": False, "properties": {
                           "done": {"type": "array", "items": {"type": "integer"}},
                           "refused": {"type": "array", "items": {
                               "type": "object", "required": ["id", "reason"],
                               "additionalProperties": False,
                               "properties": {"id": {"type": "integer"},
                                              "reason": {"type": "string"}}}}}},
    }


def _story_paths(action):
    """Timeline, logs, re-run and bulk endpoints."""
    rerun_json = {"type": "object", "properties": {"params": {
        "type": "object", "nullable": True,
        "description": "the new params; absent or null: the parent's"}}}
    rerun_form = {"type": "object", "properties": {
        "params": {"type": "string", "description": "JSON object as text; empty: the parent's"},
        "file": {"type": "string", "format": "binary",
                 "description": "a new file; without it the parent's file is reused"}}}
    return {
        "/api/requests/{request_id}/timeline": {
            "get": {"operationId": "requestTimeline", "summary": "Every step, in time order",
                    "parameters": [_id_param()],
                    "responses": {"200": _json(_ref("Timeline"), "the timeline"),
                                  "404": _error("no such request"), **AUTH_ERRORS}},
        },
        "/api/requests/{request_id}/logs": {
            "get": {"operationId": "requestLogs", "summary": "The job's log lines, paged",
                    "parameters": [
                        _id_param(),
                        _int_query("attempt", 1, 2 ** 31 - 1, "only this attempt's lines"),
                        _int_query("after", 0, 10 ** 18 - 1, "the previous answer's `next`"),
                        {"name": "level", "in": "query", "schema": {
                            "type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR",
                                                       "CRITICAL"]},
                         "description": "the lowest level shown"},
                        _int_query("limit", 1, 1000, "lines a page", default=500)],
                    "responses": {"200": _json(_ref("LogLines"), "lines, oldest first"),
                                  "404": _error("no such request"),
                                  "422": _error("a bad query value"), **AUTH_ERRORS}},
        },
        "/api/requests/{request_id}/rerun": {
            "post": {"operationId": "rerunRequest",
                     "summary": "A new request like this finished one, with changed params",
                     "parameters": [_id_param()],
                     "requestBody": {"required": False, "description":
                                     "no body, `{}` or an empty form: the parent's params"
                                     " and file, as a plain re-run", "content": {
                                         "application/json": {"schema": rerun_json},
                                         "multipart/form-data": {"schema": rerun_form}}},
                     "responses": {"201": _json(_ref("Request"), "the new request (parent_id)"),
                                   **_body_errors('{"params": {...}}'),
                                   "409": _error("the request is not finished"),
                                   "413": _error("the new file is over MAX_UPLOAD_MB"),
                                   "422": _error("bad params or file; nothing stored"),
                                   **action}},
        },
        "/api/requests/bulk": {
            "post": {"operationId": "bulkAction", "summary": "Retry or kill many requests",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["action", "ids"],
                                    "properties": {
                                        "action": {"type": "string", "enum": ["retry", "kill"]},
                                        "ids": {"type": "array", "minItems": 1,
                                                "maxItems": 1000, "items": {
                                                    "type": "integer", "minimum": 1,
                                                    "maximum": 2 ** 63 - 1}}}}}}},
                     "responses": {"200": _json(_ref("BulkResult"), "each id done or refused"),
                                   **_body_errors('{"action": "retry", "ids": [1, 2]}'),
                                   "413": _error("more than 1000 ids"),
                                   "422": _error("an unknown action or a bad id"),
                                   **AUTH_ERRORS}},
        },
        "/api/requests/batch": {
            "post": {"operationId": "submitBatch", "summary": "Submit many parameter-only"
                     " requests in one transaction: all stored, or none",
                     "parameters": [{
                         "name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                    "pattern": "^[ -~]{1,200}$"},
                         "description": "1-200 printable ASCII characters: a repeat from"
                                        " the same user within IDEMPOTENCY_TTL_H hours"
                                        " answers 200 with the ids the key's batch"
                                        " created; concurrent repeats store one batch"}],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["requests"],
                                    "additionalProperties": False, "properties": {
                                        "requests": {"type": "array", "minItems": 1,
                                                     "maxItems": 1000, "items": {
                                                         "type": "object",
                                                         "required": ["job_type"],
                                                         "additionalProperties": False,
                                                         "properties": {
                                                             "job_type": {"type": "string"},
                                                             "params": {"type": "object"},
                                                             "priority": {
                                                                 "type": "integer",
                                                                 "minimum": -10,
                                                                 "maximum": 10}}}}}}}}},
                     "responses": {"201": _json({"type": "object", "required": ["ids"],
                                                 "properties": {"ids": {
                                                     "type": "array",
                                                     "items": {"type": "integer"}}}},
                                                "the new requests' ids, in the given order,"
                                                " each stored as `unassigned`"),
                                   "200": _json({"type": "object", "required": ["ids"],
                                                 "properties": {"ids": {
                                                     "type": "array",
                                                     "items": {"type": "integer"}}}},
                                                "a repeat of an Idempotency-Key: the ids"
                                                " its batch created"),
                                   "409": _error("the Idempotency-Key's batch (or request)"
                                                 " had other job types or params, or"
                                                 " another priority where the repeat"
                                                 " gives one"),
                                   **_body_errors('{"requests": [{"job_type": "simulate",'
                                                  ' "params": {}}]}'),
                                   "413": _error("more than 1000 requests"),
                                   "422": _error("an empty list, or a bad item named by its"
                                                 " index and field (`requests[3].params.x:"
                                                 " ...`), a job type that needs a file"
                                                 " among them; nothing stored"),
                                   **AUTH_ERRORS}},
        },
    }


def spec():
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Request dashboard API", "version": "1",
                 "description": "Submit, list, retry and kill requests. Authenticate with"
                                " `Authorization: Bearer <token>` (`flask users token NAME`)"
                                " or a signed-in browser session (then with an X-CSRFToken"
                                " header on POST). viewer reads; operator also submits,"
                                " retries, kills."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "x-job-types": {name: {"title": job.title, "file": job.file, "params": job.schema}
                        for name, job in sorted(jobs.REGISTRY.items())},
    }
