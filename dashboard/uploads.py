"""Uploaded files: read with a size cap, name sanitized, bytes kept in PostgreSQL."""
import hashlib
import re
import unicodedata

from werkzeug.utils import secure_filename

from .extensions import db
from .jobs import InvalidInput
from .models import Upload

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Control, format (bidi overrides, zero-width), surrogate, private-use, line/paragraph separators.
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
MAX_NAME = 200


def _visible(text):
    """`text` without characters that hide or reorder what is displayed."""
    return "".join(c for c in text if unicodedata.category(c) not in _HIDDEN)


def display_name(name):
    """The original filename for display: path parts and invisible characters removed, capped.

    HTML in the name is kept as text: every template escapes it.
    """
    name = unicodedata.normalize("NFC", _CONTROL.sub("", str(name or "")))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _visible(name).strip()
    if name in (".", ".."):
        name = ""
    return name[:MAX_NAME] or "upload"


def safe_name(name):
    """A filesystem- and URL-safe name (never used to build a path we write)."""
    cleaned = secure_filename(display_name(name))[:100]
    return cleaned or "upload.bin"


def read(file_storage, max_bytes):
    """(bytes, meta) of an uploaded file, or (None, None) when none was sent or it is empty."""
    if file_storage is None or not file_storage.filename:
        return None, None
    data = file_storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidInput(f"file: larger than the {max_bytes // (1024 * 1024)} MB limit", 413)
    if not data:
        return None, None
    meta = {
        "filename": display_name(file_storage.filename),
        "safe_name": safe_name(file_storage.filename),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": (_CONTROL.sub("", file_storage.mimetype or "")
                         or "application/octet-stream")[:255],
    }
    return data, meta


def store(data, meta):
    """Add the upload to the session (not committed) and return its id."""
    upload = Upload(data=data, **meta)
    db.session.add(upload)
    db.session.flush()
    return upload.id


def meta(upload_id):
    """A stored upload's meta (filename, safe_name, size, sha256, content_type), or None."""
    if upload_id is None:
        return None
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        return None
    return {"filename": upload.filename, "safe_name": upload.safe_name, "size": upload.size,
            "sha256": upload.sha256, "content_type": upload.content_type}


def data(upload_id):
    """A stored upload's bytes, or None."""
    upload = db.session.get(Upload, upload_id) if upload_id is not None else None
    return upload.data if upload is not None else None
