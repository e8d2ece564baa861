"""Kill and retry of a request that does not exist: 404 on the pages, as in the API.

They answered 409 ("cannot be killed"), as if the request existed in a final state.
"""
import pytest
from tests.support.db import audit_rows
from tests.support.html import Page
from tests.support.http import csrf_token, htmx_token


@pytest.mark.parametrize("action", ["kill", "retry"])
def test_page_action_on_a_missing_request_is_404(app, signed_in, action):
    """Form post and htmx post: 404 naming the request; the API agrees; nothing recorded."""
    client, _, token = signed_in("operator")
    page = client.get("/").get_data(as_text=True)
    form = client.post(f"/requests/424242/{action}", data={"csrf_token": csrf_token(page)})
    assert form.status_code == 404
    body = form.get_data(as_text=True)
    assert "There is no request #424242." in body and Page(body).find("header", cls="top")
    htmx = client.post(f"/requests/424242/{action}",
                       headers={"HX-Request": "true", "X-CSRFToken": htmx_token(page)})
    assert htmx.status_code == 404 and htmx.mimetype == "text/plain"
    assert htmx.get_data(as_text=True) == "There is no request #424242."
    api = client.post(f"/api/requests/424242/{action}",
                      headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 404
    assert api.get_json() == {"error": "request 424242 not found"}
    assert [r for r in audit_rows(app) if r["request_id"] == 424242] == []
