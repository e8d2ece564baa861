"""Time limits: per job type, lowered (never raised) by `timeout_seconds`; both end as `timeout`."""
import os
import re

import pytest

from dashboard import jobs
from tests.support.db import attempts, wait_status
from tests.support.env import ROOT
from tests.support.http import submit
from deploy import services


def test_hang_ends_as_timeout_by_the_soft_limit(app, stack, api):
    """A hanging job is stopped by the soft limit: `timeout`, the error names the soft limit."""
    request_id = submit(api, {"hang": True, "timeout_seconds": 2})
    row = wait_status(app, request_id, ("timeout", "failure", "success", "killed"), timeout=60)
    assert row["status"] == "timeout", row["error"]
    assert row["error"] == "timeout: soft time limit (1.6 s) exceeded"
    assert "SoftTimeLimitExceeded" in row["traceback"]
    # The pool's 1.6 s timer starts before the task records `running`; under load that
    # write can come a good part of a second later, so only "not at once" is asserted.
    assert 0.8 <= (row["finished_at"] - row["started_at"]).total_seconds() < 30
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "timeout" and attempt["error"] == row["error"]
    body = api.get(f"/api/requests/{request_id}").get_json()
    assert body["status"] == "timeout" and "soft time limit" in body["error"]


def test_hang_ignoring_the_soft_limit_ends_as_timeout_by_the_hard_limit(app, stack, api):
    """A job swallowing the soft limit is killed by the hard one; the errback still records it."""
    request_id = submit(api, {"hang": True, "ignore_soft_limit": True, "timeout_seconds": 2})
    row = wait_status(app, request_id, ("timeout", "failure", "success", "killed"), timeout=60)
    assert row["status"] == "timeout", row["error"]
    assert row["error"] == "timeout: hard time limit (2 s) exceeded"
    assert (row["finished_at"] - row["started_at"]).total_seconds() >= 1.9
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "timeout" and attempt["error"] == row["error"]
    # The worker replaced the killed pool process and keeps serving.
    follow_up = submit(api, {"min_seconds": 0, "max_seconds": 0})
    done = wait_status(app, follow_up, ("success", "failure", "timeout", "killed"), timeout=60)
    assert done["status"] == "success", done["error"]
    assert fetch_status(app, request_id) == "timeout"


def fetch_status(app, request_id):
    """The request's status now."""
    from tests.support.db import fetch
    return fetch(app, request_id)["status"]


RABBIT_DIR = os.path.join(ROOT, "var", "rabbitmq")


def _consumer_timeout_ms(conf_text):
    """consumer_timeout (ms) from rabbitmq.conf text, or None when unset."""
    found = re.search(r"^\s*consumer_timeout\s*=\s*(\d+)\s*$", conf_text, re.MULTILINE)
    return int(found.group(1)) if found else None


def _local_rabbit():
    """True when the tests run against the RabbitMQ that deploy/services.py runs under var/."""
    return os.path.exists(os.path.join(RABBIT_DIR, "rabbitmq.conf"))


@pytest.mark.skipif(not _local_rabbit(), reason="external RabbitMQ: not configured by this stack")
def test_rabbitmq_config_consumer_timeout_exceeds_the_largest_hard_limit():
    """rabbitmq.conf (from deploy/services.py) sets consumer_timeout above every hard limit."""
    with open(os.path.join(RABBIT_DIR, "rabbitmq.conf")) as fh:
        timeout_ms = _consumer_timeout_ms(fh.read())
    assert timeout_ms is not None, "consumer_timeout is not set (RabbitMQ's default is 30 min)"
    assert timeout_ms > jobs.max_hard_limit() * 1000
    assert services.CONSUMER_TIMEOUT_MS == timeout_ms  # what a fresh machine gets


@pytest.mark.skipif(not _local_rabbit() or os.geteuid() != 0,
                    reason="asking the broker needs the local node's Erlang cookie (root)")
def test_running_broker_consumer_timeout_exceeds_the_largest_hard_limit():
    """The running broker itself reports a consumer_timeout above every hard limit."""
    answer = services.local_rabbit().ctl("eval", "application:get_env(rabbit, consumer_timeout).",
                                          check=False, timeout=60)
    assert answer.returncode == 0, answer.stderr
    found = re.fullmatch(r"\{ok,(\d+)\}", answer.stdout.strip())
    assert found, answer.stdout
    assert int(found.group(1)) > jobs.max_hard_limit() * 1000
