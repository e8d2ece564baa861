"""Worker hosts in network namespaces: their own network, hostname and checkout (needs root).

Each Host is a network namespace (`ip netns`) joined to this machine by a veth
pair on a private /24 of its own (10.231.N.0/24: this side .1, the host .2), with
a UTS namespace for its hostname and a mount namespace in which a copy of the
working tree (tracked and untracked files, no var/, no .env) is mounted over the
repository root: the first host's checkout, .env, var/secrets and logs are not
visible there. The venv is this checkout's, mounted read-only (a host builds its
own with `make venv`; the tests reuse it to save minutes). The rest of the file
system (system packages, /tmp) is shared, as on machines built from one image.
Inside it runs `make worker-host` as a user would.
"""
import os
import shutil
import signal
import subprocess
import time

from .env import ROOT

PREFIX = "dashhost"


def ip(*args, check=True):
    """Run `ip ARGS`; the completed process."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          stdin=subprocess.DEVNULL)


def available():
    """Why worker hosts cannot be made here, or None when they can (root, ip, unshare)."""
    if os.geteuid() != 0:
        return "needs root (ip netns)"
    if not shutil.which("ip") or not shutil.which("unshare"):
        return "needs ip (iproute2) and unshare (util-linux)"
    return None


def free_subnet():
    """A 10.231.N prefix no interface of this machine uses."""
    used = ip("-o", "-4", "addr", "show").stdout
    return next(f"10.231.{n}" for n in range(1, 255) if f"inet 10.231.{n}." not in used)


def remove_stale():
    """Namespaces a killed earlier run left behind (its pid is in the name and gone)."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX + "-"):
            pid = name.split("-")[1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                Host(name.split("-", 2)[2], base="/nonexistent", ns=name).destroy()


def copy_checkout(dest):
    """The working tree's files (what git tracks or would add) copied to `dest`."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src) and not rel.startswith(("var/", ".venv/")) and rel != ".env":
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))
    os.makedirs(os.path.join(dest, ".venv"), exist_ok=True)


class Host:
    """One worker host: namespace `ns`, hostname `hostname`, checkout under `base`."""

    def __init__(self, hostname, base, ns=None):
        self.hostname, self.base = hostname, base
        self.ns = ns or f"{PREFIX}-{os.getpid()}-{hostname}"
        self.veth = f"vh{self.ns.split('-')[1]}{hostname[:4]}"[:15]
        self.checkout = os.path.join(base, "checkout")
        self.outside = self.inside = None
        self.popen = None

    def create(self):
        """The namespace, the veth pair and its /24; the checkout copied."""
        net = free_subnet()
        self.outside, self.inside = f"{net}.1", f"{net}.2"
        ip("netns", "add", self.ns)
        ip("link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        ip("addr", "add", f"{self.outside}/24", "dev", self.veth)
        ip("link", "set", self.veth, "up")
        for args in (("addr", "add", f"{self.inside}/24", "dev", "eth0"),
                     ("link", "set", "eth0", "up"), ("link", "set", "lo", "up")):
            ip("netns", "exec", self.ns, "ip", *args)
        shutil.rmtree(self.base, ignore_errors=True)
        copy_checkout(self.checkout)
        return self

    def command(self, shell):
        """argv running `shell` inside the host: its network, hostname and file system."""
        setup = (f"hostname {self.hostname} && mount --bind {ROOT}/.venv {self.checkout}/.venv"
                 f" && mount -o remount,bind,ro {self.checkout}/.venv"
                 f" && mount --rbind {self.checkout} {ROOT} && cd {ROOT} && {shell}")
        return ["ip", "netns", "exec", self.ns, "unshare", "--uts", "--mount",
                "--propagation", "private", "sh", "-c", setup]

    def run(self, shell, env, timeout=60):
        """Run `shell` inside the host to the end: (exit status, output)."""
        done = subprocess.run(self.command(shell), env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout + done.stderr

    def start(self, env, shell="exec make worker-host"):
        """`make worker-host` in the background (its own session); output in base/host.log."""
        with open(os.path.join(self.base, "host.log"), "ab") as out:
            self.popen = subprocess.Popen(self.command(shell), env=env, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        return self

    def log(self, name="host.log"):
        """The host's own output, or one of its files (e.g. var/log/worker-host/worker1.log)."""
        path = os.path.join(self.base, name) if name == "host.log" else \
            os.path.join(self.checkout, name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as fh:
            return fh.read()

    def cut(self):
        """Pull the cable: this side of the veth pair goes down."""
        ip("link", "set", self.veth, "down")

    def mend(self):
        ip("link", "set", self.veth, "up")

    def stop(self, timeout=90):
        """TERM to `make worker-host` (supervisord stops the workers), KILL after `timeout`."""
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def destroy(self):
        """Every process left in the namespace killed, the namespace and veth deleted."""
        for pid in ip("netns", "pids", self.ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        ip("link", "del", self.veth, check=False)
        ip("netns", "del", self.ns, check=False)
