"""Real beats judging alert rules and telling a real HTTP receiver and a real SMTP server
(aiosmtpd): one signed firing webhook and one email when a worker or the dispatcher is gone
too long, one resolved of each when it is back; two beats still tell once; a hanging
receiver is cut off and tried again; an acknowledged rule tells nobody."""
import hashlib
import hmac
import json
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.alerts.conftest import alert_rows
from tests.support.env import RUN_DIR
from tests.support.mail import smtp  # noqa: F401  (module-scoped fixture)
from tests.support.procs import beat_proc, wait_for

SECRET = "correct-horse-signing-secret"


@pytest.fixture
def beats(smtp):  # noqa: F811
    """beats.start(name): a real beat sending through the test SMTP server, quick retries."""
    started = []
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "ALERT_ROUND_S": "0.5",
           "ALERT_SEND_TIMEOUT_S": "1.5", "ALERT_RETRY_BASE_S": "1", "ALERT_RETRY_MAX_S": "2"}

    class Beats:
        def start(self, name):
            pidfile = os.path.join(RUN_DIR, f"{name}.pid")
            if os.path.exists(pidfile):
                os.unlink(pidfile)
            proc = beat_proc(name, env).start()
            started.append(proc)
            return proc
    smtp.messages.clear()
    yield Beats()
    for proc in started:
        proc.stop()


def make_rule(as_role, receiver, **fields):
    """Create a rule as an admin telling ops@example.org and the receiver; its id."""
    body = {"name": "watch", "emails": ["ops@example.org"], "webhook_url": receiver.url,
            "webhook_secret": SECRET, **fields}
    r = as_role("admin").call("POST", "/api/alerts", body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def hooks(receiver):
    """The webhook bodies received, each checked against its signature."""
    out = []
    for hit in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), hit["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hit["headers"]["X-Dashboard-Signature"], expected)
        assert hit["headers"]["Content-Type"] == "application/json"
        out.append(json.loads(hit["body"]))
    return out


def states(receiver):
    return [h["state"] for h in hooks(receiver)]


def subjects(smtp):  # noqa: F811
    return [m["subject"] for m in smtp.messages]


def settle(seconds=4.0):
    """Give beat a few more ticks to do anything it should not."""
    time.sleep(seconds)


def test_worker_offline_tells_once_firing_and_once_resolved(app, stack, beats, receiver, smtp,  # noqa: F811
                                                           as_role):
    """worker2 stopped longer than for_s: one signed firing webhook and one email; back: one
    resolved of each; the history shows one firing with its start and end."""
    make_rule(as_role, receiver, name="worker2 gone", kind="worker_offline",
              params={"worker": "worker2@test", "for_s": 3})
    beats.start("beat-alerts")
    wait_for(lambda: alert_rows(app, "SELECT name FROM alert_worker_sightings"
                                     " WHERE name = 'worker2@test'"), 40, what="worker2 pinged")
    stack.stop_worker("worker2")
    wait_for(lambda: states(receiver) == ["firing"] and len(smtp.messages) == 1, 60,
             interval=0.2, what="one firing webhook and one email")
    settle()
    body = hooks(receiver)[0]
    assert set(body) == {"alert", "kind", "state", "at", "detail"}
    assert body["alert"] == "worker2 gone" and body["kind"] == "worker_offline"
    assert "worker2@test" in body["detail"]["text"]
    assert subjects(smtp) == ["[FIRING] worker2 gone (worker_offline)"]
    assert smtp.messages[0]["to"] == ["ops@example.org"]
    api = as_role("viewer")
    assert api.call("GET", "/api/alerts").get_json()[0]["state"] == "firing"

    stack.ensure_workers()
    wait_for(lambda: states(receiver) == ["firing", "resolved"] and len(smtp.messages) == 2, 60,
             interval=0.2, what="one resolved webhook and one email")
    settle()
    assert states(receiver) == ["firing", "resolved"]
    assert subjects(smtp)[1] == "[resolved] worker2 gone (worker_offline)"
    firings = alert_rows(app, "SELECT started_at, ended_at, notified FROM alert_firings")
    assert len(firings) == 1 and firings[0]["ended_at"] > firings[0]["started_at"]
    assert api.call("GET", "/api/alerts").get_json()[0]["state"] == "ok"


def test_two_beats_still_tell_once(app, stack, beats, receiver, smtp, as_role):  # noqa: F811
    """Two beats judging the same rule at every tick: one firing and one resolved of each."""
    make_rule(as_role, receiver, name="dispatcher gone", kind="dispatcher_down",
              params={"for_s": 2})
    beats.start("beat-a")
    beats.start("beat-b")
    settle(3)
    stack.stop_dispatcher()
    wait_for(lambda: "firing" in states(receiver) and len(smtp.messages) == 1, 60,
             interval=0.2, what="the firing webhook and email")
    settle()
    assert states(receiver) == ["firing"] and len(smtp.messages) == 1
    stack.start_dispatcher()
    wait_for(lambda: "resolved" in states(receiver), 60, interval=0.2, what="resolved webhook")
    settle()
    assert states(receiver) == ["firing", "resolved"] and len(smtp.messages) == 2
    sent = alert_rows(app, "SELECT state, channel FROM alert_notifications"
                           " WHERE sent_at IS NOT NULL ORDER BY id")
    assert len(sent) == 4


def test_hanging_receiver_is_cut_off_and_retried(app, stack, beats, receiver, smtp, as_role):  # noqa: F811
    """A receiver that does not answer: each try ends at the time limit and is tried again
    with backoff; the rule resolves meanwhile; once the receiver answers, both arrive."""
    receiver.hang_s = 4.0
    rule_id = make_rule(as_role, receiver, name="slow hook", kind="dispatcher_down",
                        params={"for_s": 3})
    beats.start("beat-hang")
    stack.stop_dispatcher()
    wait_for(lambda: receiver.attempts >= 2, 60, interval=0.2, what="two tries of the webhook")
    tried = alert_rows(app, "SELECT attempts, last_error, sent_at FROM alert_notifications"
                            " WHERE channel = 'webhook'")
    assert tried[0]["sent_at"] is None and "Timeout" in tried[0]["last_error"]
    stack.start_dispatcher()
    wait_for(lambda: alert_rows(app, "SELECT 1 FROM alert_rules WHERE id = :id AND state = 'ok'",
                                id=rule_id), 30, what="the rule resolved while the hook hangs")
    receiver.hang_s = 0.0
    wait_for(lambda: states(receiver) == ["firing", "resolved"], 60, interval=0.2,
             what="both webhooks once the receiver answers")
    assert len(smtp.messages) == 2
    assert subjects(smtp)[1].startswith("[resolved]")


def test_acknowledged_rule_tells_nobody(app, stack, beats, receiver, smtp, as_role):  # noqa: F811
    """Acknowledged until an hour from now: it fires (state acknowledged) and resolves, silently."""
    rule_id = make_rule(as_role, receiver, name="quiet", kind="dispatcher_down",
                        params={"for_s": 3})
    operator = as_role("operator")
    until = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert operator.call("POST", f"/api/alerts/{rule_id}/ack", {"until": until}).status_code == 200
    beats.start("beat-quiet")
    stack.stop_dispatcher()
    wait_for(lambda: operator.call("GET", "/api/alerts").get_json()[0]["state"] == "acknowledged",
             30, interval=0.2, what="the rule firing, acknowledged")
    settle()
    stack.start_dispatcher()
    wait_for(lambda: operator.call("GET", "/api/alerts").get_json()[0]["state"] == "ok", 30,
             interval=0.2, what="the rule resolved")
    settle(2)
    assert receiver.received == [] and smtp.messages == []
    assert alert_rows(app, "SELECT notified FROM alert_firings") == [{"notified": False}]


def test_failing_receiver_is_retried_with_backoff(app, stack, beats, receiver, smtp, as_role):  # noqa: F811
    """A receiver answering 500 twice: the third try goes through, about 1 + 2 s later."""
    receiver.fail_next = 2
    make_rule(as_role, receiver, name="flaky hook", kind="dispatcher_down", params={"for_s": 3})
    beats.start("beat-flaky")
    stack.stop_dispatcher()
    wait_for(lambda: states(receiver) == ["firing"], 60, interval=0.2, what="the third try")
    [row] = alert_rows(app, "SELECT attempts, last_error, created_at, sent_at"
                            " FROM alert_notifications WHERE channel = 'webhook'")
    assert receiver.attempts == 3 and row["attempts"] == 3
    assert row["last_error"] == "OSError: HTTP 500"
    assert (row["sent_at"] - row["created_at"]).total_seconds() >= 3  # waited 1 s, then 2 s
    stack.start_dispatcher()
