"""Security headers and error answers (JSON for the API, a page for browsers)."""
from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .auth import wants_json

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")


def init_app(app):
    """Headers on every answer; errors in the right shape."""

    @app.after_request
    def headers(response):
        if not request.path.startswith("/flower"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error(400, f"CSRF check failed: {exc.description}")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return _error(exc.code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "Internal error: it has been logged.")


def _error(status, message):
    """One error answer, JSON or page."""
    if status == 413:
        limit = request.max_content_length or 0
        message = f"file: the upload is larger than the {limit // (1024 * 1024)} MB limit"
    if status == 429:
        message = f"Too many attempts: {message}. Wait a minute and try again."
    if wants_json():
        return jsonify(error=message), status
    return render_template("error.html", status=status, message=message), status
