"""The local stack's processes as a harness starts them: one implementation for the bench
(bench/), the test suite (tests/) and the chaos suite, none of which imports the other.

Child processes in their own session with a log file each (Proc), the gunicorn command
line of deploy/supervisord.conf (web_argv), waiting for a URL to answer, /proc readings
(children, state, CPU, memory), the schema rebuilt by the migrations, a streamed
multipart upload (post_file), and the scans of a table in an EXPLAIN (FORMAT JSON) plan.
Standard library at import time (like services.py); flask_migrate, sqlalchemy and
requests are imported by the functions that use them.
"""
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from http.client import HTTPException
from urllib.request import urlopen

from deploy import services

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

free_port = services.free_port        # an unused TCP port on loopback
stat_fields = services.stat_fields    # /proc/PID/stat after the command name; None when gone
gone = services.process_gone          # the process no longer runs (or is an unreaped zombie)


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition", error=RuntimeError):
    """Poll `predicate` until truthy; `error` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process in its own session, logging to LOG_DIR/NAME.log."""

    running = []

    def __init__(self, name, argv, env=None, *, log_dir):
        self.name, self.argv = name, argv
        self.env = {**os.environ, **(env or {})}
        self.log_dir = log_dir
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.popen, self.log_offset = None, 0

    def start(self):
        os.makedirs(self.log_dir, exist_ok=True)
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        Proc.running.append(self)
        return self

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the process group; SIGKILL after `timeout`."""
        if self in Proc.running:
            Proc.running.remove(self)
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        except ProcessLookupError:
            pass

    def kill9(self):
        """SIGKILL the whole process group at once."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log(self):
        """What this run of the process wrote to its log."""
        with open(self.log_path, "rb") as fh:
            fh.seek(self.log_offset)
            return fh.read().decode(errors="replace")

    @classmethod
    def stop_all(cls):
        for proc in list(cls.running):
            proc.stop(timeout=10)


def web_argv(port, workers=2, threads=8):
    """The gunicorn command line of deploy/supervisord.conf (gthread), on a loopback port
    rather than the unix socket behind nginx: the harness talks to gunicorn directly."""
    return [os.path.join(BIN, "gunicorn"), "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "wsgi:app"]


def answers(url, timeout=1.0):
    """True when GET `url` answers 200; False for another status or no answer."""
    try:
        with urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except (OSError, HTTPException):
        return False


def reset_schema(app):
    """Drop and rebuild the schema with the migrations (the test suite and the bench)."""
    from flask_migrate import upgrade
    from sqlalchemy import text
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
        upgrade()


def upgrade_schema(app):
    """Apply the migrations on top of what the database holds (bench --reuse-seed)."""
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()


# /proc

def children(pid):
    """Direct children of a process."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except FileNotFoundError:
        return []


def process_state(pid):
    """'R', 'S', ... from /proc, 'Z' for a zombie, None when the pid is gone."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, tree=True):
    """User + system CPU seconds of a process (and its live descendants)."""
    fields = stat_fields(pid)
    if fields is None:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / TICK
    if tree:
        total += sum(cpu_seconds(child) for child in children(pid))
    return total


def pids_named(name):
    """Pids whose command name (comm) is `name` (e.g. postgres, beam.smp)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().strip() == name:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


def memory_kb(pid):
    """(VmRSS, VmHWM) of a process in kB (0, 0 when gone)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0])
    except FileNotFoundError:
        pass
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


def rss_kb(pid):
    """Resident set size of a process in kB (0 when gone)."""
    return memory_kb(pid)[0]


# Uploads

CHUNK = 1024 * 1024


class MultipartFile:
    """A multipart/form-data body of some fields and one file, read from disk as it is sent.

    requests sends an object with read() and __len__ as the body with a Content-Length.
    """

    def __init__(self, fields, path, filename="volume.raw"):
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode() for name, value in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file";'
                 f' filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 ).encode()
        self.parts = [io.BytesIO(head), open(path, "rb"),
                      io.BytesIO(f"\r\n--{self.boundary}--\r\n".encode())]
        self.length = len(head) + os.path.getsize(path) + len(self.parts[2].getvalue())
        self.content_type = f"multipart/form-data; boundary={self.boundary}"

    def __len__(self):
        return self.length

    def read(self, size=-1):
        size = CHUNK if size is None or size < 0 else size
        while self.parts:
            data = self.parts[0].read(size)
            if data:
                return data
            self.parts.pop(0).close()
        return b""


def post_file(base_url, token, path, job_type, params, timeout=600):
    """POST /api/requests with the file streamed from `path`; returns the response."""
    import requests
    body = MultipartFile({"job_type": job_type, "params": params}, path)
    return requests.post(f"{base_url}/api/requests", data=body, timeout=timeout, headers={
        "Authorization": f"Bearer {token}", "Content-Type": body.content_type,
        "Content-Length": str(len(body))})


# EXPLAIN (FORMAT JSON) plans

def scans(plan, found, table="requests"):
    """Every plan node that reads `table` (appended to `found`, which is returned)."""
    if plan.get("Relation Name") == table:
        found.append(plan)
    for child in plan.get("Plans", []):
        scans(child, found, table)
    return found


def rows_read(node):
    """Rows a scan node produced or threw away, over all its loops."""
    per_loop = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                + node.get("Rows Removed by Index Recheck", 0))
    return per_loop * node.get("Actual Loops", 1)
