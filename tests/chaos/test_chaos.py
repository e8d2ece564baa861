"""kill -9 each process of the stack at random moments while short requests flow.

Invariant 2 (docs/architecture.md): once the process is back, every committed
request reaches a terminal state. With fail_rate 0, terminal means success:
a kill may delay a request, never fail it.
"""
import json
import os
import signal

import requests

from deploy.stack import answers, children, web_argv
from tests.support.chaos import Killer, report, settle, statuses, submit_flow
from tests.support.procs import free_port, Proc, wait_for

N = int(os.environ.get("CHAOS_REQUESTS", 150))
SPREAD_S = float(os.environ.get("CHAOS_SECONDS", 15))


def check(name, app, ids, killer):
    """Settle, report, and assert nothing was lost and nothing failed."""
    missing, stuck = settle(app, ids)
    rows = report(name, killer.kills, ids, app, missing, stuck)
    assert killer.kills > 0, "the killer never struck: lengthen CHAOS_SECONDS"
    assert not missing and not stuck, f"{len(missing) + len(stuck)} requests lost"
    failed = [r for r in rows.values() if r["status"] != "success"]
    assert not failed, f"requests that should have succeeded: {failed[:5]}"


def test_dispatcher_killed(app, stack, rng):
    """The dispatcher dies between claim, publish and commit; its rows are never lost."""
    def kill():
        stack.dispatcher.kill9()
        stack.dispatcher = None

    with Killer(rng, kill, stack.start_dispatcher, every=(0.3, 2.0)) as killer:
        ids = submit_flow(app, rng, N, SPREAD_S)
    check("dispatcher kill -9", app, ids, killer)


def test_workers_killed(app, stack, rng):
    """A whole worker (main process and pool) dies mid-task; RabbitMQ redelivers its messages."""
    victim = {}

    def kill():
        victim["name"] = rng.choice(sorted(stack.workers))
        stack.workers.pop(victim["name"]).kill9()

    with Killer(rng, kill, lambda: stack.start_worker(victim["name"]),
                every=(0.5, 2.0)) as killer:
        ids = submit_flow(app, rng, N, SPREAD_S)
    check("worker kill -9", app, ids, killer)


def test_pool_processes_killed(app, stack, rng):
    """Single pool processes die mid-task (WorkerLostError): the message is requeued, not failed."""
    def kill():
        pids = [pid for proc in stack.workers.values() for pid in children(proc.pid)]
        if pids:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
            except ProcessLookupError:
                pass

    with Killer(rng, kill, lambda: None, every=(0.2, 1.0), down=(0, 0)) as killer:
        ids = submit_flow(app, rng, N, SPREAD_S, {"min_seconds": 0.1, "max_seconds": 0.5})
    check("pool process kill -9", app, ids, killer)


def test_web_killed(app, stack, rng, make_user):
    """gunicorn dies mid-submission: every request it acknowledged (201) runs; so does
    every request it committed without answering."""
    _, _, token = make_user("operator", username="chaos-operator")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = {"proc": None}

    def start():
        web["proc"] = Proc("chaos-web", web_argv(port, workers=2, threads=4)).start()
        wait_for(lambda: answers(f"{url}/healthz", timeout=0.5), 60, what="gunicorn answering")

    def kill():
        web["proc"].kill9()

    start()
    acknowledged, refused = [], 0
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    params = json.dumps({"min_seconds": 0, "max_seconds": 0.2})
    try:
        with Killer(rng, kill, start, every=(1.0, 3.0), down=(0.2, 1.0)) as killer:
            for _ in range(N):
                try:
                    r = session.post(f"{url}/api/requests", timeout=10,
                                     data={"job_type": "simulate", "params": params})
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])
                    else:
                        refused += 1
                except requests.RequestException:
                    refused += 1   # connection refused or cut: maybe committed, maybe not
                killer.halt.wait(rng.uniform(0, 2 * SPREAD_S / N))
    finally:
        web["proc"].stop()
    everything = sorted(statuses(app))     # acknowledged or not, every committed row counts
    assert acknowledged, f"gunicorn acknowledged none of {N} requests ({refused} cut or refused)"
    assert set(acknowledged) <= set(everything), "a 201-acknowledged request has no row"
    check(f"web kill -9 ({len(acknowledged)} acknowledged, {refused} cut or refused)",
          app, everything, killer)
