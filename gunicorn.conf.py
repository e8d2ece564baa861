"""gunicorn settings read from the working directory by every `gunicorn wsgi:app` here
(deploy/supervisord.conf, the tests and the bench all start it from the repository root)."""
from dashboard import entry

# A bad setting stops the master with one line, before it forks workers that would
# each fail to import wsgi:app (and be respawned).
entry.check()

# Keep an idle connection open longer than the live list's poll interval
# (POLL_INTERVAL_S, 2 s): with gunicorn's default of 2 s the server closed
# connections just as the next poll was sent on them, and that poll got a
# connection reset (12 of 15,760 polls in a 10-minute bench soak).
keepalive = 5
