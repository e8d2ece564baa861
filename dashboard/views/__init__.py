"""One blueprint per area, the navigation entries they add, and what every template sees."""
from flask_login import current_user

from .. import flower_links, humanize, lifecycle, sla

NAV = []  # (endpoint, label, role): extra top-bar links added by blueprints


def nav(endpoint, label, role="viewer"):
    """Add a top-bar link shown to users with at least `role`."""
    NAV.append((endpoint, label, role))


def init_app(app):
    """Register every blueprint."""
    from ..extensions import csrf
    from . import api, auth, health, requests, schedules, workers
    from . import audit, flower, overview, users, volumes
    from . import operations  # adds the worker, process and "why" routes to api.bp first
    from . import story  # noqa: F401  (its routes join the api and requests blueprints)
    from . import schedules_api  # noqa: F401  (adds the /api/schedules routes to api.bp)

    app.register_blueprint(auth.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(workers.bp)
    app.register_blueprint(schedules.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(overview.bp)
    app.register_blueprint(volumes.bp)
    app.register_blueprint(flower.bp)  # CSRF-exempt itself: Flower's pages cannot send our token
    csrf.exempt(api.bp)  # bearer calls; session calls are checked in auth.csrf_for_sessions
    app.register_blueprint(api.bp)
    # The status sets are lifecycle's: templates test `r.status in RETRYABLE`, never literals.
    app.jinja_env.globals.update(
        Status=lifecycle.Status, ACTIVE=lifecycle.ACTIVE, TERMINAL=lifecycle.TERMINAL,
        RETRYABLE=lifecycle.RETRYABLE, KILLABLE=lifecycle.KILLABLE)
    flower_links.init_app(app)
    humanize.init_app(app)
    sla.init_app(app)

    @app.context_processor
    def navigation():
        def extra_nav():
            if not current_user.is_authenticated:
                return []
            return [(e, label) for e, label, role in NAV
                    if current_user.has_role(role) and e in app.view_functions]
        return {"extra_nav": extra_nav}
