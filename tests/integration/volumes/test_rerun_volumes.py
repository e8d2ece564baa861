"""A re-run of a volume with a new file: the new file's format is found anew."""
import io

import pytest
from sqlalchemy import text

from dashboard.extensions import db
from tests.integration.volumes.test_volumes import run
from tests.support import volume_samples as samples
from tests.support.db import wait_status


def rerun(api, parent_id, data, fields=None):
    """POST a multipart re-run of `parent_id` with this file; returns the response."""
    return api.post(f"/api/requests/{parent_id}/rerun", content_type="multipart/form-data",
                    data={**(fields or {}), "file": (io.BytesIO(data), "new-volume.bin")})


@pytest.mark.parametrize("fmt, make", [
    ("dicom-zip", lambda: samples.zipped(samples.dicom_files())),
    ("npy", samples.npy_bytes),
])
def test_a_rerun_of_a_nifti_with_another_format_loads_the_new_file(app, stack, api, fmt, make):
    parent = run(app, api, samples.nifti_bytes(), {})
    assert parent["params"]["format"] == "nifti"
    response = rerun(api, parent["id"], make())
    assert response.status_code == 201, response.get_json()
    child = response.get_json()
    assert child["parent_id"] == parent["id"] and child["params"]["format"] == fmt
    row = wait_status(app, child["id"], ("success", "failure", "timeout"), timeout=90)
    assert row["status"] == "success", row["error"]
    result = api.get(f"/api/requests/{child['id']}").get_json()["result"]
    assert result["format"] == fmt and result["shape"] == list(samples.SHAPE)


def test_a_rerun_that_changes_the_format_keeps_it(app, stack, api):
    parent = run(app, api, samples.nifti_bytes(), {})
    with app.app_context():
        before = db.session.execute(text("SELECT count(*) FROM requests")).scalar()
        db.session.rollback()
    response = rerun(api, parent["id"], samples.npy_bytes(),
                     {"params": '{"format": "dicom-zip"}'})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("file: corrupt or truncated zip")
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM requests")).scalar() == before
