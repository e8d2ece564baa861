"""Configuration safety: no development secrets in production, cookies, HTTPS, headers.

Production is the default (DASHBOARD_ENV unset); it refuses the development SECRET_KEY and
weak initial admin passwords, both from create_app and from the `flask --app wsgi` command.
"""
import os
import subprocess

import pytest

from dashboard import config, create_app
from tests.support.apps import extra_app
from tests.support.db import audit_rows
from tests.support.env import BIN, ROOT
from tests.support.html import parse
from tests.support.http import csrf_token, sign_in

GOOD_KEY = "k" * 40
TEMPLATES = os.path.join(ROOT, "templates")


@pytest.fixture
def production(monkeypatch):
    """The environment of a production start (DASHBOARD_ENV unset, no SECRET_KEY)."""
    monkeypatch.delenv("DASHBOARD_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DASHBOARD_ADMIN_PASSWORD", raising=False)
    return monkeypatch


def _built(extra=None):
    """create_app with `extra`; its pool closed and the previous Celery default restored."""
    with extra_app(extra) as built:
        return built


@pytest.mark.parametrize("key", [None, config.DEV_SECRET_KEY, "short-key"])
def test_production_refuses_development_or_weak_key(production, key):
    """No key, the development key or a short key: create_app raises, naming SECRET_KEY."""
    if key is not None:
        production.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError, match="SECRET_KEY is unset or the development default"):
        create_app()
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"TESTING": True})  # testing mode does not weaken production's rule


def test_production_refuses_weak_admin_password(production):
    """A set but guessable DASHBOARD_ADMIN_PASSWORD stops a production start."""
    production.setenv("SECRET_KEY", GOOD_KEY)
    production.setenv("DASHBOARD_ADMIN_PASSWORD", "admin")
    with pytest.raises(RuntimeError, match="DASHBOARD_ADMIN_PASSWORD is too weak"):
        create_app()


def test_production_starts_with_real_secrets(production):
    """A long SECRET_KEY (and no admin password: it will be generated) starts fine."""
    production.setenv("SECRET_KEY", GOOD_KEY)
    built = _built()
    assert built.config["ENV"] == "production" and built.config["SECRET_KEY"] == GOOD_KEY


def test_development_may_use_the_development_key(production):
    """DASHBOARD_ENV=development accepts the default key (tests only; the stack has its own)."""
    production.setenv("DASHBOARD_ENV", "development")
    assert _built().config["SECRET_KEY"] == config.DEV_SECRET_KEY


def _flask(env):
    """`flask --app wsgi routes` with `env`: (exit code, output)."""
    done = subprocess.run([os.path.join(BIN, "flask"), "--app", "wsgi", "routes"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_flask_command_refuses_to_start_in_production_with_dev_key():
    """The real entry point exits non-zero with the reason; with a real key it starts."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DASHBOARD_ENV", "SECRET_KEY", "DASHBOARD_ADMIN_PASSWORD")}
    code, output = _flask(env)
    assert code != 0
    assert "SECRET_KEY is unset or the development default" in output
    code, output = _flask({**env, "SECRET_KEY": GOOD_KEY})
    assert code == 0, output
    assert "/flower/<path:path>" in output and "/api/openapi.json" in output


def test_env_numbers_are_checked(production):
    """A non-number in MAX_UPLOAD_MB is named in the error, not a bare ValueError."""
    production.setenv("DASHBOARD_ENV", "development")
    production.setenv("MAX_UPLOAD_MB", "lots")
    with pytest.raises(RuntimeError, match="MAX_UPLOAD_MB='lots' is not a valid int"):
        create_app()


def _secure(response):
    """True when the response's session cookie carries the Secure flag."""
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie"
    return "secure" in [p.strip().lower() for p in cookies[-1].split(";")]


def test_cookie_is_secure_over_https(app, clean_db):
    """Served over HTTPS the session cookie is Secure and HSTS is sent; over HTTP neither."""
    plain = app.test_client().get("/login")
    assert not _secure(plain) and "Strict-Transport-Security" not in plain.headers
    https = app.test_client().get("/login", base_url="https://dashboard.example")
    assert _secure(https) and https.headers["Strict-Transport-Security"].startswith("max-age=")


def test_https_behind_a_trusted_proxy(app, make_user):
    """With TRUSTED_PROXIES=1, X-Forwarded-Proto/-For count; without it they are ignored."""
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert not _secure(app.test_client().get("/login", headers=forwarded)), \
        "an untrusted X-Forwarded-Proto must not change anything"
    behind = _built({"TESTING": True, "TRUSTED_PROXIES": 1})
    client = behind.test_client()
    assert _secure(client.get("/login", headers=forwarded))
    username, password, _ = make_user("viewer")
    token = csrf_token(client.get("/login", headers=forwarded).get_data(as_text=True))
    client.post("/login", headers={**forwarded, "Referer": "https://localhost/login"},
                data={"username": username, "password": "wrong", "csrf_token": token})
    assert audit_rows(app, "sign_in")[-1]["address"] == "203.0.113.9"


def test_secure_cookie_can_be_forced(app, clean_db):
    """SESSION_COOKIE_SECURE=1 marks the cookie Secure even on plain HTTP."""
    forced = _built({"TESTING": True, "SESSION_COOKIE_SECURE": True})
    assert _secure(forced.test_client().get("/login"))


def test_security_headers_everywhere(app, make_user):
    """Pages, partials, JSON, errors and static files carry CSP, nosniff, no framing, referrer."""
    client = app.test_client()
    username, password, token = make_user("operator")
    sign_in(client, username, password)
    answers = [client.get("/"), client.get("/", headers={"HX-Request": "true"}),
               client.get("/api/requests"), client.get("/requests/999999"),
               client.get("/api/nope"), client.get("/static/app.css"), client.get("/login")]
    for response in answers:
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        response.close()


def inline_code(html):
    """What a CSP without 'unsafe-inline' would block (or what needs eval): inline script,
    <style> blocks, event-handler and style attributes, javascript: URLs."""
    found = []
    for node in list(parse(html).iter())[1:]:
        data_block = node.attrs.get("type") == "application/json"   # read, never run
        if node.tag == "script" and "src" not in node.attrs and not data_block:
            found.append("inline <script>")
        if node.tag == "style":
            found.append("<style> block")
        for name, value in node.attrs.items():
            if name.startswith("on") or name.startswith("hx-on") or name == "style":
                found.append(f"{node.tag} {name}=")
            if value and value.strip().lower().startswith("javascript:"):
                found.append(f"{node.tag} {name}=javascript:")
    return found


def test_templates_have_no_inline_script_or_style():
    """Every template obeys the CSP: no inline <script>, no on* handlers, no style= attributes."""
    problems, read = [], []
    for folder, _, files in os.walk(TEMPLATES):
        for name in files:
            if name.endswith(".html"):
                with open(os.path.join(folder, name)) as fh:
                    problems += [f"{name}: {p}" for p in inline_code(fh.read())]
                read.append(name)
    assert "base.html" in read, f"no template read under {TEMPLATES}"
    assert problems == []
    found = inline_code('<div style="x" onclick="y"><script>1</script>'
                        '<script type="application/json">{}</script></div>')
    assert len(found) == 3, "the finder itself must see what it looks for"
