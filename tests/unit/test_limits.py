"""Time limits per request: the job type's, lowered by `timeout_seconds`."""
import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from dashboard import jobs
from dashboard.tasks import describe


def test_limits_default_to_the_job_type():
    """Without `timeout_seconds` a request gets its job type's soft and hard limits."""
    assert jobs.get("simulate").limits({}) == (600, 630)
    assert jobs.get("load_array").limits({"shape": [1, 1, 1]}) == (300, 330)


@pytest.mark.parametrize("wanted, expected_hard", [(10, 10), (629, 629), (630, 630),
                                                    (631, 630), (3600, 630), (10**9, 630)])
def test_timeout_seconds_lowers_but_never_raises(wanted, expected_hard):
    """`timeout_seconds` lowers the hard limit; above the job type's limit it changes nothing."""
    soft, hard = jobs.get("simulate").limits({"timeout_seconds": wanted})
    assert hard == expected_hard
    assert 0 < soft < hard <= 630 and soft <= 600


def test_soft_limit_stays_below_a_lowered_hard_limit():
    """A lowered limit keeps the soft limit first, so the job gets a chance to clean up."""
    soft, hard = jobs.get("simulate").limits({"timeout_seconds": 2})
    assert (soft, hard) == (1.6, 2)
    soft, hard = jobs.get("simulate").limits({"timeout_seconds": 0.5})
    assert 0 < soft < hard == 0.5


def test_every_job_type_declares_consistent_limits():
    """Each registered job type's soft limit is below its hard limit."""
    for job in jobs.REGISTRY.values():
        assert 0 < job.soft_limit_s < job.hard_limit_s, job.name
    assert jobs.max_hard_limit() == max(j.hard_limit_s for j in jobs.REGISTRY.values())


def test_only_flaky_simulate_retries_by_itself():
    """The retry policy: simulate_flaky has 3 attempts with a 2 s first backoff; the rest 1."""
    policies = {name: (job.max_attempts, job.backoff_s) for name, job in jobs.REGISTRY.items()}
    assert policies["simulate_flaky"] == (3, 2.0)
    assert policies["simulate"][0] == 1 and policies["load_array"][0] == 1


def test_describe_names_the_limit_that_fired():
    """The error text names the soft or hard limit, and survives a missing limit."""
    soft = "timeout: soft time limit (1.6 s) exceeded"
    assert describe(SoftTimeLimitExceeded(), (2, 1.6)) == soft
    assert describe(TimeLimitExceeded(2.0), (2, 1.6)) == "timeout: hard time limit (2 s) exceeded"
    assert describe(TimeLimitExceeded(), [630, 600]) == "timeout: hard time limit (630 s) exceeded"
    assert describe(SoftTimeLimitExceeded(), None) == "timeout: soft time limit (?) exceeded"
    assert describe(ValueError("bad <input>"), None) == "ValueError: bad <input>"


def test_describe_keeps_a_long_error_to_one_bounded_line():
    described = describe(RuntimeError("x" * 10_000), (630, 600))
    assert described.startswith("RuntimeError: xxx") and len(described) == 2000


def test_describe_of_an_unreadable_limit_is_a_question_mark():
    assert describe(TimeLimitExceeded("soon"), None) == "timeout: hard time limit (?) exceeded"
    assert describe(SoftTimeLimitExceeded(), ("a", "b")) == "timeout: soft time limit (?) exceeded"
