"""Bench users: an operator with an API token, and signed-in browser-like clients."""
import re

from dashboard.web.auth import hash_password, issue_token
from dashboard.extensions import db
from dashboard.models import User

PASSWORD = "bench password 0123"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def ensure_user(app, username, role):
    """Create (or reuse) a user; returns a fresh API token for it."""
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one_or_none()
        if user is None:
            user = User(username=username, role=role, password_hash=hash_password(PASSWORD))
            db.session.add(user)
            db.session.flush()
        token = issue_token(user, "bench")
        db.session.commit()
        return token


def sign_in_test_client(client, username):
    """Sign a Flask test client in through the login form."""
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in of {username} failed: {response.status_code}")


def sign_in_session(session, base_url, username):
    """Sign a requests.Session in against a live server."""
    page = session.get(f"{base_url}/login", timeout=30)
    token = CSRF_RE.search(page.text).group(1)
    response = session.post(f"{base_url}/login", timeout=30, allow_redirects=False, data={
        "csrf_token": token, "username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in of {username} failed: {response.status_code}")
