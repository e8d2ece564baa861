"""Request body caps: how many bytes a request may send, decided before anything reads it.

Werkzeug reads a urlencoded (or JSON) body whole into memory, and MAX_FORM_MEMORY_SIZE
covers only multipart text fields; the CSRF check and the sign-in rate limit read the
form before any view runs. So the cap belongs to the request itself (Flask's
`request.max_content_length`, read by Werkzeug when the body is first touched), chosen
by the route the URL matched:

- a route marked `@accepts_upload` (the submit form, `POST /api/requests`) takes a body
  up to MAX_UPLOAD_MB (+ room for the other fields) when it can carry a file;
- every other body, and a urlencoded or JSON body on any route, at most
  MAX_BODY_BYTES (default three times MAX_FORM_MEMORY_SIZE + 64 KB: room for params
  at their limit however they are encoded).

Over the cap the answer is 413 from the Content-Length alone, nothing read; a chunked
body is refused once it passes the cap (never parsed cut short). Params themselves have
one limit, MAX_FORM_MEMORY_SIZE (the multipart field limit), whatever the encoding:
`check_params_size`.
"""
from flask import Request, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from dashboard.errors import Refused

# Bodies that never carry a file, whichever route they go to.
NO_FILE_TYPES = ("application/x-www-form-urlencoded", "application/json")
# Percent-encoding turns one byte into at most three ("%22").
URLENCODED_GROWTH = 3
SLACK = 64 * 1024  # the other fields and the multipart framing
DEFAULT_PARAMS_BYTES = 1024 * 1024  # config.py's MAX_FORM_MEMORY_SIZE


def accepts_upload(view):
    """Mark a view whose body may be an upload (up to MAX_UPLOAD_MB); put it right under
    `@bp.route` so it marks the function the route calls."""
    view.accepts_upload = True
    return view


def params_limit():
    """The most bytes params may have, however they are sent (the multipart field limit;
    outside an app, e.g. validating params in a unit test, its default)."""
    return current_app.config["MAX_FORM_MEMORY_SIZE"] if current_app else DEFAULT_PARAMS_BYTES


def no_file_limit():
    """The most bytes a body without a file may have: params at their limit, urlencoded."""
    return (current_app.config.get("MAX_BODY_BYTES")
            or URLENCODED_GROWTH * params_limit() + SLACK)


def _is_upload_route(req):
    """True when the matched view is marked with @accepts_upload."""
    view = current_app.view_functions.get(req.endpoint) if req.endpoint else None
    return bool(getattr(view, "accepts_upload", False))


def body_limit(req):
    """The most bytes this request's body may have."""
    if _is_upload_route(req) and req.mimetype not in NO_FILE_TYPES:
        return current_app.config["MAX_CONTENT_LENGTH"]
    return no_file_limit()


class _CappedStream(LimitedStream):
    """A streamed (chunked) body, refused with 413 once it goes past `cap`.

    Werkzeug's own limit on such a body stops reading at the cap and returns what it has,
    so a longer urlencoded body would be parsed cut short instead of refused.
    """

    def __init__(self, stream, cap):
        super().__init__(stream, cap + 1, is_max=True)
        self.cap = cap

    def readinto(self, b):
        """Read on; one byte past the cap is a 413."""
        size = super().readinto(b)
        if self._pos > self.cap:
            raise RequestEntityTooLarge()
        return size


class CappedRequest(Request):
    """Flask's request, whose body cap depends on the route (see the module docstring)."""

    @property
    def max_content_length(self):
        """An explicit per-request value wins; else the route's cap."""
        if self._max_content_length is not None:
            return self._max_content_length
        return body_limit(self) if current_app else super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value):
        self._max_content_length = value

    @cached_property
    def stream(self):
        """The body, at most max_content_length bytes (413 past it, whatever the framing)."""
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True', reading from"
                               " the input stream is disabled.")
        cap = self.max_content_length
        if (self.content_length is None and cap is not None
                and "wsgi.input_terminated" in self.environ):
            return _CappedStream(self.environ["wsgi.input"], cap)
        return get_input_stream(self.environ, max_content_length=cap)


def too_large_message(req):
    """What a 413 says: which limit the request went over, naming the field."""
    config = current_app.config
    length, limit = req.content_length, req.max_content_length
    params_kb = params_limit() // 1024
    if length is not None and limit is not None and length <= limit:
        # (or another form field is)
        return _("params: larger than the %(value)s KB limit", value=params_kb)
    if limit == config["MAX_CONTENT_LENGTH"] and _is_upload_route(req):
        return _("file: the upload is larger than the %(n)s MB limit", n=config["MAX_UPLOAD_MB"])
    if _is_upload_route(req):
        return _("params: larger than the %(value)s KB limit (a body without a file may have at"
                 " most %(n)s KB)", value=params_kb, n=limit // 1024)
    return _("body: larger than the %(n)s KB this page accepts", n=limit // 1024)


def check_params_size(text):
    """The params text within the params limit (as UTF-8), or Refused 413."""
    limit = params_limit()
    if text is not None and len(str(text).encode("utf-8", "surrogatepass")) > limit:
        raise Refused(_("params: larger than the %(value)s KB limit", value=limit // 1024), 413)


def refuse_declared_oversize():
    """413 for a Content-Length past the cap, whether or not the view would read the body."""
    length, limit = request.content_length, request.max_content_length
    if length is not None and limit is not None and length > limit:
        raise RequestEntityTooLarge()


def init_app(app):
    """Every request of the app gets its route's body cap."""
    app.request_class = CappedRequest
    app.before_request(refuse_declared_oversize)
