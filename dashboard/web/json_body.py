"""The one reader of JSON request bodies: every JSON endpoint of the API reads its body here.

No body at all is the endpoint's choice (a default, or 400); a body of another type is
415; a body that is not JSON, not UTF-8, or nested deeper than MAX_DEPTH is 400; JSON
that is not an object is 422. Each refusal is a dashboard.errors.Refused naming the body.
"""
import json

from flask import request

from dashboard.errors import Refused

# Deeper than any job's params; deep enough nesting would exhaust the parser's stack.
MAX_DEPTH = 32


def _too_deep(value):
    """True when `value` nests objects and arrays more than MAX_DEPTH levels deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                   else item))
    return False


def json_body(example, empty=None):
    """The JSON object the request sent: the one reader of every API body.

    No body at all (zero bytes, whatever its type): `empty`, or 400 when `empty` is None.
    A body that is not `application/json`: 415. Not JSON (or not UTF-8), or nested more
    than MAX_DEPTH levels deep: 400. JSON that is not an object: 422. `example` is the
    object shown in the message, e.g. '{"n": 1}'."""
    data = request.get_data(cache=True)
    if not data:
        if empty is None:
            raise Refused(f"body: send a JSON object such as {example}", 400)
        return empty
    if not request.is_json:
        raise Refused(f"body: send application/json (a JSON object such as {example});"
                      f" got {request.mimetype or 'no Content-Type'}", 415)
    try:
        body = json.loads(data)
        deep = _too_deep(body)
    except RecursionError:
        deep = True
    except ValueError as exc:  # includes a body that is not UTF-8
        raise Refused(f"body: not valid JSON ({str(exc)[:120]})", 400) from None
    if deep:
        raise Refused(f"body: JSON nested more than {MAX_DEPTH} levels deep", 400)
    if not isinstance(body, dict):
        raise Refused(f"body: must be a JSON object such as {example}", 422)
    return body
