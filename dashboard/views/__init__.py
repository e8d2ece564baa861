"""One blueprint per area, and what every template sees.

Pages: requests (the list, a request, the form) with story (logs, re-run, bulk,
file), job types, workers and operations (actions, processes, "why"), schedules, overview,
volumes, audit, users, auth, health, and Flower behind the sign-in. The JSON API
is the package views/api.
"""
from dashboard import lifecycle
from dashboard.extensions import csrf
from dashboard.overview import sla

# isort: off
# In this order: the top bar shows the links these modules add (nav) as they are imported.
from dashboard.views import (navigation, auth, health, requests, job_types, schedules, workers,
                             audit, flower, overview, users, volumes, operations, story, alerts)
# isort: on
from dashboard.views import account
from dashboard.views.api import alerts as api_alerts
from dashboard.views.api import job_types as api_job_types
from dashboard.views.api import overview as api_overview
from dashboard.views.api import requests as api_requests
from dashboard.views.api import schedules as api_schedules
from dashboard.views.api import workers as api_workers
from dashboard.web import humanize
from dashboard.workers import flower_links

# Route modules that join a blueprint defined elsewhere (`api`, `requests`): imported
# above so their routes exist before the blueprint is registered.
JOINING = (story, api_alerts, api_job_types, api_overview, api_requests, api_schedules, api_workers)


def init_app(app):
    """Register every blueprint."""
    app.register_blueprint(auth.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(job_types.bp)
    app.register_blueprint(workers.bp)
    app.register_blueprint(schedules.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(overview.bp)
    app.register_blueprint(volumes.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(flower.bp)  # CSRF-exempt itself: Flower's pages cannot send our token
    csrf.exempt(api_requests.bp)  # bearer calls; session calls are checked in auth.csrf_for_sessions
    app.register_blueprint(api_requests.bp)
    # The status sets are lifecycle's: templates test `r.status in RETRYABLE`, never literals.
    app.jinja_env.globals.update(
        Status=lifecycle.Status, ACTIVE=lifecycle.ACTIVE, TERMINAL=lifecycle.TERMINAL,
        RETRYABLE=lifecycle.RETRYABLE, KILLABLE=lifecycle.KILLABLE)
    flower_links.init_app(app)
    humanize.init_app(app)
    sla.init_app(app)
    navigation.init_app(app)
