"""Uploads stream (issue 14 item 9): a 60 MB file through the real gunicorn costs the web
worker at most 64 MB of peak memory, and its bytes arrive whole in upload_chunks.

Before chunked storage the worker read the whole file into memory and psycopg2 quoted
it into one statement: its peak grew by several times the file's size.
"""
import hashlib
import os

from sqlalchemy import text

from dashboard.extensions import db
from deploy import stack as procs
from deploy.stack import memory_kb, post_file
from tests.support.env import RUN_DIR
from tests.support.procs import Proc, free_port, wait_for

SIZE = 60 * 1024 * 1024
LIMIT_KB = 64 * 1024


def test_a_60_mb_upload_grows_the_web_worker_by_at_most_64_mb(app, make_user):
    _, _, token = make_user("operator")
    path = os.path.join(RUN_DIR, "upload-60mb.bin")
    with open(path, "wb") as fh:
        for i in range(SIZE // (1024 * 1024)):
            fh.write(hashlib.sha256(str(i).encode()).digest() * (1024 * 1024 // 32))
    port = free_port()
    web = Proc("web-upload", procs.web_argv(port, workers=1, threads=2),
               {"MAX_UPLOAD_MB": "100"}).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: procs.answers(f"{base}/healthz", timeout=0.2), 30, what="gunicorn")
        worker = procs.children(web.pid)[0]
        small = os.path.join(RUN_DIR, "upload-small.bin")
        with open(small, "wb") as fh:
            fh.write(b"\x00" * 4096)
        warm = post_file(base, token, small, "simulate", '{"hang": true}')  # code paths loaded
        assert warm.status_code == 201, warm.text
        rss_before, _ = memory_kb(worker)
        response = post_file(base, token, path, "simulate", '{"hang": true}')
        assert response.status_code == 201, response.text
        _, peak = memory_kb(worker)
        assert peak - rss_before <= LIMIT_KB, (
            f"web worker peak grew by {(peak - rss_before) / 1024:.0f} MB for a 60 MB upload")
    finally:
        web.stop()
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    os.unlink(path)
    with app.app_context():
        row = db.session.execute(text(
            "SELECT u.size, u.sha256, u.data IS NULL AS chunked, count(c.seq) AS n,"
            " sum(octet_length(c.data)) AS total,"
            " encode(sha256(string_agg(c.data, ''::bytea ORDER BY c.seq)), 'hex') AS digest"
            " FROM uploads u JOIN upload_chunks c ON c.upload_id = u.id"
            " WHERE u.id = (SELECT upload_id FROM requests WHERE id = :id)"
            " GROUP BY u.id"), {"id": response.json()["id"]}).mappings().one()
        db.session.rollback()
    assert row["size"] == row["total"] == SIZE and row["chunked"] and row["n"] == 60
    assert row["sha256"] == row["digest"] == digest
