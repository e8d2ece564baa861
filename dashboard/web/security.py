"""Security headers, HTTPS awareness behind a proxy, and error answers (JSON or a page)."""
import json

from flask import has_request_context, jsonify, make_response, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import audit
from dashboard.extensions import db
from dashboard.web import body_caps, words
from dashboard.web.auth import wants_json

# No inline script or style anywhere in the dashboard (htmx and app.js are files under /static).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")
# Flower's own pages (proxied under /flower/) carry one inline script and inline styles.
FLOWER_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
              "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
              "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")


class HttpsAwareSessions(SecureCookieSessionInterface):
    """The session cookie is Secure when configured so or when this request came over HTTPS."""

    def get_cookie_secure(self, app):
        """Secure on HTTPS (seen through ProxyFix when TRUSTED_PROXIES is set)."""
        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        return has_request_context() and request.is_secure


def pretty_json(value):
    """JSON as readable text (Jinja autoescape then escapes it; `tojson` shows \\u003c for <)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def init_app(app):
    """Headers on every answer; errors in the right shape."""
    app.session_interface = HttpsAwareSessions()
    app.add_template_filter(pretty_json)
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=0)

    @app.after_request
    def headers(response):
        """CSP, no sniffing, no framing, same-origin referrers; HSTS on HTTPS; no-store."""
        flower = request.path == "/flower" or request.path.startswith("/flower/")
        response.headers["Content-Security-Policy"] = FLOWER_CSP if flower else CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        _cache_control(response)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        """400: the form or htmx call came without a valid CSRF token."""
        if _signed_in():
            audit.record_now(audit.action_for(request.endpoint), "csrf_failed",
                             request_id=(request.view_args or {}).get("request_id"),
                             detail={"reason": exc.description})
        return _error(400, _("CSRF check failed: %(why)s Reload the page and try again.",
                              why=_(exc.description)))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        """Any HTTP error as JSON (API) or a page."""
        if exc.code == 429 and request.endpoint == "auth.login":
            audit.record_now("sign_in", "rate_limited",
                             username=(request.form.get("username") or "")[:80] or None)
        response, status = _error(exc.code, words.http_error(exc))
        for name, value in exc.get_headers():
            if name.lower() != "content-type":  # keep Allow (405), Retry-After (429), ...
                response.headers[name] = value
        return response, status

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_away(exc):
        """503 while PostgreSQL is away (the pool reconnects on the next request)."""
        app.logger.warning("database unavailable on %s %s: %s", request.method, request.path,
                           exc.__class__.__name__)
        db.session.rollback()
        return _error(503, _("The database is not answering; try again in a moment."))

    @app.errorhandler(Exception)
    def unexpected(exc):
        """500, logged with the traceback; the answer says nothing more."""
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _error(500, _("Internal error: it has been logged."))


def _cache_control(response):
    """No browser or proxy keeps an answer with data in it: every /api/ and /flower/ answer
    is `no-store`, and so is every other answer that does not choose its own caching (a
    job's images, which never change, say `private, max-age`). Static files keep theirs."""
    path = request.path
    if path in ("/api", "/flower") or path.startswith(("/api/", "/flower/")):
        response.headers["Cache-Control"] = "no-store"
    elif request.endpoint != "static" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


def _signed_in():
    """True when a user is signed in (never raises)."""
    try:
        return current_user.is_authenticated
    except Exception:
        return False


def _error(status, message):
    """One error answer, JSON or page."""
    if status == 413:
        message = body_caps.too_large_message(request)
    if status == 429:
        message = _("Too many attempts: %(limit)s. Wait a minute and try again.", limit=message)
    if wants_json():
        return jsonify(error=message), status
    try:
        return make_response(render_template("error.html", status=status, message=message)), \
            status
    except Exception:  # the page needs the database (current user); answer plainly
        db.session.rollback()
        response = make_response(f"{status}: {message}\n")
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return response, status
