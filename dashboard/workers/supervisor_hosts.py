"""Processes on every host: the supervisord of each SUPERVISORS entry, grouped for the page.

SUPERVISORS lists `name=url` pairs (dashboard/config.py parses them): supervisord's
XML-RPC over HTTP with a user name and password (its [inet_http_server]), or
`local` for this host's socket. Without it the processes page shows this host's
supervisord alone, as before. A host that does not answer, or refuses the
credentials, is shown with the reason; the others are listed all the same.
"""
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from flask_babel import gettext as _

from dashboard.errors import Refused
from dashboard.workers import supervisor


def configured():
    """The SUPERVISORS entries: [(name, url, username, password)]; [] when not set."""
    return current_app.config.get("SUPERVISORS") or []


def find(name):
    """The entry named `name`; Refused 404 naming the setting when there is none."""
    for entry in configured():
        if entry[0] == name:
            return entry
    raise Refused(_("host: no supervisor named %(name)r in SUPERVISORS", name=name), 404)


def shown(entry):
    """Where a host's supervisord is, for operators (never its password)."""
    return _("this host's socket") if entry[1] == "local" else entry[1]


def problem(exc):
    """Why a host's processes cannot be listed, in one line."""
    if isinstance(exc, supervisor.WrongCredentials):
        return _("supervisord refused the user name and password given in SUPERVISORS")
    return str(exc)


def _ask(app, name):
    """(programs, None) of host `name`, or ([], the NoSupervisor) when it cannot say."""
    with app.app_context():
        try:
            return supervisor.processes(name), None
        except supervisor.NoSupervisor as exc:
            return [], exc


def overview():
    """[{host, where, processes, problem}] of every configured host, asked in parallel (each
    waits at most supervisor.TIMEOUT_S), in the order SUPERVISORS lists them."""
    entries = configured()
    if not entries:
        return []
    app = current_app._get_current_object()
    with ThreadPoolExecutor(max_workers=min(8, len(entries))) as pool:
        answers = list(pool.map(lambda entry: _ask(app, entry[0]), entries))
    return [{"host": entry[0], "where": shown(entry), "processes": rows,
             "problem": problem(exc) if exc else None}
            for entry, (rows, exc) in zip(entries, answers)]
