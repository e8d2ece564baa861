"""Fault injection: run only when asked for, a seeded random generator, the loss summary.

`make chaos` runs these; a plain `pytest` skips them (they take minutes).
Every test ends with a line in the terminal summary saying what was lost.
CHAOS_SEED=N repeats a run's random kill moments.
"""
import os
import random

import pytest

from tests.support.chaos import REPORTS, SEED
from tests.support.env import RUN_NAME


def pytest_collection_modifyitems(config, items):
    """Chaos only when asked for by path (`pytest tests/chaos`, i.e. `make chaos`)."""
    here = os.path.dirname(os.path.abspath(__file__))
    asked = any(os.path.abspath(str(a).split("::")[0]).startswith(here) for a in config.args)
    if asked:
        if RUN_NAME == "dashboard_test":
            raise pytest.UsageError(
                "chaos needs a database and vhost of its own (`make chaos` makes dashboard_chaos):"
                " refusing to kill processes on the shared test database dashboard_test")
        return
    skip = pytest.mark.skip(reason="fault injection: run `make chaos`")
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if REPORTS:
        terminalreporter.section(f"chaos: what was lost (seed {SEED})")
        for line in REPORTS:
            terminalreporter.write_line(line)


@pytest.fixture
def rng(request):
    """A random generator per test, reproducible with CHAOS_SEED."""
    return random.Random(f"{SEED}-{request.node.name}")
