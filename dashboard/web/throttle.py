"""Sign-in throttling that slows guessing without letting a stranger lock anyone out.

Three budgets (Flask-Limiter, on the sign-in POST; RATELIMIT_STORAGE_URI says where
they are counted):

- per address, every attempt: LOGIN_RATE_LIMIT (10 per minute);
- per address and username, failures only: LOGIN_ADDRESS_USER_LIMIT (5 per minute);
- per username, failures counted once per address and window: LOGIN_USER_LIMIT
  (20 per hour). However many passwords one address tries, it spends one unit of the
  username's budget, so locking a user out takes 20 addresses within the hour, while
  guessing from one address stays at 5 a minute.

A browser that has signed in as a username before carries a signed "known device"
cookie naming it (OWASP's device cookies); its attempts at that username are not held
to the username's budget, so even many addresses guessing cannot lock the user out of
their usual browser. The other two budgets still apply to it.

A refused attempt answers 429 before the password is checked, right or wrong, so the
refusal says nothing about the password.
"""
import re

from flask import current_app, request, url_for
from flask_limiter.util import get_remote_address
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import parse

from dashboard.extensions import limiter

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
DEVICE_COOKIE = "known_device"
DEVICE_MAX_AGE_S = 180 * 24 * 3600
DEVICE_NAMES = 5  # usernames one browser remembers


def typed_username():
    """The username from the form, trimmed, capped and without control characters."""
    return _UNPRINTABLE.sub("", request.form.get("username", "") or "").strip()[:80]


def per_address():
    """Attempts allowed per address."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def per_address_and_user():
    """Failures allowed per address and username."""
    return current_app.config["LOGIN_ADDRESS_USER_LIMIT"]


def per_user():
    """Failing addresses allowed per username."""
    return current_app.config["LOGIN_USER_LIMIT"]


def address_and_user_key():
    """Rate-limit key: this address trying this username."""
    return f"address-user:{get_remote_address()}:{typed_username().lower()}"


def user_key():
    """Rate-limit key: the username, whatever address tries it."""
    return "user:" + typed_username().lower()


def failed(response):
    """Count the attempt: the password was checked and was wrong (or the user disabled)."""
    return response.status_code == 401


def first_failure_from_address(response):
    """Count the attempt against the username's budget only for this address's first
    failure at it within the budget's window."""
    if not failed(response):
        return False
    budget = parse(per_user())
    once = type(budget)(1, budget.multiples, "login-first-failure")
    return limiter.limiter.hit(once, address_and_user_key())


def _devices():
    """Signs and checks the known-device cookie with the app's secret key."""
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def _known_names():
    """The usernames this browser signed in as (lower-cased), from its signed cookie."""
    raw = request.cookies.get(DEVICE_COOKIE)
    try:
        names = _devices().loads(raw, max_age=DEVICE_MAX_AGE_S) if raw else []
    except BadData:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def known_device():
    """True when this browser signed in as the typed username before."""
    return typed_username().lower() in _known_names()


def remember_device(response, username):
    """After a sign-in: the browser's cookie names `username` too (the last few kept)."""
    names = [n for n in _known_names() if n != username.lower()][-(DEVICE_NAMES - 1):]
    response.set_cookie(
        DEVICE_COOKIE, _devices().dumps(names + [username.lower()]), max_age=DEVICE_MAX_AGE_S,
        path=url_for("auth.login"), httponly=True, samesite="Lax",
        secure=current_app.session_interface.get_cookie_secure(current_app))
    return response
