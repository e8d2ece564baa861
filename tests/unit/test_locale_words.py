"""Times, numbers and labels in the reader's language, and how the language is chosen
(a bare Flask app with the dashboard's Flask-Babel set-up: no database needed)."""
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from flask_babel import force_locale

from dashboard import ROOT, i18n
from dashboard.web.humanize import ago_text, duration_text, number, utc_text
from dashboard.web.words import status_label, why_label

NOW = datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def app():
    """Flask with the dashboard's Babel and catalogs."""
    application = Flask(__name__)
    i18n.init_app(application, ROOT)
    return application


@pytest.mark.parametrize("locale, duration, ago, count, status", [
    ("en", "1 h 2 min", "3 min ago", "12,345", "killed"),
    ("ko", "1시간 2분", "3분 전", "12,345", "강제 종료됨"),
])
def test_words_follow_the_locale(app, locale, duration, ago, count, status):
    with app.test_request_context(), force_locale(locale):
        assert duration_text(3725) == duration
        assert ago_text(NOW - timedelta(minutes=3), now=NOW) == ago
        assert number(12345) == count
        assert status_label("killed") == status


def test_exact_times_are_written_the_locales_way(app):
    with app.test_request_context(), force_locale("ko"):
        assert utc_text(NOW) == "2026. 12. 1. 오전 8:00:00 UTC"
    with app.test_request_context(), force_locale("en"):
        assert utc_text(NOW) == "2026-12-01 08:00:00 UTC"


def test_fractions_use_the_locales_decimal_mark(app):
    with app.test_request_context(), force_locale("ko"):
        assert duration_text(0.42) == "0.42초"


@pytest.mark.parametrize("header, chosen", [
    ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"), ("en-GB,en;q=0.9", "en"),
    ("fr-FR,fr;q=0.9", "en"), ("fr;q=0.9,ko;q=0.5", "ko"), (None, "en")])
def test_signed_out_the_browser_chooses(app, header, chosen):
    """Without a user, Accept-Language's best match of en and ko, else English."""
    headers = {"Accept-Language": header} if header else {}
    with app.test_request_context("/", headers=headers):
        assert i18n.chosen_locale() == chosen


def test_the_api_answers_in_english_whatever_the_browser(app):
    with app.test_request_context("/api/requests", headers={"Accept-Language": "ko"}):
        assert i18n.chosen_locale() == "en"


def test_unknown_codes_keep_their_words(app):
    with app.test_request_context(), force_locale("ko"):
        assert why_label("no_consumers") == "소비자 없음"
        assert why_label("something_new") == "something new"
        assert status_label("archived") == "archived"
