"""The htmx response rules, in one place: which requests htmx sent, and how live answers go back.

A page and its live partial share one URL: htmx's requests (`HX-Request: true`) get
the partial, others the page; both are `Cache-Control: no-store` with
`Vary: HX-Request`. A poll whose data did not change gets 204 and no body. An
action answered to htmx is 204 with an `HX-Trigger` event (refresh the live parts,
show a notice), or the reason as plain text with its error status.
"""
import json

from flask import make_response, render_template, request


def is_htmx():
    """True for a request htmx sent (it is answered with a partial)."""
    return request.headers.get("HX-Request") == "true"


def no_store(response, vary=True):
    """A live answer: never cached; `vary` when the page and its partial share the URL."""
    response.headers["Cache-Control"] = "no-store"
    if vary:
        response.headers["Vary"] = "HX-Request"
    return response


def page_or_partial(page, partial, **context):
    """The whole page, or only its partial for htmx; never cached."""
    return no_store(make_response(render_template(partial if is_htmx() else page, **context)))


def unchanged():
    """The poll's "nothing changed": 204, no body, never cached."""
    return no_store(make_response("", 204))


def text(message, status):
    """The reason as plain text with its status (htmx shows it as the notice)."""
    response = make_response(message, status)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response


def done(message):
    """An action that worked: 204 with events that refresh the live parts and show `message`."""
    response = make_response("", 204)
    response.headers["HX-Trigger"] = json.dumps({"refresh": True, "notice": message})
    return response
