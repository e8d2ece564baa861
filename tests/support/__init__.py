"""Helpers shared by the test suite, one module per concern (conftest.py holds only fixtures).

- env:     the test services' environment (TEST_DATABASE_URL / TEST_BROKER_URL) and where logs go
- procs:   child processes (workers, dispatcher, web), waiting, and reading /proc
- stack:   the running test stack (two workers and a dispatcher) that fixtures restart
- db:      SQL against the test database: rows, audit entries, waiting for a status
- apps:    a second app for other settings, an app with no services (the unit tier's)
- http:    Flask test clients: sign in, CSRF tokens, bearer-token API calls, submitting
- html:    the one HTML parser (a forgiving tree) and the views tests take of a page
- browser: Chromium's flags and signing in through Playwright
- mail:    a real local SMTP server that keeps what it receives
- chaos:   the fault-injection helpers (killer thread, request flow, loss report)
"""
