"""Links into Flower: the one place that builds them, with one encoding of worker names.

Worker names (`worker1@host`) are percent-encoded whole (`worker1%40host`):
Flower's URL table (`/worker/(.+)`) decodes the path, so this is the form every
link, API answer and template uses. `FLOWER_URL` is where the dashboard serves Flower.
"""
from urllib.parse import quote

from flask import current_app


def _base():
    return current_app.config["FLOWER_URL"]


def home_url():
    """Flower's own start page."""
    return f"{_base()}/"


def task_url(task_id):
    """A task's page in Flower (None when there is no task id yet)."""
    return f"{_base()}/task/{quote(str(task_id), safe='')}" if task_id else None


def worker_url(name):
    """A worker's page in Flower (None without a worker name)."""
    return f"{_base()}/worker/{quote(str(name), safe='')}" if name else None


def init_app(app):
    """Make the links available to every template."""
    app.jinja_env.globals.update(flower_home_url=home_url, flower_task_url=task_url,
                                 flower_worker_url=worker_url)
