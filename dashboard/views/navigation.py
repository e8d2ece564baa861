"""The top bar's extra links: each blueprint adds its own, shown to the roles allowed to use them."""
from flask_login import current_user

NAV = []  # (endpoint, label, role), in the order the blueprints add them


def nav(endpoint, label, role="viewer"):
    """Add a top-bar link shown to users with at least `role`."""
    NAV.append((endpoint, label, role))


def init_app(app):
    """Every template gets `extra_nav()`: the links the signed-in user may follow."""
    @app.context_processor
    def navigation():
        def extra_nav():
            if not current_user.is_authenticated:
                return []
            return [(e, label) for e, label, role in NAV
                    if current_user.has_role(role) and e in app.view_functions]
        return {"extra_nav": extra_nav}
