"""SUPERVISORS: the processes page lists each host's supervisord, the worker host's over HTTP.

The worker host's supervisord serves XML-RPC on its own address (SUPERVISOR_LISTEN);
next to it, an entry with the wrong password and one with nobody at the address:
the page names both hosts and why, and still lists the working one. Actions go to
the host they name, with the roles, CSRF and audit of this host's.
"""
import time
import xmlrpc.client

import pytest

from dashboard import config
from tests.support.db import audit_rows
from tests.support.html import parse_table
from tests.support.http import Browserless, TokenClient
from tests.support.procs import wait_for

from .conftest import RPC_PORT


@pytest.fixture
def hosts(app, on_host, monkeypatch):
    """SUPERVISORS with the worker host, a wrong password and an address nobody answers on."""
    host = on_host
    nobody = host.inside.rsplit(".", 1)[0] + ".3"
    value = (f"hosta={host.rpc_url},"
             f"wrongpw=http://dashboard:not-the-password@{host.inside}:{RPC_PORT}/RPC2,"
             f"gone=http://dashboard:x@{nobody}:{RPC_PORT}/RPC2")
    monkeypatch.setitem(app.config, "SUPERVISORS", config._supervisors(value))
    return host


def remote_pid(host, program):
    """The program's pid as the host's supervisord reports it over HTTP."""
    with xmlrpc.client.ServerProxy(host.rpc_url) as proxy:
        return proxy.supervisor.getProcessInfo(f"{program}:{program}")["pid"]


def test_the_page_groups_programs_by_host_and_names_the_ones_that_fail(app, hosts, make_user):
    username, password, _ = make_user("admin")
    admin = Browserless(app, username, password)
    started = time.monotonic()
    page = admin.get("/processes")
    took = time.monotonic() - started
    print(f"processes page with an unreachable host: {took:.2f} s")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = [r for r in parse_table(html, "processes") if "data-process" in r["attrs"]]
    assert {(r["attrs"]["data-host"], r["attrs"]["data-process"], r["attrs"]["data-state"])
            for r in rows} == {("hosta", "worker1", "RUNNING"), ("hosta", "worker2", "RUNNING")}
    assert 'data-host-problem="wrongpw"' in html and "refused the user name and password" in html
    assert 'data-host-problem="gone"' in html and "gone: unreachable" in html
    assert "not-the-password" not in html and hosts.password not in html
    assert took < 8, f"the page took {took:.1f} s"
    listed = TokenClient(app, make_user("admin")[2]).get("/api/processes").get_json()
    assert [(h["host"], h["problem"] is None) for h in listed] == [
        ("hosta", True), ("wrongpw", False), ("gone", False)]


def test_restart_goes_to_the_named_host_with_roles_csrf_and_audit(app, hosts, make_user):
    before = remote_pid(hosts, "worker2")
    username, password, _ = make_user("operator")
    operator = Browserless(app, username, password)
    assert operator.action("/processes/worker2/restart?host=hosta").status_code == 403
    username, password, token = make_user("admin")
    admin = Browserless(app, username, password)
    assert admin.client.post("/processes/worker2/restart?host=hosta").status_code == 400
    assert admin.action("/processes/worker2/restart?host=nowhere").status_code == 404
    answer = admin.action("/processes/worker2/restart?host=hosta")
    assert answer.status_code == 204, answer.get_data(as_text=True)
    wait_for(lambda: remote_pid(hosts, "worker2") not in (0, before), 90, interval=0.5,
             what="worker2 on hosta running again with a new pid")
    refused = TokenClient(app, token).post("/api/processes/worker1/stop?host=wrongpw")
    assert refused.status_code == 503 and "wrongpw" in refused.get_json()["error"]
    audited = [(r["outcome"], r["detail"].get("host")) for r in audit_rows(app, "process_restart")]
    assert ("ok", "hosta") in audited and ("refused", "nowhere") in audited
    assert ("refused", "wrongpw") in [(r["outcome"], r["detail"].get("host"))
                                      for r in audit_rows(app, "process_stop")]
