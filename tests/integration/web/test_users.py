"""The users page (admins) and the `flask users` commands.

Create, change role, disable/enable, reset password, create/revoke API tokens: each takes
effect at once, secrets are shown once and stored hashed, and each change is audited.
"""
import pytest
from sqlalchemy import select

from dashboard.web.auth import hash_password
from dashboard.extensions import db
from dashboard.models import User
from tests.support.db import audit_rows, sql
from tests.support.html import Page
from tests.support.http import csrf_token, sign_in


@pytest.fixture
def admin(signed_in):
    """(client signed in as an admin, its CSRF token)."""
    client, _, _ = signed_in("admin")
    return client, csrf_token(client.get("/users").get_data(as_text=True))


def _user(app, username):
    """The users row, or None."""
    rows = sql(app, "SELECT * FROM users WHERE username = :u", u=username)
    return rows[0] if rows else None


def _signed_in_user(app, make_user, role):
    """A new user with `role`, signed in on a client of its own:
    (client, username, password, API token, user id)."""
    username, password, api_token = make_user(role)
    client = app.test_client()
    sign_in(client, username, password)
    return client, username, password, api_token, _user(app, username)["id"]


def _secret(response):
    """The value shown once on the page."""
    return Page(response.get_data(as_text=True)).text["secret-value"].strip()


def test_create_user_with_generated_password_shown_once(app, admin):
    """A blank password is generated, shown once, works for sign-in, and is not shown again."""
    client, token = admin
    response = client.post("/users", data={"csrf_token": token, "username": "carol",
                                           "role": "operator", "password": ""})
    assert response.status_code == 201
    password = _secret(response)
    assert len(password) >= 12 and _user(app, "carol")["role"] == "operator"
    assert password not in client.get("/users").get_data(as_text=True)
    sign_in(app.test_client(), "carol", password)
    entry = audit_rows(app, "user_create")[-1]
    assert entry["outcome"] == "ok" and entry["detail"]["user"] == "carol"
    assert password not in str(audit_rows(app))


@pytest.mark.parametrize("form, status, message", [
    ({"username": "", "role": "viewer", "password": "long enough pw"}, 422, "username:"),
    ({"username": "<script>", "role": "viewer", "password": "long enough pw"}, 422,
     "username:"),
    ({"username": "dave", "role": "root", "password": "long enough pw"}, 422, "role:"),
    ({"username": "dave", "role": "viewer", "password": "short"}, 422, "password:"),
])
def test_create_user_refuses_bad_input(app, admin, form, status, message):
    """Bad names, roles or passwords: the page again with the reason, nobody created."""
    client, token = admin
    response = client.post("/users", data={"csrf_token": token, **form})
    assert response.status_code == status
    assert Page(response.get_data(as_text=True)).text["form-error"].startswith(message)
    assert sql(app, "SELECT count(*) AS n FROM users")[0]["n"] == 1
    assert audit_rows(app, "user_create")[-1]["outcome"] == "refused"


def test_duplicate_username_is_409(app, admin, make_user):
    """An existing name is refused and the existing user is untouched."""
    client, token = admin
    username, password, _ = make_user("viewer")
    response = client.post("/users", data={"csrf_token": token, "username": username,
                                           "role": "admin", "password": "long enough pw"})
    assert response.status_code == 409 and _user(app, username)["role"] == "viewer"


def test_change_role_takes_effect(app, admin, make_user):
    """Promoting a viewer lets their token kill/retry at once; demoting takes it away."""
    client, token = admin
    username, _, api_token = make_user("viewer")
    headers = {"Authorization": f"Bearer {api_token}"}
    user_id = _user(app, username)["id"]
    assert app.test_client().post("/api/requests/retry-failed", headers=headers).status_code \
        == 403
    done = client.post(f"/users/{user_id}/role", data={"csrf_token": token, "role": "operator"})
    assert done.status_code == 303
    assert app.test_client().post("/api/requests/retry-failed", headers=headers).status_code \
        == 200
    entry = audit_rows(app, "user_role")[-1]
    assert entry["detail"]["from"] == "viewer" and entry["detail"]["to"] == "operator"


def test_disable_and_enable(app, admin, make_user):
    """Disabled: the user's session ends, sign-in and token fail; enabled: they work again."""
    client, token = admin
    victim, username, password, api_token, user_id = _signed_in_user(app, make_user, "operator")
    client.post(f"/users/{user_id}/active", data={"csrf_token": token, "active": "0"})
    assert victim.get("/").status_code == 302
    sign_in(app.test_client(), username, password, expect=401)
    headers = {"Authorization": f"Bearer {api_token}"}
    assert app.test_client().get("/api/requests", headers=headers).status_code == 401
    client.post(f"/users/{user_id}/active", data={"csrf_token": token, "active": "1"})
    assert app.test_client().get("/api/requests", headers=headers).status_code == 200
    assert [r["action"] for r in audit_rows(app) if r["action"].startswith("user_")] == \
        ["user_disable", "user_enable"]


def test_last_admin_cannot_be_disabled_or_demoted(app, admin):
    """The only active admin stays an active admin (409), so nobody is locked out."""
    client, token = admin
    me = sql(app, "SELECT id FROM users WHERE role = 'admin'")[0]["id"]
    assert client.post(f"/users/{me}/active", data={"csrf_token": token, "active": "0"}) \
        .status_code == 409
    assert client.post(f"/users/{me}/role", data={"csrf_token": token, "role": "viewer"}) \
        .status_code == 409
    row = sql(app, "SELECT role, active FROM users WHERE id = :i", i=me)[0]
    assert row == {"role": "admin", "active": True}


def test_reset_password(app, admin, make_user):
    """A reset: old password refused, new one works, the user's open session ends."""
    client, token = admin
    victim, username, password, _, user_id = _signed_in_user(app, make_user, "viewer")
    done = client.post(f"/users/{user_id}/password",
                       data={"csrf_token": token, "password": "the new password 1"})
    assert done.status_code == 303
    assert victim.get("/").status_code == 302
    sign_in(app.test_client(), username, password, expect=401)
    sign_in(app.test_client(), username, "the new password 1")
    generated = client.post(f"/users/{user_id}/password", data={"csrf_token": token})
    sign_in(app.test_client(), username, _secret(generated))
    assert client.get("/").status_code == 200, "the admin stays signed in"


def test_tokens_created_once_and_revoked(app, admin, make_user):
    """A new token is shown once, works, only its hash is stored; revoked, it answers 401."""
    client, token = admin
    username, _, _ = make_user("operator")
    user_id = _user(app, username)["id"]
    response = client.post(f"/users/{user_id}/tokens", data={"csrf_token": token,
                                                             "name": "ci <b>bot</b>"})
    assert response.status_code == 201
    new_token = _secret(response)
    assert new_token.startswith("rq_")
    assert new_token not in str(sql(app, "SELECT * FROM api_tokens"))
    assert new_token not in client.get("/users").get_data(as_text=True)
    headers = {"Authorization": f"Bearer {new_token}"}
    assert app.test_client().get("/api/requests", headers=headers).status_code == 200
    token_id = sql(app, "SELECT id FROM api_tokens WHERE name = 'ci <b>bot</b>'")[0]["id"]
    assert "ci &lt;b&gt;bot&lt;/b&gt;" in client.get("/users").get_data(as_text=True)
    revoked = client.post(f"/users/{user_id}/tokens/{token_id}/revoke",
                          data={"csrf_token": token})
    assert revoked.status_code == 303
    assert app.test_client().get("/api/requests", headers=headers).status_code == 401
    assert [r["action"] for r in audit_rows(app) if r["action"].startswith("token_")] == \
        ["token_create", "token_revoke"]
    other = client.post(f"/users/{user_id + 1000}/tokens/{token_id}/revoke",
                        data={"csrf_token": token})
    assert other.status_code == 404


def test_cli_users_and_tokens(app, clean_db):
    """`flask users create/token/revoke/disable`: users made, tokens printed once, revocable."""
    cli = app.test_cli_runner()

    class runner:  # the `flask` command pushes an app context; the test runner does not
        @staticmethod
        def invoke(args):
            """Run the command inside an app context."""
            with app.app_context():
                return cli.invoke(args=args)

    made = runner.invoke(args=["users", "create", "erin", "--role", "operator",
                               "--password", "long enough pw"])
    assert made.exit_code == 0, made.output
    short = runner.invoke(args=["users", "create", "frank", "--password", "short"])
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    printed = runner.invoke(args=["users", "token", "erin"]).output.strip()
    headers = {"Authorization": f"Bearer {printed}"}
    client = app.test_client()
    assert client.post("/api/requests/retry-failed", headers=headers).status_code == 200
    assert runner.invoke(args=["users", "revoke", "erin", "--all"]).exit_code == 0
    assert client.get("/api/requests", headers=headers).status_code == 401
    second = runner.invoke(args=["users", "token", "erin"]).output.strip()
    assert runner.invoke(args=["users", "disable", "erin"]).exit_code == 0
    assert client.get("/api/requests",
                      headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert [r["action"] for r in audit_rows(app) if r["username"] == "cli"] == [
        "user_create", "token_create", "token_revoke", "token_create", "user_disable"]


def test_ensure_admin_prints_a_password_that_signs_in(app, clean_db, tmp_path, monkeypatch):
    """`flask users ensure-admin`: creates admin with a generated password it prints and keeps;
    once the admin changed it, the old one is not printed as if it still worked."""
    cli, password_file = app.test_cli_runner(), str(tmp_path / "admin_password")
    args = ["users", "ensure-admin", "--username", "boss", "--password-file", password_file]
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", "")

    def printed_password():
        with app.app_context():
            result = cli.invoke(args=args)
        assert result.exit_code == 0, result.output
        return result.output.split("Password:", 1)[1].strip()

    first = printed_password()
    assert (tmp_path / "admin_password").read_text().strip() == first
    client = app.test_client()
    assert sign_in(client, "boss", first).status_code == 302
    assert printed_password() == first               # again: same admin, same password
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username="boss")).scalar_one()
        user.password_hash = hash_password("a brand new secret 42")
        db.session.commit()
    shown = printed_password()
    assert first not in shown and "changed since" in shown


@pytest.mark.parametrize("field,value", [("role", "operator"), ("active", "0")])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, signed_in, field,
                                                                value):
    """Two admins demote (or disable) each other at the same moment: one change is made
    (303), the other refused (409), and one active admin remains. The audit table is held
    locked until both requests are inside their transactions, so they really overlap."""
    import threading

    from tests.support.procs import wait_for
    first, first_name, _ = signed_in("admin")
    second, second_name, _ = signed_in("admin")
    ids = {r["username"]: r["id"] for r in sql(app, "SELECT id, username FROM users")}
    tokens = [csrf_token(c.get("/users").get_data(as_text=True)) for c in (first, second)]
    answers = {}

    def demote(client, token, other):
        """One admin's POST against the other."""
        answers[other] = client.post(f"/users/{ids[other]}/{field}",
                                     data={field: value, "csrf_token": token}).status_code

    with app.app_context():
        holder = db.engine.connect()
        blocker = holder.begin()
        holder.exec_driver_sql("LOCK TABLE audit_log IN SHARE MODE")
        threads = [threading.Thread(target=demote, args=(first, tokens[0], second_name)),
                   threading.Thread(target=demote, args=(second, tokens[1], first_name))]
        try:
            for thread in threads:
                thread.start()

            def both_waiting():
                """Both requests wait on a lock (the audit table's or an admin row's)."""
                holder.exec_driver_sql("SELECT pg_stat_clear_snapshot()")  # not the cached view
                return holder.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'").scalar() >= 2
            wait_for(both_waiting, 20, what="both demotions waiting on a lock")
        finally:
            blocker.rollback()
            holder.close()
        for thread in threads:
            thread.join(30)
    assert sorted(answers.values()) == [303, 409], answers
    admins = sql(app, "SELECT username FROM users WHERE role = 'admin' AND active")
    assert len(admins) == 1, "exactly one active admin remains"
