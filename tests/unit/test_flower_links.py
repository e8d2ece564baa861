"""Links into Flower: one encoding of worker names, the same in the API, pages and templates."""
from flask import render_template_string

from dashboard.workers import flower_links


def test_worker_names_are_percent_encoded_whole(unit_ctx):
    assert flower_links.worker_url("worker1@host") == "/flower/worker/worker1%40host"
    assert flower_links.worker_url("w/1 ?#@h") == "/flower/worker/w%2F1%20%3F%23%40h"
    assert flower_links.worker_url(None) is None


def test_task_and_home_links(unit_ctx):
    assert flower_links.task_url("5d2c0ba5-91c4") == "/flower/task/5d2c0ba5-91c4"
    assert flower_links.task_url(None) is None
    assert flower_links.home_url() == "/flower/"


def test_templates_build_the_same_links(unit_ctx):
    html = render_template_string(
        '<a href="{{ flower_worker_url(w) }}">{{ w }}</a> <a href="{{ flower_task_url(t) }}">',
        w="worker1@host", t="abc")
    assert html == ('<a href="/flower/worker/worker1%40host">worker1@host</a>'
                    ' <a href="/flower/task/abc">')


def test_templates_see_lifecycle_status_sets(unit_ctx):
    html = render_template_string(
        "{{ 'killed' in RETRYABLE }} {{ 'killed' in KILLABLE }} {{ 'running' in ACTIVE }}"
        " {{ 'timeout' in TERMINAL }} {{ 'success' == Status.SUCCESS }}")
    assert html == "True False True True True"
