"""Words the pages show for values the service stores in English: statuses, roles, and the
phrases static/*.js writes itself. The stored values (and every data-* attribute) stay English."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

STATUSES = {
    "unassigned": _l("unassigned"), "pending": _l("pending"), "running": _l("running"),
    "success": _l("success"), "failure": _l("failure"), "timeout": _l("timeout"),
    "killed": _l("killed"),
}
# The list's sort orders (dashboard/requests/listing.py Filters.SORTS), as the form shows them.
SORTS = (_l("newest first"), _l("oldest first"), _l("longest run first (finished requests only)"))
# A request's timeline steps (dashboard/requests/timeline.py kinds).
STEPS = {"submitted": _l("submitted"), "retried": _l("retried"), "audit": _l("audit"),
         "claimed": _l("claimed"), "started": _l("started"), "redelivered": _l("redelivered"),
         "progress": _l("progress"), "finished": _l("finished"), "killed": _l("killed"),
         "notified": _l("notified"), "rerun": _l("re-run")}
# Worker and process actions as the notices name them.
ACTIONS = {"pause": _l("pause"), "resume": _l("resume"), "grow": _l("grow"),
           "shrink": _l("shrink"), "restart": _l("restart"), "shutdown": _l("shut down"),
           "start": _l("start"), "stop": _l("stop")}
FILE_RULES = {"required": _l("a file is required"), "optional": _l("a file is optional"),
              "none": _l("no file")}
ROLES = {"viewer": _l("viewer"), "operator": _l("operator"), "admin": _l("admin")}
# "Why isn't it running?": the reasons' codes (dashboard/requests/why.py) as a heading.
WHY = {
    "dispatcher_down": _l("dispatcher down"), "broker_down": _l("broker down"),
    "no_consumers": _l("no consumers"), "workers_paused": _l("workers paused"),
    "all_busy": _l("all busy"), "backlog": _l("backlog"), "retry_backoff": _l("retry backoff"),
    "job_type_paused": _l("job type paused"), "concurrency_limit": _l("concurrency limit"),
    "rate_limit": _l("rate limit"),
}
# Flask-WTF's reasons for a failed CSRF check (security.py translates them by their text).
CSRF_REASONS = (_l("The CSRF token is missing."), _l("The CSRF session token is missing."),
                _l("The CSRF token is invalid."), _l("The CSRF token has expired."),
                _l("The CSRF tokens do not match."))
# HTTP errors raised without a reason of ours (an unknown URL, a wrong method, ...).
HTTP_ERRORS = {
    400: _l("The request could not be understood."), 401: _l("Sign in to see this page."),
    403: _l("You may not do this."), 404: _l("There is no such page."),
    405: _l("This address does not take that method."), 413: _l("The upload is too large."),
    429: _l("too many requests"), 500: _l("Internal error: it has been logged."),
    503: _l("The service is not available; try again in a moment."),
}


def http_error(exc):
    """An HTTPException's reason: ours as given, Werkzeug's stock one in the reader's words."""
    if exc.description and exc.description != type(exc).description:
        return exc.description
    return str(HTTP_ERRORS.get(exc.code, exc.name))


def status_label(status):
    """A request status in the reader's language (unknown values as they are)."""
    return str(STATUSES.get(str(status), status))


def step_label(kind):
    """A timeline step's kind in words."""
    return str(STEPS.get(kind, kind))


def action_label(action):
    """A worker or process action in words."""
    return str(ACTIONS.get(action, action))


def file_rule_label(rule):
    """A job type's file rule ('required', 'optional', 'none') in words."""
    return str(FILE_RULES.get(rule, rule))


def role_label(role):
    """A role in the reader's language."""
    return str(ROLES.get(role, role))


def why_label(code):
    """A reason's code in words."""
    return str(WHY.get(code, code.replace("_", " ")))


def ui_words():
    """The phrases static/*.js writes into the page, in the reader's language."""
    return {
        "just_now": _("just now"), "s_ago": _("%(n)s s ago", n="{n}"),
        "min_ago": _("%(n)s min ago", n="{n}"), "h_ago": _("%(n)s h ago", n="{n}"),
        "d_ago": _("%(n)s d ago", n="{n}"),
        "dark_on": _("Dark theme: on"), "dark_off": _("Dark theme: off"),
        "copy": _("Copy"), "copied": _("Copied"),
        "no_file": _("No file chosen."), "chosen": _("Chosen: %(name)s (%(size)s)", name="{name}",
                                                      size="{size}"),
        "of_mb": _("%(pct)s %% · %(loaded)s of %(total)s MB", pct="{pct}", loaded="{loaded}",
                   total="{total}"),
        "checking": _("%(pct)s %% · uploaded; the server is checking the file…", pct=100),
        "submitted_as": _("Submitted as request #%(id)s; opening its page…", id="{id}"),
        "not_submitted": _("Not submitted: %(why)s", why="{why}"),
        "unreachable": _("Not submitted: the server could not be reached."),
        "error_n": _("Error %(status)s", status="{status}"),
        "lost": _("The server cannot be reached. Retrying…"),
        "back": _("Connection to the server is back."),
        "pick_first": _("Select at least one request first."),
        **{f"{verb}_{form}": _bulk_question(verb, count) for verb in ("kill", "retry")
           for form, count in (("1", 1), ("n", 2))},
    }


def _bulk_question(verb, count):
    """The bulk form's confirmation for `count` requests, with {n} for the number."""
    if verb == "kill":
        return ngettext("Kill %(n)s request?", "Kill %(n)s requests?", count, n="{n}")
    return ngettext("Retry %(n)s request?", "Retry %(n)s requests?", count, n="{n}")


def init_app(app):
    """The helpers above in every template."""
    app.jinja_env.globals.update(status_label=status_label, role_label=role_label,
                                 why_label=why_label, ui_words=ui_words,
                                 file_rule_label=file_rule_label)
    app.jinja_env.filters.update(step_label=step_label)
