"""The sign-in budgets' settings (dashboard.config, dashboard.web.throttle): defaults, and a bad
value refused at start with the variable named."""
import pytest

from dashboard import config

NAMES = ("LOGIN_RATE_LIMIT", "LOGIN_ADDRESS_USER_LIMIT", "LOGIN_USER_LIMIT")


def test_defaults(monkeypatch):
    """10 attempts a minute per address, 5 failures a minute per address and username,
    20 failing addresses an hour per username."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    loaded = config.load()
    assert [loaded[name] for name in NAMES] == ["10 per minute", "5 per minute", "20 per hour"]


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_budget_names_its_variable(monkeypatch, name):
    """Not a rate limit: ConfigError naming the variable (one line at start, not a 500 later)."""
    monkeypatch.setenv(name, "lots")
    with pytest.raises(config.ConfigError, match=name):
        config.load()
