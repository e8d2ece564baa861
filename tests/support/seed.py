"""Requests written straight into the test database so pages have something to show.

Used by the accessibility test and by `make screenshots`: a failed request with a
traceback, a success with a long file name, one running, one waiting, one killed.
The dispatcher must be stopped, or it would pick up the unassigned one.
"""
from sqlalchemy import text

from dashboard.extensions import db

from .db import sql

TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/dashboard/jobs/simulate.py", line 41, in run
    raise RuntimeError("the simulated step failed at 40%")
RuntimeError: the simulated step failed at 40%"""

LONG_NAME = "survey-2026-11-30_station-north-east_calibrated_final_v3_really-final.npy"

# (status, job_type, minutes ago created, seconds it ran, extra columns)
ROWS = [
    ("failure", "simulate", 75, 4.2, {"error": "RuntimeError: the simulated step failed at 40%",
                                      "traceback": TRACEBACK, "progress": 40}),
    ("success", "load_array", 90, 3725, {"result": '{"shape": [512, 512], "dtype": "float32"}',
                                         "progress": 100}),
    ("running", "simulate", 3, None, {"progress": 55}),
    ("pending", "simulate_flaky", 1, None, {}),
    ("unassigned", "simulate", 0, None, {}),
    ("killed", "simulate", 12, None, {"error": "killed by operator1", "progress": 20}),
    ("timeout", "simulate", 20, 30, {"error": "TimeLimitExceeded: ran longer than 30 s"}),
]


def seed_requests(app, submitted_by="alice"):
    """Insert ROWS (and each one's first attempt); returns {status: request id}."""
    ids = {}
    with app.app_context():
        for status, job_type, ago, ran, extra in ROWS:
            created = f"now() - interval '{ago} minutes'"
            values = {"status": status, "job_type": job_type, "submitted_by": submitted_by,
                      "params": '{"min_seconds": 1, "max_seconds": 2}', **extra}
            raw = {"created_at": created}
            if status != "unassigned":
                values["task_id"] = f"00000000-0000-4000-8000-{len(ids):012d}"
                raw["queued_at"] = created
            if status in ("running", "success", "failure", "timeout"):
                values["worker"] = "worker1@host-a"
                raw["started_at"] = f"{created} + interval '2 seconds'"
            if ran is not None or status == "killed":
                raw["finished_at"] = f"{created} + interval '{2 + (ran or 5)} seconds'"
            if job_type == "load_array":
                values["params"] = '{"upload_id": null}'
            names = ", ".join([*values, *raw])
            marks = ", ".join([f":{k}" for k in values] + list(raw.values()))
            request_id = db.session.execute(text(
                f"INSERT INTO requests ({names}) VALUES ({marks}) RETURNING id"), values).scalar_one()
            db.session.execute(text(
                "INSERT INTO attempts (request_id, number, status, task_id, worker, triggered_by,"
                " queued_at, started_at, finished_at, error, traceback)"
                " SELECT id, 1, status, task_id, worker, submitted_by, queued_at, started_at,"
                " finished_at, error, traceback FROM requests WHERE id = :id"), {"id": request_id})
            ids[status] = request_id
        db.session.commit()
    return ids


def create_user(app, role, username, password="correct horse battery"):
    """A user with `role` and `password` (the make_user fixture, scripts, the bench); one
    that exists already is reused. Returns a new API token for it."""
    from dashboard.models import User
    from dashboard.web.auth import hash_password, issue_token
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one_or_none()
        if user is None:
            user = User(username=username, role=role, password_hash=hash_password(password))
            db.session.add(user)
            db.session.flush()
        token = issue_token(user, "test")
        db.session.commit()
    return token


def seed_upload_name(app, request_id, filename=LONG_NAME):
    """Give a request an upload with a long file name (what the list cuts with an ellipsis)."""
    with app.app_context():
        upload_id = db.session.execute(text(
            "INSERT INTO uploads (filename, safe_name, size, sha256, content_type, data)"
            " VALUES (:f, 'array.npy', 4, repeat('0', 64), 'application/octet-stream', '\\x00'::bytea)"
            " RETURNING id"), {"f": filename}).scalar_one()
        db.session.execute(text("UPDATE requests SET upload_id = :u WHERE id = :id"),
                           {"u": upload_id, "id": request_id})
        db.session.commit()


def seed_volume(app, token, wait_status):
    """A load_array request that really ran on the workers (npy upload through the API), so
    its page has the slice viewer with a real volume; returns its id. The dispatcher must run."""
    import io

    from tests.support import volume_samples
    answer = app.test_client().post(
        "/api/requests", headers={"Authorization": f"Bearer {token}"},
        data={"job_type": "load_array", "params": "{}",
              "file": (io.BytesIO(volume_samples.npy_bytes()), "ct-phantom.npy")})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    request_id = answer.get_json()["id"]
    assert wait_status(app, request_id, ("success", "failure"), 90)["status"] == "success"
    return request_id


def seed_schedule(app, username="alice"):
    """A schedule with one manual run in its history; returns its id."""
    from dashboard.schedules import manage
    with app.test_request_context("/schedules"):
        schedule_id = manage.create(
            {"name": "nightly-calibration", "job_type": "simulate",
             "params": '{"min_seconds": 1, "max_seconds": 2}', "cron": "30 2 * * *",
             "timezone": "Europe/Berlin", "catch_up": "once", "enabled": True}, username)
        manage.run_now(schedule_id, username)
    return schedule_id


def finish(app, ago_min, status, run_s, via_update=False):
    """A request finished `ago_min` minutes ago after running `run_s` seconds; its finish minute."""
    started = "NULL" if run_s is None else \
        f"now() - interval '{ago_min} minutes' - interval '{run_s} seconds'"
    finished = f"now() - interval '{ago_min} minutes'"
    if via_update:  # the way lifecycle finishes a request: an UPDATE of status
        row = sql(app, "INSERT INTO requests (job_type, status, submitted_by) VALUES"
                       " ('simulate', 'running', 'alice') RETURNING id")[0]
        sql(app, f"UPDATE requests SET status = :s, started_at = {started},"
                 f" finished_at = {finished} WHERE id = :id", s=status, id=row["id"])
    else:
        sql(app, "INSERT INTO requests (job_type, status, submitted_by, started_at, finished_at)"
                 f" VALUES ('simulate', :s, 'alice', {started}, {finished})", s=status)
    return sql(app, f"SELECT date_trunc('minute', {finished}) AS m")[0]["m"]


def by_t(body):
    """/api/stats buckets by their time: {t: {status: count}}."""
    return {b["t"]: {k: v for k, v in b.items() if k != "t"} for b in body["buckets"]}
