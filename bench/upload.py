"""Large uploads: a big raw volume through the API, web memory, upload rate, worker memory.

The file (raw float32 with a bright cube) is written to var/bench/ in chunks and
sent as a streamed multipart body (deploy/stack.py's post_file), so the client holds no copy.
Measured: the gunicorn worker's peak RSS (VmHWM) during the upload minus its RSS
before it (goal <= 64 MB: the web never holds the file), the upload rate, and the
Celery pool process's peak RSS while it loads the volume (goal <= ~2x the volume).
"""
import os
import shutil
import tempfile
import time

import numpy as np
import requests
from sqlalchemy import text

from dashboard.extensions import db
from deploy.stack import memory_kb, post_file

from . import stack, users


def write_volume(path, shape):
    """A raw float32 volume of `shape` with a bright cube, written a slab at a time."""
    x, y, z = shape
    with open(path, "wb") as fh:
        for i in range(x):
            slab = np.full((y, z), 1.0, dtype=np.float32)
            if x // 4 <= i < x // 2:
                slab[y // 4:y // 2, z // 4:z // 2] = 1000.0
            fh.write(slab.tobytes())


def _empty_queue(app):
    """No request ahead of the upload's: the dashboard seed leaves unassigned, pending and
    running rows without messages, which this section's dispatcher would publish (as
    stale) before the load, behind which a one-process worker would sleep for minutes."""
    with app.app_context():
        db.session.execute(text("TRUNCATE requests, attempts, status_counts, finish_stats"
                                " RESTART IDENTITY CASCADE"))
        db.session.commit()
    app.extensions["celery"].control.purge()


def run(app, opts):
    """One upload of opts.upload_mb (default 512) through gunicorn; the worker loads it."""
    side = max(8, round((opts.upload_mb * 1024 * 1024 / 4) ** (1 / 3)))
    shape = (side, side, side)
    os.makedirs(stack.OUT_DIR, exist_ok=True)
    path = os.path.join(stack.OUT_DIR, f"upload-{side}.raw")
    if not os.path.exists(path) or os.path.getsize(path) != side ** 3 * 4:
        write_volume(path, shape)
    size_mb = os.path.getsize(path) / (1024 * 1024)
    _empty_queue(app)
    token = users.ensure_user(app, "bench-uploader", "operator")
    port = stack.free_port()
    base_url = f"http://127.0.0.1:{port}"
    cache_dir = tempfile.mkdtemp(prefix="volume-cache-", dir=stack.OUT_DIR)
    web = stack.Proc("web", stack.web_argv(port, workers=1, threads=4),
                     {"MAX_UPLOAD_MB": str(int(size_mb) + 16),
                      "VOLUME_CACHE_DIR": cache_dir}).start()
    worker = stack.worker("loader", concurrency=1).start()
    dispatcher = stack.dispatcher().start()
    try:
        stack.wait_for(lambda: stack.answers(f"{base_url}/healthz"), 60, what="gunicorn")
        stack.wait_online(app.extensions["celery"], ["loader@bench"])
        web_pid = stack.children(web.pid)[0]
        requests.get(f"{base_url}/healthz", timeout=10)
        rss_before, _ = memory_kb(web_pid)
        t0 = time.monotonic()
        response = post_file(base_url, token, path, "load_array",
                             f'{{"shape": [{side}, {side}, {side}]}}')
        upload_s = time.monotonic() - t0
        if response.status_code != 201:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:200]}")
        _, web_peak = memory_kb(web_pid)
        request_id = response.json()["id"]
        pool = stack.children(worker.pid)
        t1 = time.monotonic()
        while True:
            body = requests.get(f"{base_url}/api/requests/{request_id}", timeout=30, headers={
                "Authorization": f"Bearer {token}"}).json()
            if body["status"] in ("success", "failure", "timeout", "killed"):
                break
            if time.monotonic() - t1 > 900:
                raise RuntimeError("the volume did not load within 900 s")
            time.sleep(0.5)
        load_s = time.monotonic() - t1
        worker_peak = max((memory_kb(pid)[1] for pid in pool), default=0)
        t2 = time.monotonic()
        slice_answer = requests.get(f"{base_url}/requests/{request_id}/volume/axial/"
                                    f"{side // 3}.png", timeout=120,
                                    headers={"Authorization": f"Bearer {token}"})
        first_slice_s = time.monotonic() - t2
        times = _slice_times(base_url, token, request_id, side)
        seed = _seed_case(base_url, token)
    finally:
        dispatcher.stop()
        worker.stop()
        web.stop()
        shutil.rmtree(cache_dir, ignore_errors=True)
    growth_mb = (web_peak - rss_before) / 1024
    metrics = [
        {"name": f"web RSS growth uploading {size_mb:.0f} MB", "value": growth_mb, "unit": "MB",
         "goal": 64.0, "cmp": "<="},
        {"name": "  upload rate", "value": size_mb / upload_s, "unit": "MB/s"},
        {"name": f"worker peak RSS loading it (goal ~2x {size_mb:.0f} MB)",
         "value": worker_peak / 1024, "unit": "MB", "goal": 2 * size_mb, "cmp": "<="},
        {"name": "  load (status success) after submit", "value": load_s, "unit": "s"},
        {"name": "  first slice (copies the volume to the web's cache)",
         "value": first_slice_s * 1000, "unit": "ms"},
        {"name": "  cached slice p50 (axial, coronal, sagittal)",
         "value": sorted(times)[len(times) // 2], "unit": "ms"},
        {"name": "seed volume 110x110x187 float32: job run time", "value": seed["job_s"],
         "unit": "s", "goal": 1.0, "cmp": "<="},
        {"name": "seed volume: slice image p50 over HTTP", "value": seed["slice_p50_ms"],
         "unit": "ms", "goal": 50.0, "cmp": "<="},
        {"name": "seed-size PET/CT: CT slice with orientation letters p50",
         "value": seed["ct_p50_ms"], "unit": "ms", "goal": 50.0, "cmp": "<="},
        {"name": "seed-size PET/CT: fused slice (PET over CT) p50",
         "value": seed["fused_p50_ms"], "unit": "ms", "goal": 100.0, "cmp": "<="},
    ]
    details = {"shape": shape, "status": body["status"], "error": body.get("error"),
               "slice_status": slice_answer.status_code, "web_rss_before_kb": rss_before,
               "web_peak_kb": web_peak, "worker_peak_kb": worker_peak, "slice_ms": times,
               "seed": seed}
    os.unlink(path)
    return metrics, details


def _slice_times(base_url, token, request_id, side, n=10, query="window=lung"):
    """Milliseconds per slice PNG over HTTP, each view (after one warm-up request)."""
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for view in ("axial", "coronal", "sagittal"):
        requests.get(f"{base_url}/requests/{request_id}/volume/{view}/0.png?{query}",
                     timeout=120, headers=headers)
        for k in range(n):
            t0 = time.monotonic()
            answer = requests.get(f"{base_url}/requests/{request_id}/volume/{view}/"
                                  f"{(k * 7) % side}.png?{query}", timeout=60,
                                  headers=headers)
            times.append((time.monotonic() - t0) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"slice answered {answer.status_code}")
    return times


def _seed_case(base_url, token):
    """The notes' example size: its job's run time and its slices' answer time."""
    from datetime import datetime
    shape = (110, 110, 187)
    path = os.path.join(stack.OUT_DIR, "upload-seed.raw")
    write_volume(path, shape)
    response = post_file(base_url, token, path, "load_array", '{"shape": [110, 110, 187]}')
    os.unlink(path)
    if response.status_code != 201:
        raise RuntimeError(f"seed upload answered {response.status_code}: {response.text[:200]}")
    request_id = response.json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 300
    while True:
        body = requests.get(f"{base_url}/api/requests/{request_id}", timeout=30,
                            headers=headers).json()
        if body["status"] in ("success", "failure", "timeout", "killed") or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if body["status"] != "success":
        raise RuntimeError(f"seed volume: {body['status']} {body.get('error')}")
    job_s = (datetime.fromisoformat(body["finished_at"])
             - datetime.fromisoformat(body["started_at"])).total_seconds()
    times = _slice_times(base_url, token, request_id, 110)
    fused_id = _loaded(base_url, token, post_pet_ct(base_url, token))
    ct = _slice_times(base_url, token, fused_id, 110, query="layer=ct&window=soft_tissue")
    fused = _slice_times(base_url, token, fused_id, 110,
                         query="layer=fusion&opacity=0.5&cmap=hot&pet_window=suv5")
    return {"job_s": job_s, "slice_p50_ms": sorted(times)[len(times) // 2], "slice_ms": times,
            "ct_p50_ms": sorted(ct)[len(ct) // 2], "fused_p50_ms": sorted(fused)[len(fused) // 2],
            "ct_ms": ct, "fused_ms": fused}


def post_pet_ct(base_url, token):
    """Submit the seed-size PET/CT phantom (110 x 110 x 187, tests/support/pet_samples)."""
    from tests.support.pet_samples import phantom_zip
    answer = requests.post(f"{base_url}/api/requests", timeout=120,
                           headers={"Authorization": f"Bearer {token}"},
                           data={"job_type": "load_array", "params": "{}"},
                           files={"file": ("pet-ct.zip", phantom_zip())})
    if answer.status_code != 201:
        raise RuntimeError(f"PET/CT upload answered {answer.status_code}: {answer.text[:200]}")
    return answer.json()["id"]


def _loaded(base_url, token, request_id, limit_s=300):
    """Wait for the request's success; returns its id (RuntimeError otherwise)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        body = requests.get(f"{base_url}/api/requests/{request_id}", timeout=30,
                            headers={"Authorization": f"Bearer {token}"}).json()
        if body["status"] == "success":
            return request_id
        if body["status"] in ("failure", "timeout", "killed"):
            raise RuntimeError(f"PET/CT volume: {body['status']} {body.get('error')}")
        time.sleep(0.2)
    raise RuntimeError("the PET/CT volume did not load within the limit")
