"""The dashboard's two languages: Flask-Babel, and which one a request is answered in."""
from flask import has_request_context, request
from flask_babel import Babel, get_locale
from flask_login import current_user

from dashboard.web import words

# The languages the dashboard speaks; the first is the fallback.
LANGUAGES = ("en", "ko")
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}

babel = Babel()


def chosen_locale():
    """The signed-in user's language, else the browser's best match, else English.

    The JSON API always answers in English: its error messages are matched by scripts."""
    if has_request_context() and request.path.startswith("/api/"):
        return LANGUAGES[0]
    choice = getattr(current_user, "locale", None) if _has_user() else None
    if choice in LANGUAGES:
        return choice
    if has_request_context():
        return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])
    return LANGUAGES[0]


def _has_user():
    """Whether a request is being served with a signed-in user."""
    try:
        return bool(current_user and current_user.is_authenticated)
    except Exception:  # outside a request, or before the login manager is set up
        return False


def locale_code():
    """The current language as a two-letter code for `<html lang>`."""
    return str(get_locale() or LANGUAGES[0]).split("_")[0]


def init_app(app, root):
    """Flask-Babel on `app`: catalogs in translations/, `_`/`ngettext` in every template."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", f"{root}/translations")
    babel.init_app(app, locale_selector=chosen_locale)
    app.jinja_env.globals.update(locale_code=locale_code, LANGUAGE_NAMES=LANGUAGE_NAMES)
    words.init_app(app)
