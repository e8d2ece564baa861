"""A job type module that fails to import stops each process at start-up with one line.

The same check runs in web, dispatcher, workers and beat (they all build the app);
here the flask CLI and a Celery worker are started for real and their output read.
"""
import os
import subprocess

import pytest

from tests.support.env import BIN, ROOT

EXPECTED = ("configuration error: job types: module 'team_not_installed' failed to import:"
            " ModuleNotFoundError: No module named 'team_not_installed'")


@pytest.mark.parametrize("argv", [
    ["flask", "--app", "wsgi", "routes"],
    ["celery", "-A", "worker", "worker"],
    ["celery", "-A", "worker", "beat"],
], ids=["flask", "celery-worker", "celery-beat"])
def test_start_up_stops_with_one_line(argv):
    env = {**os.environ, "FLASK_SKIP_DOTENV": "1", "JOB_TYPE_MODULES": "team_not_installed"}
    done = subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.splitlines() == [EXPECTED], done.stderr
    assert done.stdout == ""
