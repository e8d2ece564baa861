"""Uploaded files: read with a size cap, name sanitized, bytes kept in PostgreSQL."""
import hashlib
import re
import unicodedata

from werkzeug.utils import secure_filename

from .extensions import db
from .jobs import InvalidInput
from .models import Upload

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def display_name(name):
    """The original filename for display: path parts and control characters removed, capped."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name).strip()
    return name[:200] or "upload"


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
        "content_type": (file_storage.mimetype or "application/octet-stream")[:255],
    }
    return data, meta


def store(data, meta):
    """Add the upload to the session (not committed) and return its id."""
    upload = Upload(data=data, **meta)
    db.session.add(upload)
    db.session.flush()
    return upload.id
