"""Words the pages show for values the service stores in English: statuses, roles, and the
phrases static/*.js writes itself. The stored values (and every data-* attribute) stay English."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

STATUSES = {
    "unassigned": _l("unassigned"), "pending": _l("pending"), "running": _l("running"),
    "success": _l("success"), "failure": _l("failure"), "timeout": _l("timeout"),
    "killed": _l("killed"),
}
ROLES = {"viewer": _l("viewer"), "operator": _l("operator"), "admin": _l("admin")}


def status_label(status):
    """A request status in the reader's language (unknown values as they are)."""
    return str(STATUSES.get(str(status), status))


def role_label(role):
    """A role in the reader's language."""
    return str(ROLES.get(role, role))


def ui_words():
    """The phrases static/*.js writes into the page, in the reader's language."""
    return {
        "just_now": _("just now"), "s_ago": _("%(n)s s ago", n="{n}"),
        "min_ago": _("%(n)s min ago", n="{n}"), "h_ago": _("%(n)s h ago", n="{n}"),
        "d_ago": _("%(n)s d ago", n="{n}"),
        "dark_on": _("Dark theme: on"), "dark_off": _("Dark theme: off"),
        "copy": _("Copy"), "copied": _("Copied"),
        "no_file": _("No file chosen."), "chosen": _("Chosen: %(name)s (%(size)s)", name="{name}",
                                                      size="{size}"),
        "of_mb": _("%(pct)s %% · %(loaded)s of %(total)s MB", pct="{pct}", loaded="{loaded}",
                   total="{total}"),
        "checking": _("%(pct)s %% · uploaded; the server is checking the file…", pct=100),
        "submitted_as": _("Submitted as request #%(id)s; opening its page…", id="{id}"),
        "not_submitted": _("Not submitted: %(why)s", why="{why}"),
        "unreachable": _("Not submitted: the server could not be reached."),
        "error_n": _("Error %(status)s", status="{status}"),
        "lost": _("The server cannot be reached. Retrying…"),
        "back": _("Connection to the server is back."),
    }


def init_app(app):
    """The helpers above in every template."""
    app.jinja_env.globals.update(status_label=status_label, role_label=role_label,
                                 ui_words=ui_words)
