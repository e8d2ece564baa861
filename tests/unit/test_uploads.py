"""Uploaded files: the name shown and stored, the size cap, the recorded facts."""
import hashlib
import io

import pytest
from werkzeug.datastructures import FileStorage

from dashboard import uploads
from dashboard.errors import Refused

MB = 1024 * 1024


def upload(data, filename="scan.raw", content_type="application/octet-stream"):
    return FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)


@pytest.mark.parametrize("given, shown", [
    ("C:\\Users\\me\\evil.bin", "evil.bin"), ("..", "upload"), ("\x00\x00", "upload"),
    ("dir/\u200bname\u2028.txt", "name.txt"), ("\ud800bad.bin", "bad.bin"),
])
def test_display_name_rules(given, shown):
    """Windows paths, dot names, NUL-only, zero-width/line separators, lone surrogates."""
    assert uploads.display_name(given) == shown
    assert "/" not in uploads.safe_name(given) and "\\" not in uploads.safe_name(given)


def test_display_name_removes_bidi_overrides_and_keeps_html_as_text():
    assert uploads.display_name("invoice\u202etxt.exe") == "invoicetxt.exe"
    assert uploads.display_name("<b>x</b>.raw") == "b>.raw", "the part after the last / is kept"
    assert uploads.display_name("<img src=x>.raw") == "<img src=x>.raw"


def test_display_name_is_nfc_and_capped():
    assert uploads.display_name("e\u0301.raw") == "\u00e9.raw"
    assert len(uploads.display_name("a" * 500)) == uploads.MAX_NAME
    assert uploads.display_name(None) == "upload"


def test_safe_name_is_ascii_for_paths_and_urls():
    assert uploads.safe_name("../../etc/passwd") == "passwd"
    assert uploads.safe_name("My Scan (1).raw") == "My_Scan_1.raw"
    assert uploads.safe_name("\u4e2d\u6587") == "upload.bin"
    assert len(uploads.safe_name("b" * 300 + ".raw")) == 100


def test_no_file_or_an_empty_file_is_no_upload():
    assert uploads.read(None, MB) == (None, None)
    assert uploads.read(upload(b"", filename=""), MB) == (None, None)
    assert uploads.read(upload(b""), MB) == (None, None)


def test_a_file_over_the_limit_is_413():
    with pytest.raises(Refused) as caught:
        uploads.read(upload(b"x" * (MB + 1)), MB)
    assert caught.value.status == 413
    assert caught.value.message == "file: larger than the 1 MB limit"
    assert uploads.read(upload(b"x" * MB), MB)[1]["size"] == MB, "exactly the limit is allowed"


def test_an_upload_records_its_names_size_and_digest():
    stream, meta = uploads.read(upload(b"\x00\x01" * 10, filename="dir/Scan 1.raw",
                                       content_type="application/x-raw"), MB)
    data = stream.read()                  # the spooled file, rewound; stored later in chunks
    assert data == b"\x00\x01" * 10
    assert meta == {"filename": "Scan 1.raw", "safe_name": "Scan_1.raw", "size": 20,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "content_type": "application/x-raw"}


def test_a_missing_content_type_is_octet_stream():
    assert uploads.read(upload(b"abc", content_type=""), MB)[1]["content_type"] == \
        "application/octet-stream"
