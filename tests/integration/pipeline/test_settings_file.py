"""The settings file: the local stack's `.env`, read by every entry point by itself; bad settings.

A copy of the checkout (no .venv build, no var/) gets its `.env` from the real
`python3 deploy/services.py start`, told to use the test database and broker as
existing servers; then the README's commands run there with nothing of ours in
their environment. A bad setting must be one line and a non-zero exit, for the
flask CLI, gunicorn and every celery program.
"""
import os
import shutil
import signal
import subprocess
import sys

import pytest
import requests
from flask import Flask
from itsdangerous import BadSignature
from kombu import Connection
from sqlalchemy import create_engine, select, text

from dashboard import config
from dashboard.extensions import db
from dashboard.models import User
from deploy import services
from deploy import stack as procs
from tests.support.env import BIN, ROOT
from tests.support.procs import free_port, wait_for

# What a login shell has; nothing of the dashboard's.
BARE_ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
# The service manager runs before .venv exists: the system python3, standard library only.
SYSTEM_PYTHON = shutil.which("python3", path=os.defpath) or sys.executable
KEEP_OUT = shutil.ignore_patterns(".git", ".venv", "var", ".env", "__pycache__", ".pytest_cache")


def _run(argv, cwd, env, timeout=120):
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def checkout(tmp_path, clean_db):
    """A copy of the tree whose .env the service manager wrote (test database and broker)."""
    root = tmp_path / "checkout"
    shutil.copytree(ROOT, root, ignore=KEEP_OUT)
    os.symlink(os.path.join(ROOT, ".venv"), root / ".venv")
    # Other ports: the test servers count as existing servers, so nothing is started.
    code, out, err = _run([SYSTEM_PYTHON, "deploy/services.py", "start"], root, {
        **BARE_ENV, "PG_PORT": "1", "AMQP_PORT": "1",
        "DATABASE_URL": os.environ["TEST_DATABASE_URL"],
        "CELERY_BROKER_URL": os.environ["TEST_BROKER_URL"]})
    assert code == 0, out + err
    return root


def _dotenv(root):
    from dotenv import dotenv_values
    return dotenv_values(root / ".env")


def test_service_manager_writes_one_settings_file(checkout):
    """.env holds the URLs, the test URLs and a random SECRET_KEY kept under var/secrets/."""
    values = _dotenv(checkout)
    assert values["DATABASE_URL"] == os.environ["TEST_DATABASE_URL"]
    assert values["CELERY_BROKER_URL"] == os.environ["TEST_BROKER_URL"]
    assert {"TEST_DATABASE_URL", "TEST_BROKER_URL"} <= set(values)
    with open(checkout / "var" / "secrets" / "secret_key") as fh:
        key = fh.read().strip()
    assert values["SECRET_KEY"] == key and len(key) >= 32 and key != config.DEV_SECRET_KEY
    assert oct(os.stat(checkout / ".env").st_mode & 0o777) == "0o600"
    # Idempotent: a second start keeps the key and the user's own lines.
    with open(checkout / ".env", "a") as fh:
        fh.write("POLL_INTERVAL_S=3\n")
    code, out, err = _run([SYSTEM_PYTHON, "deploy/services.py", "start"], checkout, {
        **BARE_ENV, "PG_PORT": "1", "AMQP_PORT": "1"})
    assert code == 0, out + err
    again = _dotenv(checkout)
    assert again["SECRET_KEY"] == key and again["POLL_INTERVAL_S"] == "3"
    assert again["DATABASE_URL"] == values["DATABASE_URL"], "the .env URL is kept as given"


def test_readme_user_commands_work_with_only_the_settings_file(app, checkout):
    """`flask --app wsgi users create` and `users token` as the README writes them, no exports."""
    flask = [os.path.join(BIN, "flask"), "--app", "wsgi", "users"]
    code, out, err = _run([*flask, "create", "alice", "--role", "operator",
                           "--password", "a long password"], checkout, BARE_ENV)
    assert code == 0, out + err
    assert "user alice (operator) ready" in out
    code, token, err = _run([*flask, "token", "alice"], checkout, BARE_ENV)
    assert code == 0, token + err
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "alice")).scalar_one()
        assert user.role == "operator"
        db.session.rollback()
    answer = app.test_client().get("/api/requests",
                                   headers={"Authorization": f"Bearer {token.strip()}"})
    assert answer.status_code == 200


def test_celery_reads_the_settings_file(checkout):
    """`celery -A worker` finds the broker in .env by itself."""
    vhost = _dotenv(checkout)["CELERY_BROKER_URL"].rsplit("/", 1)[1]
    code, out, err = _run([os.path.join(BIN, "celery"), "-A", "worker", "report"], checkout,
                          BARE_ENV)
    assert code == 0, out + err
    assert f"/{vhost}'" in out and "broker_url" in out


def test_environment_wins_over_the_file_and_a_bad_file_value_is_one_line(checkout):
    """A bad MAX_UPLOAD_MB in .env stops the CLI with one line; the same variable set in the
    environment wins over the file."""
    with open(checkout / ".env", "a") as fh:
        fh.write("MAX_UPLOAD_MB=lots\n")
    routes = [os.path.join(BIN, "flask"), "--app", "wsgi", "routes"]
    code, out, err = _run(routes, checkout, BARE_ENV)
    assert code != 0 and out == ""
    assert err.strip() == "configuration error: MAX_UPLOAD_MB='lots' is not a valid int"
    code, out, err = _run(routes, checkout, {**BARE_ENV, "MAX_UPLOAD_MB": "10"})
    assert code == 0, err
    assert "/api/requests" in out


def test_local_stack_cookies_do_not_verify_with_the_development_key(checkout):
    """gunicorn as supervisord runs it, from .env alone: the session cookie is signed with the
    generated key, so the public development key cannot forge or read it."""
    port = free_port()
    with open(checkout / "var" / "log" / "web.log", "ab") as log:
        web = subprocess.Popen(procs.web_argv(port, workers=1, threads=2), cwd=checkout,
                               env=BARE_ENV, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: procs.answers(f"{url}/healthz", timeout=0.5), 60, what="gunicorn")
        cookie = requests.get(f"{url}/login", timeout=10).cookies["session"]
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)

    def verifies(key):
        """True when Flask's session signer with `key` accepts the cookie."""
        signer_app = Flask(__name__)
        signer_app.secret_key = key
        try:
            signer_app.session_interface.get_signing_serializer(signer_app).loads(cookie)
            return True
        except BadSignature:
            return False
    assert not verifies(config.DEV_SECRET_KEY)
    assert verifies(_dotenv(checkout)["SECRET_KEY"])


BAD_SETTINGS = [
    ({}, "SECRET_KEY is unset or the development default"),
    ({"SECRET_KEY": "k" * 40, "DATABASE_URL": "mysql://root@db/x"},
     "DATABASE_URL is not a PostgreSQL URL"),
    ({"SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://u:secretpw@h:port/x"},
     "DATABASE_URL is not a PostgreSQL URL"),
    ({"SECRET_KEY": "k" * 40, "CELERY_BROKER_URL": "redis://x"},
     "CELERY_BROKER_URL is not a RabbitMQ URL"),
    ({"SECRET_KEY": "k" * 40, "LOG_LEVEL": "chatty"}, "LOG_LEVEL='CHATTY' is not one of"),
]
PROGRAMS = {
    "flask": ["flask", "--app", "wsgi", "users", "create", "bob", "--password", "x" * 20],
    "celery worker": ["celery", "-A", "worker", "worker", "--pool", "solo"],
    "celery beat": ["celery", "-A", "worker", "beat"],
    "celery flower": ["celery", "-A", "worker", "flower", "--port", "1"],
    "gunicorn": ["gunicorn", "--bind", "127.0.0.1:1", "wsgi:app"],
}


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("settings, message", BAD_SETTINGS[:1] + BAD_SETTINGS[1:2])
def test_bad_setting_is_one_line_and_a_non_zero_exit(program, settings, message):
    """Each entry point prints one line naming the variable, exits non-zero, no traceback."""
    argv = PROGRAMS[program]
    env = {**BARE_ENV, "FLASK_SKIP_DOTENV": "1", **settings}   # not the local stack's .env
    code, out, err = _run([os.path.join(BIN, argv[0]), *argv[1:]], ROOT, env)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert code != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith("configuration error: ") and message in lines[0]


@pytest.mark.parametrize("settings, message", BAD_SETTINGS)
def test_every_bad_setting_names_its_variable(settings, message):
    """The flask CLI names each bad variable, and never prints a URL's password."""
    env = {**BARE_ENV, "FLASK_SKIP_DOTENV": "1", **settings}
    code, out, err = _run([os.path.join(BIN, "flask"), "--app", "wsgi", "routes"], ROOT, env)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "secretpw" not in err


def _local_services_running():
    return [line.split(":")[1].strip().split()[0] for line in services.status()] == \
        ["running", "running"]


@pytest.mark.skipif(not _local_services_running(), reason="the local services are not running")
def test_test_env_gives_a_database_and_vhost_of_its_own_every_time():
    """`test-env NAME` (system python3) prints the same working URLs on every call."""
    argv = [SYSTEM_PYTHON, "deploy/services.py", "test-env", "settings_probe"]
    env = {**BARE_ENV, **{k: v for k, v in os.environ.items()
                          if k in ("PG_PORT", "AMQP_PORT", "RABBITMQ_DIST_PORT",
                                   "RABBITMQ_NODENAME")}}
    first, second = _run(argv, ROOT, env), _run(argv, ROOT, env)
    assert first[0] == 0 and first == second, first
    urls = dict(line.removeprefix("export ").split("=", 1) for line in first[1].splitlines())
    assert urls["TEST_DATABASE_URL"].endswith("/dashboard_settings_probe")
    engine = create_engine(urls["TEST_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar() == \
            "dashboard_settings_probe"
    engine.dispose()
    with Connection(urls["TEST_BROKER_URL"], connect_timeout=5) as conn:
        conn.connect()
        assert conn.connected
    code, _, err = _run([*argv[:3], "Bad-Name"], ROOT, env)
    assert code == 1 and "lowercase letters, digits, _" in err


def test_a_database_that_cannot_be_reached_is_one_line_for_the_cli():
    """`flask users create` and `flask db upgrade` against a wrong DATABASE_URL (nothing listens,
    or a wrong password) say which server in one line, without the password or a traceback."""
    wrong_password = os.environ["TEST_DATABASE_URL"].replace("://dashboard:", "://dashboard:no", 1)
    for url, reason in (("postgresql://dashboard:secretpw@127.0.0.1:1/dashboard", "refused"),
                        (wrong_password, "password authentication failed")):
        for command in (["users", "create", "bob", "--password", "a long password"],
                        ["db", "upgrade"]):
            env = {**BARE_ENV, "FLASK_SKIP_DOTENV": "1", "SECRET_KEY": "k" * 40,
                   "DATABASE_URL": url}
            code, out, err = _run([os.path.join(BIN, "flask"), "--app", "wsgi", *command],
                                  ROOT, env)
            lines = [line for line in (out + err).splitlines() if line.strip()
                     and not line.startswith("INFO  [alembic")]
            assert code != 0 and len(lines) == 1, lines
            assert lines[0].startswith("database error: cannot connect with DATABASE_URL")
            assert reason in lines[0] and "secretpw" not in lines[0]
