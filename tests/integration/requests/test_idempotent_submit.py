"""Idempotent submits: an Idempotency-Key makes a repeated POST /api/requests answer with
the request the key created, never a second one."""
import io
import json
import threading

from tests.support.db import sql
from tests.support.http import TokenClient

PARAMS = {"min_seconds": 0, "max_seconds": 0}


def _post(api, key, params=PARAMS, job_type="simulate", file=None):
    data = {"job_type": job_type, "params": json.dumps(params)}
    if file is not None:
        data["file"] = (io.BytesIO(file), "data.bin")
    headers = dict(api.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/requests", data=data, headers=headers)


def _rows(app):
    return sql(app, "SELECT id, submitted_by FROM requests ORDER BY id")


def test_a_repeat_answers_200_with_the_same_request(app, api):
    first = _post(api, "order-42")
    assert first.status_code == 201, first.get_json()
    again = _post(api, "order-42")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["job_type"] == "simulate"
    assert len(_rows(app)) == 1
    # Without a key every submit is a new request.
    assert _post(api, None).status_code == 201
    assert len(_rows(app)) == 2


def test_the_same_key_with_other_params_or_job_type_is_409(app, api):
    first = _post(api, "k-1").get_json()
    other = _post(api, "k-1", params={"min_seconds": 0, "max_seconds": 1})
    assert other.status_code == 409
    assert "Idempotency-Key" in other.get_json()["error"]
    assert str(first["id"]) in other.get_json()["error"]
    assert _post(api, "k-1", job_type="load_array").status_code in (409, 422)
    assert len(_rows(app)) == 1


def test_the_same_key_with_another_file_is_409(app, api):
    assert _post(api, "no-file").status_code == 201
    assert _post(api, "no-file", file=b"some bytes").status_code == 409
    first = _post(api, "with-file", file=b"the bytes")
    assert first.status_code == 201, first.get_json()
    again = _post(api, "with-file", file=b"the bytes")  # the same bytes: the same request
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    other = _post(api, "with-file", file=b"other bytes")
    assert other.status_code == 409
    assert "another job type, params or file" in other.get_json()["error"]
    assert _post(api, "with-file").status_code == 409  # and no file at all
    assert len(_rows(app)) == 2
    assert sql(app, "SELECT count(*) AS n FROM uploads")[0]["n"] == 1


def test_another_user_with_the_same_key_gets_its_own_request(app, api, make_user):
    _, _, token = make_user("operator", username="other-operator")
    other = TokenClient(app, token)
    mine = _post(api, "shared-key").get_json()["id"]
    theirs = _post(other, "shared-key")
    assert theirs.status_code == 201
    assert theirs.get_json()["id"] != mine
    assert _post(other, "shared-key").get_json()["id"] == theirs.get_json()["id"]
    assert [r["submitted_by"] for r in _rows(app)] == ["api-operator", "other-operator"]


def test_fifty_concurrent_submits_with_one_key_store_one_request(app, api):
    barrier, answers = threading.Barrier(50), []

    def submit():
        client = TokenClient(app, api.headers["Authorization"].split()[1])  # own connection
        barrier.wait()
        response = _post(client, "burst-1")
        answers.append((response.status_code, response.get_json()["id"]))

    threads = [threading.Thread(target=submit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = _rows(app)
    assert len(rows) == 1
    assert sorted(code for code, _ in answers) == [200] * 49 + [201]
    assert {request_id for _, request_id in answers} == {rows[0]["id"]}


def test_concurrent_first_submits_are_decided_by_the_unique_key(app, api, monkeypatch):
    """Every submit finds the key free at first look; the insert still stores one."""
    from dashboard import idempotency
    real, seen = idempotency.holder, threading.local()

    def first_look_finds_nothing(*args):
        if not getattr(seen, "looked", False):
            seen.looked = True
            return None
        return real(*args)

    monkeypatch.setattr(idempotency, "holder", first_look_finds_nothing)
    barrier, answers = threading.Barrier(20), []

    def submit():
        client = TokenClient(app, api.headers["Authorization"].split()[1])
        barrier.wait()
        response = _post(client, "race-1")
        answers.append((response.status_code, response.get_json()["id"]))

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = _rows(app)
    assert len(rows) == 1
    assert sorted(code for code, _ in answers) == [200] * 19 + [201]
    assert {request_id for _, request_id in answers} == {rows[0]["id"]}
    assert sql(app, "SELECT count(*) AS n FROM attempts")[0]["n"] == 1


def test_malformed_keys_are_422_naming_the_header(app, api):
    for key in ("", "x" * 201, "tab\there", "caf\u00e9"):
        response = _post(api, key)
        assert response.status_code == 422, (key, response.get_json())
        assert "Idempotency-Key" in response.get_json()["error"]
    assert _rows(app) == []
    assert _post(api, "x" * 200).status_code == 201
    assert _post(api, "a key with spaces ~!").status_code == 201


def test_an_expired_key_creates_a_new_request(app, api):
    ttl_h = app.config["IDEMPOTENCY_TTL_H"]
    first = _post(api, "nightly").get_json()["id"]
    sql(app, "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => :h)"
        " - interval '1 minute'", h=int(ttl_h))
    second = _post(api, "nightly")
    assert second.status_code == 201
    assert second.get_json()["id"] != first
    # The key now names the new request, other params included.
    assert _post(api, "nightly").get_json()["id"] == second.get_json()["id"]
    assert _post(api, "nightly", params={"min_seconds": 0, "max_seconds": 2}).status_code == 409
