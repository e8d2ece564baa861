"""Alert rules without services: each kind's parameters checked and normalised, the first
bad field named, the webhook signature, the hold time and the words of a detail."""
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.alerts import conditions, rules
from dashboard.alerts.deliver import signature
from dashboard.alerts.facts import Facts
from dashboard.errors import Refused

NOW = datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc)


def rule(**fields):
    return {"name": "r", "kind": "dispatcher_down", "params": {"for_s": 5}, **fields}


def test_a_rule_is_normalised():
    checked = rules.validate(rule(emails="a@example.org, b@example.org; a@example.org",
                                  webhook_url=" https://h.example/x ", webhook_secret="k"))
    assert checked == {"name": "r", "kind": "dispatcher_down", "params": {"for_s": 5.0},
                       "emails": ["a@example.org", "b@example.org"],
                       "webhook_url": "https://h.example/x", "webhook_secret": "k",
                       "enabled": True}


@pytest.mark.parametrize("fields, field", [
    ({"kind": "cpu"}, "kind"), ({"params": {"for_s": -0.5}}, "params.for_s"),
    ({"params": {"for_s": True}}, "params.for_s"), ({"params": []}, "params"),
    ({"webhook_url": "http://"}, "webhook_url"), ({"webhook_url": "https://h.example/"},
                                                  "webhook_secret"),
    ({"kind": "failure_rate", "params": {"percent": 5, "min_finished": 0, "window_s": 600}},
     "params.min_finished"),
    ({"kind": "failure_rate", "params": {"percent": 5, "min_finished": 1, "window_s": 30}},
     "params.window_s"),
    ({"kind": "worker_offline", "params": {"worker": "", "for_s": 1}}, "params.worker"),
    ({"emails": "nobody"}, "emails"), ({"nme": "x"}, "nme"),
])
def test_the_first_bad_field_is_named(fields, field):
    with pytest.raises(Refused) as refused:
        rules.validate(rule(**fields))
    assert refused.value.status == 422 and refused.value.message.startswith(f"{field}:")


def test_a_changed_kind_needs_its_params():
    current = rules.validate(rule())
    with pytest.raises(Refused, match="^params: required when the kind changes"):
        rules.validate({"kind": "backlog"}, current)
    assert rules.validate({"enabled": False}, current)["enabled"] is False


def test_the_signature_is_hmac_sha256_of_the_body():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_dispatcher_down_counts_from_the_rule_when_none_ever_beat():
    facts = Facts(NOW, NOW, {"waiting": 0, "dispatcher_beat_at": None, "sightings": []})
    young = rule(created_at=NOW - timedelta(seconds=3))
    old = rule(created_at=NOW - timedelta(seconds=30))
    assert conditions.dispatcher_down(young, facts)[0] is False
    holds, detail = conditions.dispatcher_down(old, facts)
    assert holds is True and detail["text"] == "last dispatcher heartbeat 30 s ago (limit 5.0 s)"


def test_any_worker_counts_those_seen_in_the_last_hour_only():
    seen = [("w1@h", (NOW - timedelta(seconds=2)).timestamp()),
            ("w2@h", (NOW - timedelta(seconds=90)).timestamp()),
            ("w3@h", (NOW - timedelta(hours=2)).timestamp())]
    facts = Facts(NOW, NOW, {"waiting": 0, "dispatcher_beat_at": NOW, "sightings": seen})
    any_worker = {"params": {"worker": None, "for_s": 60}, "created_at": NOW}
    holds, detail = conditions.worker_offline(any_worker, facts)
    assert holds is True and detail["workers"] == ["w2@h"]
    unpinged = Facts(NOW, None, {"waiting": 0, "dispatcher_beat_at": NOW, "sightings": seen})
    assert conditions.worker_offline(any_worker, unpinged)[0] is None


def test_durations_in_words():
    assert [conditions.duration_text(s) for s in (4.25, 42, 185, 7800)] == [
        "4.2 s", "42 s", "3 min 5 s", "2 h 10 min"]
