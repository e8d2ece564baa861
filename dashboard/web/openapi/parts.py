"""The building blocks every part of the OpenAPI description uses: references, JSON answers, errors."""

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
