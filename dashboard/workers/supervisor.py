"""The processes of this host's supervisord, through its XML-RPC interface on the unix socket.

Supervisor's own client pieces (`supervisor.xmlrpc.SupervisorTransport` with
`xmlrpc.client`), never `supervisorctl`. The socket is SUPERVISOR_SOCKET, or
the `file` of deploy/supervisord.conf's [unix_http_server]; its username and
password are SUPERVISOR_USERNAME and SUPERVISOR_PASSWORD. Only this host's
programs are covered; a worker on another host has its own supervisor.

The programs between the browser and this panel (web, and nginx in front of it)
are never stopped from here: nothing could start them again. Their restart is
their own graceful reload (HUP: new workers start while the old ones finish
what they serve, the listening socket never closes), so the panel stays up.
"""
import configparser
import logging
import os
import threading
import xmlrpc.client

from flask import current_app
from flask_babel import gettext as _
from supervisor.xmlrpc import Faults, SupervisorTransport

from dashboard.errors import Refused

log = logging.getLogger(__name__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(ROOT, "deploy", "supervisord.conf")
RUNNING_STATES = {"RUNNING", "STARTING", "BACKOFF"}
# The programs that serve this panel, and the signal that reloads each without an outage.
FRONT_DOOR = {"web": "HUP", "nginx": "HUP"}
TIMEOUT_S = 3


class NoSupervisor(Exception):
    """No supervisord answers on the configured socket; `shown` is what operators read."""

    shown = "no process supervisor"


class _Transport(SupervisorTransport):
    """Supervisor's transport, but the answer of a refused call is closed with the connection
    (the library drops it unread, leaving its socket open until garbage collection)."""

    answer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        connect = self._get_connection  # set per instance by the library

        def connection():
            made = connect()
            made.timeout = TIMEOUT_S  # a host that does not answer: the page waits this long
            getresponse = made.getresponse

            def kept(*a, **kw):
                self.answer = getresponse(*a, **kw)
                return self.answer
            made.getresponse = kept
            return made
        self._get_connection = connection

    def close(self):
        if self.answer is not None:
            self.answer.close()
        super().close()


class WrongCredentials(NoSupervisor):
    """supervisord answers but refuses the dashboard's user name and password."""

    shown = ("supervisord refused the dashboard's credentials (SUPERVISOR_USERNAME /"
             " SUPERVISOR_PASSWORD)")


def socket_path_from_conf(path=CONF):
    """The unix socket supervisord.conf's [unix_http_server] names (%(here)s expanded)."""
    parser = configparser.RawConfigParser()
    if not parser.read(path) or not parser.has_option("unix_http_server", "file"):
        return None
    here = os.path.dirname(os.path.abspath(path))
    return os.path.normpath(parser.get("unix_http_server", "file").replace("%(here)s", here))


def socket_path():
    """SUPERVISOR_SOCKET, else the one deploy/supervisord.conf names."""
    return current_app.config.get("SUPERVISOR_SOCKET") or socket_path_from_conf()


def _where(host=None):
    """(socket path or http URL, username, password) of supervisord on `host` (a SUPERVISORS
    name; None: this host's socket, from the settings)."""
    if host is not None:
        from dashboard.workers import supervisor_hosts
        found = supervisor_hosts.find(host)
        if found[1] != "local":
            return found[1:]
    config = current_app.config
    return (socket_path(), config.get("SUPERVISOR_USERNAME") or None,
            config.get("SUPERVISOR_PASSWORD") or None)


def _call(method, *args, where=None):
    """One XML-RPC call; NoSupervisor when nothing answers, Refused for supervisord's faults."""
    path, username, password = where or _where()
    remote = bool(path) and path.startswith(("http://", "https://"))
    if not remote and (not path or not os.path.exists(path)):
        raise NoSupervisor(f"no supervisord socket at {path}")
    transport = _Transport(username, password, path if remote else f"unix://{path}")
    try:
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        return getattr(proxy.supervisor, method)(*args)
    except xmlrpc.client.Fault as fault:
        name = args[0] if args else ""
        if fault.faultCode == Faults.BAD_NAME:
            raise Refused(_("no process %(name)r under this host's supervisord", name=name),
                          404) from None
        if fault.faultCode == Faults.ALREADY_STARTED:
            raise Refused(_("process %(name)r is already running", name=name), 409) from None
        if fault.faultCode == Faults.NOT_RUNNING:
            raise Refused(_("process %(name)r is not running", name=name), 409) from None
        raise Refused(_("supervisord refused %(method)s %(name)r: %(faultString)s", method=method,
                         name=name, faultString=fault.faultString), 409) from None
    except xmlrpc.client.ProtocolError as exc:
        if exc.errcode == 401:
            raise WrongCredentials(WrongCredentials.shown) from None
        raise NoSupervisor(f"supervisord does not answer: {exc}") from None
    except OSError as exc:
        raise NoSupervisor(f"supervisord does not answer: {exc}") from None
    finally:
        transport.close()


def _entry(info):
    """supervisord's process info in the operator's words."""
    running = info["statename"] in RUNNING_STATES and info["pid"]
    return {"name": info["name"], "group": info["group"], "state": info["statename"],
            "pid": info["pid"] or None,
            "uptime_s": max(0, info["now"] - info["start"]) if running else None,
            "description": info["description"]}


def processes(host=None):
    """Every program supervisord (on `host`, a SUPERVISORS name) runs: name, state, pid, uptime_s."""
    return [_entry(i) for i in _call("getAllProcessInfo", where=_where(host))]


def process(name, host=None):
    """One program's entry (Refused 404 when unknown)."""
    return _entry(_call("getProcessInfo", _full(name), where=_where(host)))


def _full(name):
    """`group:name` for supervisord (a program's group has its own name); a name no program
    can have (control characters, such as NUL, that XML cannot carry) is a 404 here."""
    if not name or not name.isprintable() or len(name) > 200:
        raise Refused(_("no process %(name)r under this host's supervisord", name=name), 404)
    return name if ":" in name else f"{name}:{name}"


def serves_the_panel(name):
    """True for web and nginx: stopped from the panel, nothing could start them again."""
    return name in FRONT_DOOR


def start(name, host=None):
    """Start a stopped program (409 when it runs)."""
    _check(name, want_running=False, host=host)
    _call("startProcess", _full(name), False, where=_where(host))
    return process(name, host)


def stop(name, host=None):
    """Stop a program (its stopsignal, then KILL after stopwaitsecs); 409 when not running,
    and for the programs that serve this panel."""
    if serves_the_panel(name):
        raise Refused(_("%(name)s serves this dashboard: stopped from here, nothing could "
                         "start it again. Restart it instead (a graceful reload), or stop the "
                         "stack with supervisorctl or make down", name=name), 409)
    _check(name, want_running=True, host=host)
    _call("stopProcess", _full(name), False, where=_where(host))
    return process(name, host)


def restart(name, host=None):
    """Stop then start again; the start happens once supervisord reports it stopped. A program
    that serves this panel reloads instead (its reload signal): it never stops."""
    entry, where = process(name, host), _where(host)
    if serves_the_panel(name) and entry["state"] == "RUNNING":
        _call("signalProcess", _full(name), FRONT_DOOR[name], where=where)
        return process(name, host)
    if entry["state"] in RUNNING_STATES:
        _call("stopProcess", _full(name), False, where=where)
        threading.Thread(target=_start_when_stopped, args=(name, where), daemon=True,
                         name=f"restart-{name}").start()
    else:
        _call("startProcess", _full(name), False, where=where)
    return process(name, host)


def _start_when_stopped(name, where, timeout_s=600):
    """Wait for the stop (supervisord enforces stopwaitsecs), then start."""
    import time
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            info = _call("getProcessInfo", _full(name), where=where)
            if info["statename"] not in RUNNING_STATES and info["statename"] != "STOPPING":
                _call("startProcess", _full(name), False, where=where)
                return
        except Exception as exc:  # supervisord gone: nothing to start
            log.warning("restart of %s: %s", name, exc)
            return
        time.sleep(0.2)
    log.error("restart of %s: still stopping after %s s", name, timeout_s)


def _check(name, want_running, host=None):
    entry = process(name, host)
    running = entry["state"] in RUNNING_STATES or entry["state"] == "STOPPING"
    if want_running and not running:
        raise Refused(_("process %(name)r is %(state)s, not running", name=name,
                         state=entry['state']), 409)
    if not want_running and running:
        raise Refused(_("process %(name)r is already %(state)s", name=name,
                        state=entry["state"]), 409)
    return entry


def program_of(worker_name, pid):
    """The supervisord program running worker `worker_name` with `pid` here, or None."""
    try:
        for entry in processes():
            if entry["pid"] and pid and entry["pid"] == pid:
                return entry["name"]
    except (NoSupervisor, Refused):
        return None
    return None
