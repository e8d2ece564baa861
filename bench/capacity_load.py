"""The capacity section's load: requests sent over HTTP from a few clients, then waited
for until every one has ended, and the task messages that carried them; a seeded table."""
import threading

from sqlalchemy import text

from dashboard.extensions import db

from . import dashboard as seeded
from . import stack

TERMINAL_SQL = "('success', 'failure', 'timeout', 'killed')"
CLIENTS = 4


def post_all(url, token, bodies, kind):
    """Send every body from CLIENTS threads; the ids answered (RuntimeError on a refusal)."""
    ids, errors, lock = [], [], threading.Lock()

    def client(share):
        import requests
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            for body in share:
                answer = session.post(url, timeout=120, **{kind: body})
                if answer.status_code != 201:
                    errors.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                with lock:
                    found = answer.json()
                    ids.extend(found["ids"] if "ids" in found else [found["id"]])
    threads = [threading.Thread(target=client, args=(bodies[i::CLIENTS],))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"a submit was refused: {errors[0]}")
    return ids


def finish(app, ids):
    """Until every request in `ids` has ended; RuntimeError unless all succeeded. The ids
    are all those between the least and the greatest (nothing else is submitted meanwhile),
    so the polls read a range of the primary key."""
    span = {"lo": min(ids), "hi": max(ids)}
    def count(where):
        with app.app_context():
            found = db.session.execute(text(f"SELECT count(*) FROM requests WHERE id BETWEEN"
                                            f" :lo AND :hi AND {where}"), span).scalar()
            db.session.rollback()
        return found
    stack.wait_for(lambda: count(f"status IN {TERMINAL_SQL}") >= len(ids),
                   max(120.0, len(ids) / 20), interval=0.5, what=f"{len(ids)} requests ended")
    if count("status = 'success'") != len(ids):
        raise RuntimeError(f"capacity: not all of {len(ids)} requests succeeded")


def task_messages(app, ids):
    """Task messages the dispatcher published for `ids` (one per batch, one per lone request)."""
    with app.app_context():
        found = db.session.execute(text(
            "SELECT count(DISTINCT detail->>'batch')"
            " + count(*) FILTER (WHERE NOT detail ? 'batch') FROM attempt_logs"
            " WHERE request_id BETWEEN :lo AND :hi AND event = 'started'"),
            {"lo": min(ids), "hi": max(ids)}).scalar()
        db.session.rollback()
    return found


def seed(app, rows):
    """`rows` requests as bench.dashboard seeds them, every one finished: none runs here."""
    seeded.seed(app, rows, uploads=1000)
    with app.app_context():
        for table in ("requests", "attempts"):
            db.session.execute(text(
                f"UPDATE {table} SET status = 'success', finished_at = now() - interval '1 day'"
                " WHERE status IN ('unassigned', 'pending', 'running')"))
        db.session.commit()
