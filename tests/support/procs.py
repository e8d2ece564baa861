"""Child processes of the test stack (workers, dispatcher, web), waiting for things, and /proc.

The process machinery itself is deploy/stack.py's (one implementation for the bench,
the tests and the chaos suite); here it gets the tests' log folder and errors.
"""
import os
import select
import signal
import time
from contextlib import contextmanager

from deploy import stack as shared

from .env import BIN, RUN_DIR

free_port = shared.free_port
process_state = shared.process_state   # 'R', 'S', ..., 'Z'; None when the pid is gone
is_dead = shared.gone                  # gone, or a zombie not yet reaped


def wait_for(predicate, timeout=15.0, interval=0.05, what="condition"):
    """Poll `predicate` until it returns a truthy value; AssertionError after `timeout` seconds."""
    return shared.wait_for(predicate, timeout, interval, what, error=AssertionError)


class Proc(shared.Proc):
    """A child process of the stack (worker, dispatcher, web), with its log under RUN_DIR."""

    def __init__(self, name, argv, env=None):
        super().__init__(name, argv, env, log_dir=RUN_DIR)


def worker_proc(name, concurrency=2, extra=()):
    """A real prefork Celery worker named NAME@test."""
    pidfile = os.path.join(RUN_DIR, f"{name}.pid")
    return Proc(name, [os.path.join(BIN, "celery"), "-A", "worker", "worker", "-n",
                       f"{name}@test", "-E", "--pool", "prefork", "--concurrency",
                       str(concurrency), "--pidfile", pidfile, "--loglevel", "INFO",
                       "--without-mingle", "--without-gossip", *extra])


def beat_proc(name, env=None):
    """A real `celery -A worker beat` with its own schedule file and pidfile."""
    return Proc(name, [os.path.join(BIN, "celery"), "-A", "worker", "beat", "--loglevel", "INFO",
                       "-s", os.path.join(RUN_DIR, f"{name}-schedule"),
                       "--pidfile", os.path.join(RUN_DIR, f"{name}.pid")], env=env)


def dispatcher_proc(name="dispatcher"):
    """The dispatcher (`flask --app wsgi dispatcher`)."""
    return Proc(name, [os.path.join(BIN, "flask"), "--app", "wsgi", "dispatcher"])


@contextmanager
def serving(name, argv, port, health_path, env=None, timeout=60):
    """Start a server on loopback PORT, wait until GET HEALTH_PATH answers 200, yield its
    base URL; stop it afterwards."""
    proc = Proc(name, argv, env=env).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: shared.answers(f"{url}{health_path}", timeout=1.0), timeout, 0.2,
                 what=f"{name} answering {health_path}")
        yield url
    finally:
        proc.stop()


def parent_pid(pid):
    """The parent pid of a process, from /proc."""
    return int(shared.stat_fields(pid)[1])


class ExitWatch:
    """Watch a process (not our child) exit via a pidfd: exact, no polling interval."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = os.pidfd_open(pid)

    def wait(self, timeout, since=None):
        """Seconds from `since` (a time.monotonic(); default now) until the process exited,
        or None when it still runs after `timeout` seconds."""
        since = time.monotonic() if since is None else since
        ready = select.select([self.fd], [], [], timeout)[0]
        return time.monotonic() - since if ready else None

    def close(self):
        os.close(self.fd)


def wait_online(celery_app, names, timeout=60):
    """Wait until every worker in `names` answers a ping."""
    def online():
        replies = celery_app.control.ping(timeout=0.5) or []
        return set(names) <= {name for reply in replies for name in reply}
    wait_for(online, timeout, interval=0.2, what=f"workers {names} online")


def wait_offline(celery_app, name, timeout=30):
    """Wait until worker `name` no longer answers a ping."""
    def gone():
        replies = celery_app.control.ping([name], timeout=0.5) or []
        return not any(name in reply for reply in replies)
    wait_for(gone, timeout, interval=0.2, what=f"worker {name} offline")


def active_task(celery_app, worker, task_id, timeout=20):
    """The worker's inspect().active() entry for `task_id` (has `worker_pid`)."""
    def find():
        replies = celery_app.control.inspect([worker], timeout=1.0).active() or {}
        return next((t for t in replies.get(worker, []) if t["id"] == task_id), None)
    return wait_for(find, timeout, interval=0.1, what=f"task {task_id} active on {worker}")


def pool_pid(celery_app, row):
    """The pid of the pool process running a `running` request's attempt."""
    return active_task(celery_app, row["worker"], row["task_id"])["worker_pid"]


def task_log_line(proc, task_id, word, timeout=60):
    """Wait until a worker's log says `Task dashboard.run_request[<task_id>] <word>`."""
    needle = f"dashboard.run_request[{task_id}] {word}"
    return wait_for(lambda: needle in proc.log(), timeout, interval=0.1,
                    what=f"{needle!r} in {proc.name}.log")


def kill_pool_process(celery_app, row):
    """kill -9 the pool process running the request `row` (its worker stays up); its pid, once gone."""
    pid = pool_pid(celery_app, row)
    watch = ExitWatch(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        assert watch.wait(10) is not None
    finally:
        watch.close()
    return pid
