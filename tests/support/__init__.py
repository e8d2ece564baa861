"""Helpers shared by the test suite, one module per concern (conftest.py holds only fixtures).

- env:     the test services' environment (TEST_DATABASE_URL / TEST_BROKER_URL) and where logs go
- procs:   child processes (workers, dispatcher, web), waiting, and reading /proc
- stack:   the running test stack (two workers and a dispatcher) that fixtures restart
- db:      SQL against the test database: rows, audit entries, waiting for a status
- apps:    a second app for other settings, an app with no services (the unit tier's)
- http:    Flask test clients: sign in, CSRF tokens, bearer-token API calls, submitting,
           multipart bodies, a request's log lines
- html:    the one HTML parser (a forgiving tree) and the views tests take of a page
- browser: Chromium's flags, signing in through Playwright, Watch (a page's errors)
- mail:    a real local SMTP server that keeps what it receives, and the SMTP stack's fixtures
- flower:  a real Flower and a gunicorn in front of it (module-scoped fixtures)
- seed:    rows written straight into the database for pages, users, finished requests
- list_seed: the rows the list's filter tests narrow
- volume_samples: volumes in every format the viewer reads (NumPy, nibabel, pydicom)
- chaos:   the fault-injection helpers (killer thread, request flow, loss report)
- script:  the test stack outside pytest, for bench/'s scripts (make screenshots)

The process machinery underneath (Proc, web_argv, /proc readings) is deploy/stack.py's,
shared with bench/; tests import nothing from bench/.
"""
