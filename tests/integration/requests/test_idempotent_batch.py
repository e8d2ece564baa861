"""Idempotent bulk submits: an Idempotency-Key on POST /api/requests/batch makes a repeat
answer with the ids the key's batch created, never a second batch."""
import threading

from tests.support.db import sql
from tests.support.http import TokenClient

ZERO = {"min_seconds": 0, "max_seconds": 0}


def _items(n=3, **extra):
    return [{"job_type": "simulate", "params": {**ZERO, **extra}} for _ in range(n)]


def _post(api, key, items):
    headers = dict(api.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/requests/batch", json={"requests": items}, headers=headers)


def _count(app):
    return sql(app, "SELECT count(*) AS n FROM requests")[0]["n"]


def test_a_repeated_batch_answers_200_with_the_same_ids(app, api):
    first = _post(api, "archive-1", _items(3))
    assert first.status_code == 201, first.get_json()
    ids = first.get_json()["ids"]
    again = _post(api, "archive-1", _items(3))
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["ids"] == ids
    assert _count(app) == 3
    # Without a key every batch is stored again.
    assert _post(api, None, _items(3)).status_code == 201
    assert _count(app) == 6


def test_the_same_key_with_other_content_is_409_and_stores_nothing(app, api):
    ids = _post(api, "archive-2", _items(3)).get_json()["ids"]
    for other in (_items(2), _items(4), _items(3, max_seconds=1),
                  [{"job_type": "load_array", "params": {}}]):
        response = _post(api, "archive-2", other)
        assert response.status_code in (409, 422), response.get_json()
        if response.status_code == 409:
            assert "Idempotency-Key" in response.get_json()["error"]
            assert str(ids[0]) in response.get_json()["error"]
    assert _post(api, "archive-2", _items(2)).status_code == 409   # a prefix is not the batch
    assert _count(app) == 3
    # A key a single submit used names that one request: a batch with it is 409.
    single = api.client.post("/api/requests", data={"job_type": "simulate", "params": "{}"},
                             headers={**api.headers, "Idempotency-Key": "single-1"})
    assert single.status_code == 201
    assert _post(api, "single-1", _items(2)).status_code == 409
    assert _count(app) == 4


def test_a_repeat_with_another_priority_is_409(app, api):
    items = [{"job_type": "simulate", "params": ZERO, "priority": 5}, *_items(1)]
    ids = _post(api, "prio-1", items).get_json()["ids"]
    assert _post(api, "prio-1", items).get_json()["ids"] == ids
    # An item without a priority takes the one stored: the same batch.
    assert _post(api, "prio-1", _items(2)).get_json()["ids"] == ids
    other = _post(api, "prio-1", [{**items[0], "priority": 6}, items[1]])
    assert other.status_code == 409 and "priorities" in other.get_json()["error"]
    assert _count(app) == 2


def test_a_batch_interleaved_with_other_submits_keeps_its_own_ids(app, api, make_user):
    _, _, token = make_user("operator", username="other-batcher")
    other = TokenClient(app, token)
    mine = _post(api, "shared", _items(2)).get_json()["ids"]
    theirs = _post(other, "shared", _items(2)).get_json()["ids"]
    assert set(mine).isdisjoint(theirs)
    assert _post(api, "shared", _items(2)).get_json()["ids"] == mine
    assert _post(other, "shared", _items(2)).get_json()["ids"] == theirs


def test_concurrent_repeats_store_one_batch(app, api):
    barrier, answers = threading.Barrier(20), []

    def submit():
        client = TokenClient(app, api.headers["Authorization"].split()[1])  # own connection
        barrier.wait()
        response = _post(client, "burst-batch", _items(5))
        answers.append((response.status_code, tuple(response.get_json()["ids"])))

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(app) == 5
    assert sorted(code for code, _ in answers) == [200] * 19 + [201]
    stored = tuple(r["id"] for r in sql(app, "SELECT id FROM requests ORDER BY id"))
    assert {ids for _, ids in answers} == {stored}
    assert sql(app, "SELECT count(*) AS n FROM attempts")[0]["n"] == 5


def test_a_malformed_key_is_422_and_an_expired_key_stores_a_new_batch(app, api):
    response = _post(api, "tab\there", _items(1))
    assert response.status_code == 422 and "Idempotency-Key" in response.get_json()["error"]
    assert _count(app) == 0
    first = _post(api, "nightly-batch", _items(2)).get_json()["ids"]
    sql(app, "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => :h)"
        " - interval '1 minute'", h=int(app.config["IDEMPOTENCY_TTL_H"]))
    second = _post(api, "nightly-batch", _items(2))
    assert second.status_code == 201
    assert set(second.get_json()["ids"]).isdisjoint(first)
    assert _post(api, "nightly-batch", _items(2)).get_json()["ids"] == second.get_json()["ids"]
