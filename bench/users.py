"""Bench users: an operator with an API token, and signed-in browser-like clients."""
import re

from tests.support.seed import create_user

PASSWORD = "bench password 0123"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def ensure_user(app, username, role):
    """Create (or reuse) a user with the bench password; returns a fresh API token for it."""
    return create_user(app, role, username, PASSWORD)


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
