"""The building blocks every part of the OpenAPI description uses: references, JSON answers, errors."""
from dashboard.web.json_body import MAX_DEPTH

NULLABLE_INT = {"type": "integer", "nullable": True}
NULLABLE_TEXT = {"type": "string", "nullable": True}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}


def ref(name):
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema, description):
    """A JSON response with `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description):
    """An error response: {"error": "..."}."""
    return json_answer(ref("Error"), description)


def body_errors(example):
    """The answers of the one JSON-body reader (dashboard.views.api.json_body)."""
    return {"400": error("no body where one is needed, not valid JSON, or JSON nested more"
                         f" than {MAX_DEPTH} levels deep"),
            "415": error("a body that is not application/json"),
            "422": error(f"JSON that is not an object such as {example}, or a bad field"
                         " (named); nothing changed")}


def int_query(name, low, high, description, default=None):
    """An integer query parameter; an empty value is the same as leaving it out."""
    number = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        number["default"] = default
    return {"name": name, "in": "query", "description": description + " (empty: not given)",
            "schema": {"anyOf": [number, {"type": "string", "enum": [""]}]}}
