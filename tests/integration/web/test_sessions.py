"""Sessions end server-side: a saved cookie replayed after sign-out or an account change
signs nobody in (dashboard.web.sessions and its trigger)."""
import pytest

from tests.support.db import sql
from tests.support.http import csrf_token, sign_in


def _replay(app, cookie):
    """A new client holding only the saved session cookie."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _signed_out(client):
    """True when the page redirects to sign-in and the API answers 401."""
    page, api = client.get("/"), client.get("/api/requests")
    return (page.status_code == 302 and page.headers["Location"].startswith("/login")
            and api.status_code == 401)


def test_sign_out_ends_the_session_for_a_replayed_cookie(app, client, make_user):
    """Save the cookie, POST /logout, replay it: the sign-in page and 401, not the list."""
    username, password, _ = make_user("operator")
    sign_in(client, username, password)
    saved = client.get_cookie("session").value
    assert _replay(app, saved).get("/").status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert _signed_out(_replay(app, saved))


def test_sign_out_ends_only_that_browser(app, make_user):
    """Signing out in one browser leaves the user's other browser signed in."""
    username, password, _ = make_user("viewer")
    first, second = app.test_client(), app.test_client()
    sign_in(first, username, password)
    sign_in(second, username, password)
    assert first.get("/logout").status_code == 302
    assert _signed_out(first) and second.get("/").status_code == 200


@pytest.fixture
def admin(signed_in):
    """A signed-in admin's client."""
    return signed_in("admin")[0]


def _user_id(app, username):
    """The id of `username`."""
    return sql(app, "SELECT id FROM users WHERE username = :u", u=username)[0]["id"]


@pytest.mark.parametrize("change", ["password", "role", "disable"])
def test_account_changes_end_the_users_sessions(app, admin, make_user, change):
    """Password reset, role change or disabling (then enabling) on the users page: the
    user's saved cookie no longer signs in; signing in again works."""
    username, password, _ = make_user("operator")
    victim = app.test_client()
    sign_in(victim, username, password)
    saved = victim.get_cookie("session").value
    user_id = _user_id(app, username)
    token = csrf_token(admin.get("/users").get_data(as_text=True))
    if change == "password":
        password = "a brand new password"
        answer = admin.post(f"/users/{user_id}/password",
                            data={"password": password, "csrf_token": token})
    elif change == "role":
        answer = admin.post(f"/users/{user_id}/role", data={"role": "viewer", "csrf_token": token})
    else:
        answer = admin.post(f"/users/{user_id}/active", data={"active": "0", "csrf_token": token})
        assert answer.status_code == 303
        answer = admin.post(f"/users/{user_id}/active", data={"active": "1", "csrf_token": token})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    assert _signed_out(_replay(app, saved)), f"the session survived the {change} change"
    again = app.test_client()
    sign_in(again, username, password)
    assert again.get("/").status_code == 200


def test_admin_resetting_their_own_password_stays_signed_in(app, make_user):
    """The admin's own session ends with the reset and a new one starts in the same answer."""
    username, password, _ = make_user("admin")
    client = app.test_client()
    sign_in(client, username, password)
    saved = client.get_cookie("session").value
    token = csrf_token(client.get("/users").get_data(as_text=True))
    answer = client.post(f"/users/{_user_id(app, username)}/password",
                         data={"password": "another long password", "csrf_token": token})
    assert answer.status_code == 303
    assert client.get("/users").status_code == 200
    assert _signed_out(_replay(app, saved))
