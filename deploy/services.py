#!/usr/bin/env python3
"""The local PostgreSQL and RabbitMQ: installed from Debian, private instances, data under var/.

    python3 deploy/services.py start|stop|status|test-env NAME

`start` installs Debian's postgresql, rabbitmq-server and nginx (the stack's
front door, run by supervisord: deploy/nginx.py) when they are missing (as
root), starts a private cluster and node (ports PG_PORT, AMQP_PORT,
RABBITMQ_DIST_PORT; node RABBITMQ_NODENAME) with random passwords in
var/secrets/, and writes the local stack's settings to `.env` at the
repository root (DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
SUPERVISOR_PASSWORD, TEST_*), which
the flask CLI, gunicorn, Celery and the bench read by themselves. Every step
is idempotent. A DATABASE_URL / CELERY_BROKER_URL that is not the local
instance (in the environment or in .env) is used as given: that service is
not started here.

The classes are reused by the chaos suite for its throw-away instances.
Standard library only: this runs with the system python3, before .venv exists.
"""
import glob
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

try:
    from deploy import listen as listening
except ImportError:  # run as a script: deploy/ is on sys.path
    import listen as listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAR = os.path.join(ROOT, "var")
SECRETS = os.path.join(VAR, "secrets")
DOTENV = os.path.join(ROOT, ".env")
PG_PORT = int(os.environ.get("PG_PORT") or 55432)
AMQP_PORT = int(os.environ.get("AMQP_PORT") or 55672)
RABBIT_DIST_PORT = int(os.environ.get("RABBITMQ_DIST_PORT") or 55673)  # system default: 25672
RABBIT_NODE = os.environ.get("RABBITMQ_NODENAME") or "dashboard@localhost"
# Must exceed the largest Celery hard time limit (3600 s), in milliseconds.
CONSUMER_TIMEOUT_MS = 7_200_000
NGINX = "/usr/sbin/nginx"
NAME_RE = re.compile(r"^[a-z0-9_]{1,30}$")
IS_ROOT = os.geteuid() == 0


class ServiceError(Exception):
    """A service could not be installed, reached or started; the message says why."""


def log(message):
    print(f"services: {message}", file=sys.stderr, flush=True)


def as_user(user, argv):
    """argv run as a service's OS user when we are root (the servers refuse to run as root)."""
    return ["runuser", "-u", user, "--", *argv] if IS_ROOT else list(argv)


def run(argv, check=True, **kw):
    """Run argv quietly; ServiceError with its output when it fails and `check`."""
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and done.returncode != 0:
        raise ServiceError(f"{shlex.join(argv)} failed ({done.returncode}):"
                           f" {(done.stderr or done.stdout).strip()[-800:]}")
    return done


def own_dir(user, path):
    """Create `path`, give it to `user` (as root), and make sure that user can get there.

    A clone under /root is closed to other users: CI (CI=true) opens the blocking
    parents with o+x; elsewhere we say what to run.
    """
    os.makedirs(path, exist_ok=True)
    if not IS_ROOT:
        return
    run(["chown", "-R", f"{user}:", path])
    if run(as_user(user, ["test", "-w", path]), check=False).returncode == 0:
        return
    blocked, d = [], path
    while d != "/":
        d = os.path.dirname(d)
        if not os.stat(d).st_mode & 0o001:
            blocked.append(d)
    if not blocked:
        raise ServiceError(f"user '{user}' cannot write to {path}")
    if os.environ.get("CI") != "true":
        raise ServiceError(f"user '{user}' cannot reach {path}: run 'chmod o+x "
                           f"{' '.join(blocked)}' (or clone elsewhere)")
    log(f"CI: chmod o+x {' '.join(blocked)} so that user '{user}' can reach {path}")
    for d in blocked:
        os.chmod(d, os.stat(d).st_mode | 0o001)
    if run(as_user(user, ["test", "-w", path]), check=False).returncode != 0:
        raise ServiceError(f"user '{user}' still cannot reach {path}")


_apt_updated = []


def apt_install(*packages):
    """Debian packages, installed when root (apt-get update once per run)."""
    if not IS_ROOT:
        raise ServiceError(f"package(s) {' '.join(packages)} missing and not root: install"
                           f" them (apt-get install {' '.join(packages)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update"], check=True, stdin=subprocess.DEVNULL, env=env)
        _apt_updated.append(True)
    subprocess.run(["apt-get", "install", "-y", *packages], check=True,
                   stdin=subprocess.DEVNULL, env=env)


def secret(name, make=lambda: secrets.token_hex(20)):
    """A random secret generated once and kept in var/secrets/NAME (mode 600)."""
    path = os.path.join(SECRETS, name)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        os.makedirs(SECRETS, exist_ok=True)
        os.chmod(SECRETS, 0o700)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            fh.write(make() + "\n")
    with open(path) as fh:
        return fh.read().strip()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def free_port():
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def process_gone(pid):
    """True when the process does not run (gone, or a zombie nobody reaped)."""
    fields = stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Postgres:
    """A private PostgreSQL cluster: data, socket and log where we say, on loopback `port`."""

    def __init__(self, base, port, socket_dir=None, settings=None, listen=None):
        self.base, self.port = base, port
        # PG_LISTEN's addresses (None: loopback only, pg_hba.conf untouched).
        self.listen = listen
        self.data = os.path.join(base, "data")
        self.sock = socket_dir or os.path.join(base, "run")
        self.log = os.path.join(base, "postgres.log")
        self.settings = {"max_connections": 200, "shared_buffers": "256MB", "fsync": "on",
                         **(settings or {})}

    @property
    def bin(self):
        """The binaries matching an existing cluster, else the newest installed ('' if none)."""
        version = os.path.join(self.data, "PG_VERSION")
        if os.path.exists(version):
            with open(version) as fh:
                return f"/usr/lib/postgresql/{fh.read().strip()}/bin"
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                       key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
        return found[-1] if found else ""

    def url(self, password, dbname):
        return f"postgresql+psycopg2://dashboard:{password}@127.0.0.1:{self.port}/{dbname}"

    def _tool(self, tool, *args, check=True, **kw):
        return run(as_user("postgres", [os.path.join(self.bin, tool), *args]), check=check, **kw)

    def ready(self):
        """Answers on our socket (a process that is merely alive is not enough)."""
        return bool(self.bin) and os.path.exists(os.path.join(self.bin, "pg_isready")) and \
            self._tool("pg_isready", "-q", "-h", self.sock, "-p", str(self.port),
                       check=False).returncode == 0

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as fh:
                return int(fh.readline())
        except (FileNotFoundError, ValueError):
            return None

    def _clear_stale_lock(self):
        """A postmaster killed with -9 may linger as an unreaped zombie; its locks block a start."""
        pid = self.postmaster_pid()
        if pid and process_gone(pid):
            log(f"removing lock files left by dead postmaster {pid}")
            for lock in [os.path.join(self.data, "postmaster.pid"),
                         *glob.glob(os.path.join(self.sock, ".s.PGSQL.*.lock"))]:
                if os.path.exists(lock):
                    os.remove(lock)

    def start(self):
        """Install, initdb and start, unless it already answers."""
        if not self.bin or not os.path.exists(os.path.join(self.bin, "postgres")):
            apt_install("postgresql")
        if self.ready():
            if self.listen is not None and self._serving() != self._wanted():
                self._configure()
                log(f"restarting PostgreSQL to listen on {self._wanted()}")
                self._tool("pg_ctl", "-D", self.data, "-l", self.log, "-m", "fast", "-w", "-t",
                           "60", "restart")
            elif self.listen is not None:
                self._configure()
                self._tool("pg_ctl", "-D", self.data, "reload")
            log(f"PostgreSQL already running on 127.0.0.1:{self.port}")
            return
        own_dir("postgres", self.base)
        own_dir("postgres", self.sock)
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            log(f"initdb {self.data}")
            self._tool("initdb", "-D", self.data, "--encoding=UTF8", "--locale=C.UTF-8",
                       "--auth-local=peer", "--auth-host=scram-sha-256")
            with open(os.path.join(self.data, "postgresql.conf"), "a") as fh:
                fh.write("include = 'dashboard.conf'\n")
        self._configure()
        log(f"starting PostgreSQL on {self._wanted()} port {self.port}")
        self._clear_stale_lock()
        done = self._tool("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start",
                          check=False)
        if done.returncode != 0 or not self.ready():
            tail = open(self.log).read()[-2000:] if os.path.exists(self.log) else ""
            raise ServiceError(f"PostgreSQL did not start (log: {self.log})\n{tail}")

    def _wanted(self):
        """listen_addresses as PG_LISTEN asks (loopback alone without it)."""
        return listening.postgres_listen_addresses(self.listen or [])

    def _serving(self):
        """listen_addresses of the running server, quoted as in the configuration."""
        shown = self._tool("psql", "-h", self.sock, "-p", str(self.port), "-d", "postgres",
                           "-X", "-At", "-c", "SHOW listen_addresses").stdout.strip()
        return f"'{shown}'"

    def _configure(self):
        """dashboard.conf (rewritten on every start so that port changes take effect) and,
        with PG_LISTEN, pg_hba.conf's block for its networks."""
        conf = {"listen_addresses": self._wanted(), "port": self.port,
                "unix_socket_directories": f"'{self.sock}'",
                "password_encryption": "'scram-sha-256'", **self.settings}
        paths = [os.path.join(self.data, "dashboard.conf")]
        with open(paths[0], "w") as fh:
            fh.writelines(f"{k} = {v}\n" for k, v in conf.items())
        if self.listen is not None:
            nets = listening.networks("PG_LISTEN", self.listen) if self.listen else []
            paths.append(os.path.join(self.data, "pg_hba.conf"))
            with open(paths[1]) as fh:
                text = fh.read()
            with open(paths[1], "w") as fh:
                fh.write(listening.with_hba_block(text, nets))
        if IS_ROOT:
            run(["chown", "postgres:", *paths])

    def psql(self, sql, **variables):
        """Run SQL as the cluster's superuser over the socket; `:'name'` reads a variable."""
        args = ["-h", self.sock, "-p", str(self.port), "-d", "postgres", "-X", "-q",
                "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            args += ["-v", f"{name}={value}"]
        return self._tool("psql", *args, input=sql).stdout

    def ensure(self, password, databases):
        """The `dashboard` role (its password kept in sync) and databases it owns."""
        self.psql("SELECT 'CREATE ROLE dashboard LOGIN' WHERE NOT EXISTS"
                  " (SELECT 1 FROM pg_roles WHERE rolname = 'dashboard') \\gexec\n"
                  "ALTER ROLE dashboard LOGIN PASSWORD :'pw';\n", pw=password)
        for name in databases:
            self.psql("SELECT format('CREATE DATABASE %I OWNER dashboard', :'db')"
                      " WHERE :'db' NOT IN (SELECT datname FROM pg_database) \\gexec\n", db=name)

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.data, "PG_VERSION")) and self._tool(
                "pg_ctl", "-D", self.data, "status", check=False).returncode == 0:
            log("stopping PostgreSQL")
            self._tool("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)
        else:
            log("PostgreSQL not running")


class RabbitMQ:
    """A private RabbitMQ node: own name, ports, Erlang cookie, config and data under `base`."""

    BIN = "/usr/lib/rabbitmq/bin"

    def __init__(self, base, port, dist_port, node, password, settings=None, listen=None):
        self.base, self.port, self.dist_port = base, port, dist_port
        self.listen = listen or []  # AMQP_LISTEN's addresses, besides 127.0.0.1
        self.node, self.password = node, password
        self.settings = dict(settings or {})
        self.popen = None

    def url(self, vhost):
        return f"amqp://dashboard:{self.password}@127.0.0.1:{self.port}/{vhost}"

    def _env(self):
        """Our env file (node name, ports, dirs) and our own Erlang cookie in $HOME."""
        return ["env", f"HOME={self.base}",
                f"RABBITMQ_CONF_ENV_FILE={self.base}/rabbitmq-env.conf",
                f"ERL_CRASH_DUMP={self.base}/log/erl_crash.dump"]

    def ctl(self, *args, check=True, timeout=180):
        argv = as_user("rabbitmq", [*self._env(), os.path.join(self.BIN, "rabbitmqctl"),
                                    "-n", self.node, "-q", *args])
        return run(argv, check=check, timeout=timeout)

    def pid(self):
        try:
            with open(os.path.join(self.base, "rabbitmq.pid")) as fh:
                return int(fh.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def running(self):
        pid = self.pid()
        return bool(pid) and not process_gone(pid) and port_open(self.port)

    def _write(self, name, text, mode=0o644):
        path = os.path.join(self.base, name)
        with open(path, "w") as fh:
            fh.write(text)
        os.chmod(path, mode)

    def write_config(self):
        for sub in ("log", "mnesia"):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        own_dir("rabbitmq", self.base)
        cookie = os.path.join(self.base, ".erlang.cookie")
        if not os.path.exists(cookie) or os.path.getsize(cookie) == 0:
            self._write(".erlang.cookie", secrets.token_hex(20).upper(), 0o600)
        d = self.base
        # The node's address and port as variables would override rabbitmq.conf's listeners.
        node_address = {} if self.listen else {"RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                                               "RABBITMQ_NODE_PORT": self.port}
        self._write("rabbitmq-env.conf", "".join(f"{k}={v}\n" for k, v in {
            "RABBITMQ_NODENAME": self.node, **node_address,
            "RABBITMQ_DIST_PORT": self.dist_port,
            "RABBITMQ_CONFIG_FILE": f"{d}/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{d}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{d}/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": f"{d}/mnesia", "RABBITMQ_LOG_BASE": f"{d}/log",
            "RABBITMQ_PID_FILE": f"{d}/rabbitmq.pid",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": '"-kernel inet_dist_use_interface {127,0,0,1}"',
            "ERL_EPMD_ADDRESS": "127.0.0.1"}.items()))
        # default_*: the user and vhost created when the node boots the first time.
        conf = {**listening.rabbit_listeners(self.listen, self.port),
                "consumer_timeout": CONSUMER_TIMEOUT_MS, "default_user": "dashboard",
                "default_pass": self.password, "default_vhost": "dashboard", **self.settings}
        self._write("rabbitmq.conf", "".join(f"{k} = {v}\n" for k, v in conf.items()), 0o600)
        if not os.path.exists(os.path.join(d, "enabled_plugins")):
            self._write("enabled_plugins", "[].\n")
        if IS_ROOT:
            run(["chown", "-R", "rabbitmq:", d])
        os.chmod(cookie, 0o400)

    def start(self):
        """Install, configure and boot the node (in its own session), unless it already runs."""
        if not os.path.exists(os.path.join(self.BIN, "rabbitmq-server")):
            apt_install("rabbitmq-server")
        if self.running() and not self._listeners_changed():
            log(f"RabbitMQ already running on 127.0.0.1:{self.port}")
            return
        if self.running():
            log(f"restarting RabbitMQ to listen on {', '.join(self.listen) or '127.0.0.1 only'}")
            self.stop()
            wait(lambda: not port_open(self.port), 60, "RabbitMQ stopped")
        if port_open(self.port):
            if self.ctl("ping", check=False, timeout=30).returncode == 0:
                log(f"RabbitMQ already running on 127.0.0.1:{self.port} (its pid file is gone)")
                return
            raise ServiceError(f"port {self.port} is in use by another program")
        self.write_config()
        if os.path.exists(os.path.join(self.base, "rabbitmq.pid")):
            os.remove(os.path.join(self.base, "rabbitmq.pid"))
        log(f"starting RabbitMQ node {self.node} on {','.join(['127.0.0.1', *self.listen])}"
            f" port {self.port}")
        startup = os.path.join(self.base, "log", "startup.log")
        with open(startup, "ab") as out:
            # A session of its own: Ctrl-C on `make run` spares it.
            self.popen = subprocess.Popen(
                as_user("rabbitmq", [*self._env(), os.path.join(self.BIN, "rabbitmq-server")]),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        # The AMQP listener opens near the end of boot; then confirm with the CLI.
        try:
            wait(lambda: port_open(self.port) or self.popen.poll() is not None, 180,
                 "RabbitMQ listening")
        except ServiceError:
            pass
        if not port_open(self.port):
            with open(startup, errors="replace") as fh:
                tail = fh.read()[-2000:]
            raise ServiceError(f"RabbitMQ did not start (logs: {self.base}/log/)\n{tail}")
        self.ctl("await_startup", "--timeout", "120")

    def _listeners_changed(self):
        """True when rabbitmq.conf's listeners are not those AMQP_LISTEN asks for."""
        try:
            with open(os.path.join(self.base, "rabbitmq.conf")) as fh:
                lines = [line.strip() for line in fh if line.startswith("listeners.tcp.")]
        except OSError:
            return False
        return sorted(lines) != sorted(f"{k} = {v}" for k, v in
                                       listening.rabbit_listeners(self.listen, self.port).items())

    def ensure(self, vhosts):
        """The `dashboard` user's password follows var/secrets; vhosts it may use."""
        self.ctl("change_password", "dashboard", self.password)
        for vhost in vhosts:
            self.ctl("add_vhost", vhost, check=False)
            self.ctl("set_permissions", "-p", vhost, "dashboard", ".*", ".*", ".*")

    def stop(self):
        if self.running() or port_open(self.port):
            log("stopping RabbitMQ")
            if self.ctl("shutdown", check=False).returncode != 0:
                log(f"warning: node {self.node} did not answer")
        else:
            log("RabbitMQ not running")


# ------------------------------------------------------------ the local stack

def local_postgres():
    """The local cluster, listening where PG_LISTEN says (environment, else .env) too."""
    listen = listening.addresses("PG_LISTEN", listening.setting("PG_LISTEN", read_dotenv()))
    return Postgres(os.path.join(VAR, "pg"), PG_PORT, socket_dir=os.path.join(VAR, "run", "pg"),
                    listen=listen)


def local_rabbit(password=""):
    """The local node; `password` (var/secrets/rabbitmq_password) only where it is configured;
    listening where AMQP_LISTEN says (environment, else .env) too."""
    listen = listening.addresses("AMQP_LISTEN", listening.setting("AMQP_LISTEN", read_dotenv()))
    return RabbitMQ(os.path.join(VAR, "rabbitmq"), AMQP_PORT, RABBIT_DIST_PORT, RABBIT_NODE,
                    password, listen=listen)


def read_dotenv(path=DOTENV):
    """KEY=VALUE pairs of a .env file (the subset of python-dotenv's syntax we write)."""
    found = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                m = re.match(r"^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=\s*(.*?)\s*$", line)
                if m:
                    value = m.group(2)
                    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                        value = value[1:-1]
                    found[m.group(1)] = value
    return found


def write_dotenv(values, path=DOTENV):
    """Set `values` in .env: lines we own are replaced in place, the user's other lines kept."""
    lines = open(path).read().splitlines() if os.path.exists(path) else [
        "# The local stack's settings, read by flask, gunicorn, celery and the bench.",
        "# Written by deploy/services.py start; real environment variables win over them."]
    todo = dict(values)
    for i, line in enumerate(lines):
        m = re.match(r"^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=", line)
        if m and m.group(1) in todo:
            lines[i] = f"{m.group(1)}='{todo.pop(m.group(1))}'"
    lines += [f"{key}='{value}'" for key, value in todo.items()]
    tmp = f"{path}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _given(name, port):
    """A URL the user chose (environment first, then .env), or None when it is our local one."""
    value = os.environ.get(name) or read_dotenv().get(name)
    if not value:
        return None
    parts = urlsplit(value)
    try:
        where = (parts.hostname, parts.port)
    except ValueError:   # several hosts (`@db1:5432,db2:5432/`): not the local instance
        return value
    return None if where == ("127.0.0.1", port) else value


def ensure_nginx():
    """Debian's nginx, which deploy/nginx.py runs in front of gunicorn (installed when missing)."""
    if not os.path.exists(NGINX):
        apt_install("nginx")


def start():
    """Start what is local, then write .env; returns the settings written."""
    os.makedirs(os.path.join(VAR, "run"), exist_ok=True)
    os.makedirs(os.path.join(VAR, "log"), exist_ok=True)
    ensure_nginx()
    db, broker = _given("DATABASE_URL", PG_PORT), _given("CELERY_BROKER_URL", AMQP_PORT)
    if db:
        log("using DATABASE_URL as given (not the local instance)")
        test_db = _given("TEST_DATABASE_URL", PG_PORT) or db
    else:
        pg, password = local_postgres(), secret("pg_password")
        pg.start()
        pg.ensure(password, ["dashboard", "dashboard_test"])
        db = pg.url(password, "dashboard")
        test_db = _given("TEST_DATABASE_URL", PG_PORT) or pg.url(password, "dashboard_test")
    if broker:
        log("using CELERY_BROKER_URL as given (not the local instance)")
        test_broker = _given("TEST_BROKER_URL", AMQP_PORT) or broker
    else:
        rabbit = local_rabbit(secret("rabbitmq_password"))
        rabbit.start()
        rabbit.ensure(["dashboard", "dashboard_test"])
        broker = rabbit.url("dashboard")
        test_broker = _given("TEST_BROKER_URL", AMQP_PORT) or rabbit.url("dashboard_test")
    settings = {
        "DATABASE_URL": db, "CELERY_BROKER_URL": broker,
        "SECRET_KEY": secret("secret_key", lambda: secrets.token_urlsafe(48)),
        # supervisord's socket asks for it (deploy/supervisord.conf); the panel sends it.
        "SUPERVISOR_PASSWORD": secret("supervisor_password"),
        "TEST_DATABASE_URL": test_db, "TEST_BROKER_URL": test_broker}
    write_dotenv(settings)
    log(f"ready; settings in {os.path.relpath(DOTENV)}")
    return settings


def stop():
    local_rabbit().stop()
    local_postgres().stop()


def status():
    """One line per service."""
    pg, rabbit = local_postgres(), local_rabbit()
    rows = [("postgresql", "DATABASE_URL", PG_PORT, pg.ready, f"data {pg.data}"),
            ("rabbitmq", "CELERY_BROKER_URL", AMQP_PORT, rabbit.running, f"node {rabbit.node}")]
    return [f"{name}: not ours ({variable} is set)" if _given(variable, port) else
            f"{name}: running on 127.0.0.1:{port} ({where})" if running() else
            f"{name}: not running" for name, variable, port, running, where in rows]


def test_env(name):
    """A database and vhost dashboard_NAME of their own on the running local services.

    Returns {"TEST_DATABASE_URL": ..., "TEST_BROKER_URL": ...}; ServiceError when it cannot.
    """
    if not NAME_RE.match(name or ""):
        raise ServiceError("test-env NAME: 1 to 30 lowercase letters, digits, _")
    if _given("DATABASE_URL", PG_PORT) or _given("CELERY_BROKER_URL", AMQP_PORT):
        raise ServiceError("test-env needs the local services (DATABASE_URL or"
                           " CELERY_BROKER_URL points elsewhere)")
    pg, rabbit = local_postgres(), local_rabbit(secret("rabbitmq_password"))
    if not pg.ready() or not port_open(rabbit.port):
        raise ServiceError(f"test-env {name}: the local PostgreSQL (127.0.0.1:{pg.port}) and"
                           f" RabbitMQ (127.0.0.1:{rabbit.port}) must be running: run"
                           " `python3 deploy/services.py start` (make services)")
    password, dbname = secret("pg_password"), f"dashboard_{name}"
    pg.ensure(password, [dbname])
    rabbit.ensure([dbname])
    return {"TEST_DATABASE_URL": pg.url(password, dbname), "TEST_BROKER_URL": rabbit.url(dbname)}


def main(argv):
    command = argv[0] if argv else ""
    try:
        if command == "start":
            start()
        elif command == "stop":
            stop()
        elif command == "status":
            print("\n".join(status()))
        elif command == "test-env" and len(argv) == 2:
            for key, value in test_env(argv[1]).items():
                print(f"export {key}={shlex.quote(value)}")
        else:
            print(f"usage: {sys.argv[0]} start|stop|status|test-env NAME", file=sys.stderr)
            return 2
    except (ServiceError, OSError, subprocess.SubprocessError, listening.BadListen) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
