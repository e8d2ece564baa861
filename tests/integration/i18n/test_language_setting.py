"""A user's language: each user sets their own on /account (any role, CSRF, audited, 422
naming the field), else the browser's Accept-Language; `<html lang>` says which. The JSON
API stays English whatever the user chose: scripts match its messages."""
import pytest

from tests.support.db import audit_rows, sql
from tests.support.html import parse
from tests.support.http import TokenClient, csrf_token, post_multipart

KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}


def _lang(response):
    """The page's <html lang>."""
    return parse(response.get_data(as_text=True)).find("html").attrs["lang"]


def _locale(app, username):
    return sql(app, "SELECT locale FROM users WHERE username = :u", u=username)[0]["locale"]


def _choose(client, locale, token=None):
    """POST the language form as the page sends it."""
    token = token or csrf_token(client.get("/account").get_data(as_text=True))
    return client.post("/account/language", data={"csrf_token": token, "locale": locale})


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_each_user_sets_their_own_language(app, signed_in, role):
    """Any role may choose; the choice is stored, audited and used from the next page on,
    for this user only."""
    client, username, _ = signed_in(role)
    other, _, _ = signed_in("viewer")
    assert _lang(client.get("/account")) == "en"
    done = _choose(client, "ko")
    assert done.status_code == 303 and done.headers["Location"].endswith("/account")
    page = client.get("/account")
    assert _lang(page) == "ko"
    doc = parse(page.get_data(as_text=True))
    assert doc.find("h1").text() == "내 설정"
    assert "언어를 저장했습니다." in doc.find("div", id="notices").text()
    assert "selected" in doc.find("option", value="ko").attrs
    assert _locale(app, username) == "ko"
    [entry] = audit_rows(app, "user_language")
    assert entry["outcome"] == "ok" and entry["username"] == username
    assert {k: entry["detail"][k] for k in ("user", "from", "to")} == {
        "user": username, "from": None, "to": "ko"}
    assert _lang(client.get("/")) == "ko"
    assert _lang(other.get("/")) == "en"


def test_an_unknown_language_is_refused_naming_the_field(app, signed_in):
    client, username, _ = signed_in("viewer")
    refused = _choose(client, "fr")
    assert refused.status_code == 422
    error = parse(refused.get_data(as_text=True)).find("p", id="form-error").text()
    assert error.startswith("locale:")
    assert _locale(app, username) is None
    assert [e["outcome"] for e in audit_rows(app, "user_language")] == ["refused"]


def test_the_form_needs_its_csrf_token(app, signed_in):
    client, username, _ = signed_in("viewer")
    assert client.post("/account/language", data={"locale": "ko"}).status_code == 400
    assert _locale(app, username) is None


def test_back_to_the_browsers_language(app, signed_in):
    """'' stores NULL: the browser's Accept-Language decides again."""
    client, username, _ = signed_in("viewer")
    _choose(client, "en")
    assert _lang(client.get("/", headers=KOREAN)) == "en"  # the user's choice wins
    _choose(client, "")
    assert _locale(app, username) is None
    assert _lang(client.get("/", headers=KOREAN)) == "ko"
    assert _lang(client.get("/")) == "en"


def test_signed_out_pages_follow_the_browser(client):
    page = client.get("/login", headers=KOREAN)
    assert _lang(page) == "ko"
    assert parse(page.get_data(as_text=True)).find("h1").text() == "로그인"
    assert _lang(client.get("/login", headers={"Accept-Language": "de-DE,de"})) == "en"


def test_korean_users_get_korean_refusals_on_pages(app, signed_in):
    """A refused form and an unknown request's page speak Korean."""
    client, username, _ = signed_in("operator")
    _choose(client, "ko")
    token = csrf_token(client.get("/requests/new").get_data(as_text=True))
    refused = client.post("/requests/new", data={"csrf_token": token, "job_type": "simulate",
                                                 "params": "[1, 2]"})
    assert refused.status_code == 422
    alert = parse(refused.get_data(as_text=True)).find("p", id="form-alert").text()
    assert alert.startswith("제출하지 않았습니다:") and "JSON 객체여야 합니다" in alert
    missing = client.get("/requests/987654321")
    assert missing.status_code == 404
    assert "요청 #987654321이(가) 없습니다." in missing.get_data(as_text=True)


def test_the_api_answers_in_english_for_a_korean_user(app, make_user):
    """Bearer calls of a user who chose Korean, with a Korean browser: English messages."""
    username, _, token = make_user("operator")
    sql(app, "UPDATE users SET locale = 'ko' WHERE username = :u", u=username)
    api = TokenClient(app, token)
    headers = {**api.headers, **KOREAN}
    missing = api.client.get("/api/requests/987654321", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"].isascii()
    refused = post_multipart(api.client, headers, params="[1]")
    assert refused.status_code == 422
    assert refused.get_json()["error"] == "params: must be a JSON object, not an array"
