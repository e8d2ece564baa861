"""Sign-in, sign-out, sessions, API tokens and the sign-in rate limit."""
import pytest
from sqlalchemy import text

from dashboard.extensions import db
from tests.support.apps import extra_app
from tests.support.db import audit_rows, sql
from tests.support.html import Page
from tests.support.http import csrf_token, sign_in


def _cookie_flags(response):
    """The session cookie's Set-Cookie attributes, lower-cased."""
    cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookie, "no session cookie set"
    return {part.strip().lower() for part in cookie[-1].split(";")[1:]}


def test_sign_in_sets_a_protected_cookie_and_sign_out_ends_it(client, make_user):
    """Right password: redirected to the list; cookie HttpOnly + SameSite=Lax; sign-out works."""
    username, password, _ = make_user("viewer")
    response = sign_in(client, username, password)
    assert response.headers["Location"] == "/"
    flags = _cookie_flags(response)
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags, "plain HTTP: a Secure cookie would never come back"
    page = client.get("/").get_data(as_text=True)
    assert username in page
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user_look_the_same(app, client, make_user):
    """Both answer 401 with one message (no account discovery); both are audited."""
    username, _, _ = make_user("operator")
    wrong = sign_in(client, username, "not the password", expect=401)
    unknown = sign_in(client, "nobody-here", "whatever", expect=401)
    for response in (wrong, unknown):
        assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    failures = audit_rows(app, "sign_in")
    assert [(r["username"], r["outcome"], r["detail"]["reason"]) for r in failures] == [
        (username, "failed", "wrong password"), ("nobody-here", "failed", "unknown user")]
    assert all(r["address"] == "127.0.0.1" for r in failures)


def test_passwords_are_stored_as_argon2_hashes(app, make_user):
    """The users table holds an argon2id hash, never the password."""
    username, password, _ = make_user("viewer")
    row = sql(app, "SELECT password_hash FROM users WHERE username = :u", u=username)[0]
    assert row["password_hash"].startswith("$argon2id$") and password not in row["password_hash"]


def test_after_sign_in_only_local_paths_are_followed(client, make_user):
    """?next= is followed for our own paths, never to another site."""
    username, password, _ = make_user("viewer")
    for target, expected in (("/workers", "/workers"), ("//evil.example/x", "/"),
                             ("https://evil.example/", "/"), ("/\\evil.example", "/")):
        client.get("/login")
        token = csrf_token(client.get("/login?next=x").get_data(as_text=True))
        response = client.post("/login", query_string={"next": target},
                               data={"username": username, "password": password,
                                     "csrf_token": token})
        assert response.headers["Location"] == expected, target
        assert client.get("/logout").status_code == 302  # signed out for the next round


def test_disabled_user_cannot_sign_in_and_loses_session_and_tokens(app, client, make_user):
    """Disabling ends the open session, refuses sign-in and turns the token into 401."""
    username, password, token = make_user("operator")
    sign_in(client, username, password)
    assert client.get("/").status_code == 200
    sql(app, "UPDATE users SET active = false WHERE username = :u", u=username)
    assert client.get("/").status_code == 302, "the open session must end"
    sign_in(app.test_client(), username, password, expect=401)
    api = app.test_client().get("/api/requests", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_password_change_ends_other_sessions(app, client, make_user):
    """A session signed in before a password reset no longer works after it."""
    from dashboard.web.auth import hash_password
    username, password, _ = make_user("viewer")
    sign_in(client, username, password)
    sql(app, "UPDATE users SET password_hash = :h WHERE username = :u",
        h=hash_password("a brand new password"), u=username)
    assert client.get("/").status_code == 302


def test_tokens_are_hashed_and_revocable(app, client, make_user):
    """Only the SHA-256 of a token is stored; a revoked token answers 401."""
    username, _, token = make_user("operator")
    stored = sql(app, "SELECT token_hash FROM api_tokens")
    assert token not in str(stored) and len(stored[0]["token_hash"]) == 64
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/requests", headers=headers).status_code == 200
    sql(app, "UPDATE api_tokens SET revoked_at = now()")
    response = client.get("/api/requests", headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]


def test_role_change_applies_on_the_next_request(app, client, make_user):
    """Demoting an operator to viewer refuses their next kill with 403."""
    username, _, token = make_user("operator")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/requests/retry-failed", headers=headers).status_code == 200
    sql(app, "UPDATE users SET role = 'viewer' WHERE username = :u", u=username)
    assert client.post("/api/requests/retry-failed", headers=headers).status_code == 403


@pytest.fixture
def limited_app(app, clean_db):
    """A second app on the same database with small sign-in budgets: 3 attempts a minute
    per address, 2 failures a minute per address and username, 3 failing addresses an
    hour per username."""
    with extra_app({"TESTING": True, "LOGIN_RATE_LIMIT": "3 per minute",
                    "LOGIN_ADDRESS_USER_LIMIT": "2 per minute",
                    "LOGIN_USER_LIMIT": "3 per hour"}) as limited:
        yield limited


@pytest.fixture
def default_limits_app(app, clean_db, monkeypatch):
    """A second app with the sign-in budgets a deployment gets by default."""
    from dashboard import config
    for name in ("LOGIN_RATE_LIMIT", "LOGIN_ADDRESS_USER_LIMIT", "LOGIN_USER_LIMIT"):
        monkeypatch.delenv(name, raising=False)  # the suite raises them (conftest)
    defaults = config.load()
    with extra_app({"TESTING": True, **{key: value for key, value in defaults.items()
                                        if key.startswith("LOGIN_")}}) as limited:
        yield limited


def _attempt(client, username, address, password="wrong"):
    """One sign-in POST from `address` (a wrong password unless given); returns the answer."""
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def test_sign_in_is_rate_limited_per_address(limited_app, make_user):
    """Four tries from one address with four names: the fourth gets the 429 page."""
    client = limited_app.test_client()
    statuses = [_attempt(client, f"someone{i}", "10.0.0.7").status_code for i in range(3)]
    assert statuses == [401, 401, 401]
    blocked = _attempt(client, "someone9", "10.0.0.7")
    assert blocked.status_code == 429
    body = blocked.get_data(as_text=True)
    assert "Too many attempts" in body and Page(body).find("header", cls="top")
    assert blocked.headers.get("Retry-After")
    assert _attempt(client, "someone9", "10.0.0.8").status_code == 401, "other addresses pass"
    with limited_app.app_context():
        limited = db.session.execute(text(
            "SELECT count(*) FROM audit_log WHERE outcome = 'rate_limited'")).scalar()
    assert limited == 1


def test_guessing_from_one_address_cannot_lock_the_user_out(default_limits_app, make_user):
    """With the default budgets, 30 wrong passwords for a user from one address are
    throttled (429 after 5 failures, even for the right password from that address),
    and the right password from another address signs in."""
    username, password, _ = make_user("viewer", username="guessed-at")
    client = default_limits_app.test_client()
    statuses = [_attempt(client, username, "10.2.0.1").status_code for _ in range(30)]
    assert 429 in statuses, "guessing from one address is throttled"
    other = default_limits_app.test_client()
    answer = _attempt(other, username, "10.2.0.2", password)
    assert answer.status_code == 302 and answer.headers["Location"] == "/", "locked out"
    assert other.get("/").status_code == 200
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    assert _attempt(client, username, "10.2.0.1", password).status_code == 429


def test_sign_in_is_rate_limited_per_address_and_user(limited_app, make_user):
    """Two failures at one name from one address: the third try from there is refused
    with 429, right password or not; the same address may still try another name."""
    username, password, _ = make_user("viewer", username="tried-from-one-address")
    client = limited_app.test_client()
    assert [_attempt(client, username, "10.3.0.1").status_code for _ in range(2)] == [401, 401]
    assert _attempt(client, username, "10.3.0.1", password).status_code == 429


def test_many_addresses_spend_the_users_slow_budget(limited_app, make_user):
    """Failures at one name from three addresses (however many each) spend its hourly
    budget of three addresses: then a fourth address is refused with 429, even with the
    password. The browser that signed in as the user before (its known-device cookie)
    still signs in; a made-up cookie does not help."""
    username, password, _ = make_user("viewer", username="tried-from-many-addresses")
    owner, stranger = limited_app.test_client(), limited_app.test_client()
    assert _attempt(owner, username, "10.1.0.9", password).status_code == 302
    assert owner.get_cookie("known_device", path="/login") is not None
    assert [_attempt(stranger, username, f"10.1.0.{i}").status_code for i in (1, 1, 2, 2)] \
        == [401, 401, 401, 401]
    assert _attempt(stranger, username, "10.1.0.3").status_code == 401, "the third address"
    assert _attempt(stranger, username, "10.1.0.8", password).status_code == 429
    assert _attempt(stranger, "someone-else", "10.1.0.8").status_code == 401
    forged = limited_app.test_client()
    forged.set_cookie("known_device", "WyJ0cmllZC1mcm9tLW1hbnktYWRkcmVzc2VzIl0.x.y", path="/login")
    assert _attempt(forged, username, "10.1.0.6", password).status_code == 429
    assert _attempt(owner, username, "10.1.0.7", password).status_code == 302
