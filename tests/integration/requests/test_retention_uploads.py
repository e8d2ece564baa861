"""Retention leaves no upload behind (issue 10): volume copies and orphaned uploads go, bytes too.

Real load_array runs on real workers make the data: a NIfTI file and a zipped
DICOM series each leave a C-order copy of the volume as an extra upload; a raw
file is mapped in place (no copy). Two uploads no request refers to stand for a
submission whose request was never stored. Then the old requests are aged past
RETENTION_DAYS and retention runs.
"""
import io
import json

from sqlalchemy import text

from dashboard import uploads
from dashboard.requests import retention
from dashboard.extensions import db
from tests.support import volume_samples as samples
from tests.support.db import audit_rows, sql, wait_status

ORPHANS = """SELECT u.id FROM uploads u
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.upload_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM volume_caches v WHERE v.upload_id = u.id) ORDER BY u.id"""


def load(app, api, data, params, filename):
    """A load_array request run to success; returns its id."""
    response = api.post("/api/requests", content_type="multipart/form-data", data={
        "job_type": "load_array", "params": json.dumps(params),
        "file": (io.BytesIO(data), filename)})
    assert response.status_code == 201, response.get_json()
    request_id = response.get_json()["id"]
    row = wait_status(app, request_id, ("success", "failure", "timeout"), timeout=90)
    assert row["status"] == "success", row["error"]
    return request_id


def stored_without_request(app, data, age_s):
    """An upload (with its chunks) committed with no request, created `age_s` seconds ago."""
    with app.app_context():
        upload_id = uploads.store(io.BytesIO(data), {
            "filename": "lost.bin", "safe_name": "lost.bin", "size": len(data),
            "sha256": "0" * 64, "content_type": "application/octet-stream"})
        db.session.execute(text("UPDATE uploads SET created_at = now() - make_interval("
                                "secs => :age) WHERE id = :id"), {"age": age_s, "id": upload_id})
        db.session.commit()
    return upload_id


def chunks(app, upload_ids):
    [row] = sql(app, "SELECT count(*) AS n FROM upload_chunks WHERE upload_id = ANY(:ids)",
                ids=list(upload_ids))
    return row["n"]


def test_retention_removes_volume_copies_and_orphans_with_their_chunks(app, stack, api):
    old = {"nifti": load(app, api, samples.nifti_bytes(), {}, "head.nii"),
           "dicom": load(app, api, samples.zipped(samples.dicom_files()), {}, "ct.zip"),
           "raw": load(app, api, samples.raw_bytes(),
                       {"shape": list(samples.SHAPE), "spacing": samples.SPACING}, "v.raw")}
    young = load(app, api, samples.nifti_bytes(packed=True), {}, "kept.nii.gz")
    files = {r["id"]: r for r in sql(
        app, "SELECT r.id, r.upload_id AS original, v.upload_id AS volume FROM requests r"
             " JOIN volume_caches v ON v.request_id = r.id")}
    copies = {k: files[i]["volume"] for k, i in old.items() if k != "raw"}
    assert all(files[old[k]]["volume"] != files[old[k]]["original"] for k in copies)
    assert files[old["raw"]]["volume"] == files[old["raw"]]["original"]  # mapped in place
    doomed = {files[i]["original"] for i in old.values()} | set(copies.values())
    assert chunks(app, doomed) >= len(doomed)
    lost = stored_without_request(app, b"x" * (uploads.CHUNK_BYTES + 10), age_s=7200)
    fresh = stored_without_request(app, b"just stored", age_s=5)
    assert chunks(app, [lost]) == 2
    sql(app, "UPDATE requests SET finished_at = now() - interval '100 days',"
             " created_at = now() - interval '100 days' WHERE id = ANY(:ids)",
        ids=list(old.values()))
    with app.app_context():
        counts = retention.purge(90, batch=2, username="tester", orphan_grace_s=3600)
    assert counts["requests"] == 3
    assert counts["uploads"] == 5  # three originals, two copies
    assert counts["orphaned_uploads"] == 1
    # No upload is left that nothing refers to, except the one inside its grace period.
    assert [r["id"] for r in sql(app, ORPHANS)] == [fresh]
    assert sql(app, "SELECT id FROM uploads WHERE id = ANY(:ids)", ids=list(doomed) + [lost]) == []
    assert chunks(app, doomed | {lost}) == 0
    assert sql(app, "SELECT count(*) AS n FROM upload_chunks c WHERE NOT EXISTS"
                    " (SELECT 1 FROM uploads u WHERE u.id = c.upload_id)") == [{"n": 0}]
    # What a user sees: the old requests are gone, the young one's viewer still draws.
    for request_id in old.values():
        assert api.get(f"/api/requests/{request_id}").status_code == 404
    assert api.get(f"/api/requests/{young}/volume").status_code == 200
    image = api.get(f"/requests/{young}/volume/axial/{samples.CUBE[2].start + 1}.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    [entry] = audit_rows(app, "retention")
    assert entry["detail"]["uploads"] == 5 and entry["detail"]["orphaned_uploads"] == 1
    with app.app_context():  # past its grace period, the fresh orphan goes too
        again = retention.purge(0, orphan_grace_s=0)
    assert again["requests"] == 0 and again["orphaned_uploads"] == 1
    assert sql(app, ORPHANS) == [] and chunks(app, [fresh]) == 0


def test_an_overwritten_volume_record_does_not_keep_its_old_copy(app, stack, api):
    """A redelivered attempt records its volume again: the first copy is no one's any more."""
    request_id = load(app, api, samples.nifti_bytes(), {}, "twice.nii")
    [first] = sql(app, "SELECT upload_id FROM volume_caches WHERE request_id = :id",
                  id=request_id)
    with app.app_context():  # what a second run of the same attempt does (volumes.cache.record)
        second = uploads.store_file(io.BytesIO(b"\0" * 64), f"volume-{request_id}-1.raw")
        db.session.execute(text("UPDATE volume_caches SET upload_id = :u WHERE request_id = :r"),
                           {"u": second, "r": request_id})
        db.session.execute(text("UPDATE uploads SET created_at = now() - interval '2 hours'"
                                " WHERE id = :u"), {"u": first["upload_id"]})
        db.session.commit()
        counts = retention.purge(90)
    assert counts["requests"] == 0 and counts["orphaned_uploads"] == 1
    assert sql(app, ORPHANS) == []
    assert chunks(app, [first["upload_id"]]) == 0
    assert sql(app, "SELECT status FROM requests WHERE id = :id", id=request_id) == [
        {"status": "success"}]
