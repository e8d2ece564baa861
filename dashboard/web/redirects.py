"""Where a `next` may send the browser: back into this site only, never off it.

Every `next` (the sign-in page's, the action forms') goes through safe_next. It
normalises first, as a browser would read the value (tabs, newlines and other
control characters dropped, backslashes as slashes, percent-escapes decoded for
the check), then allows only a path on this site: "/" followed by anything but a
second "/" (which would name another host).
"""
import re
from urllib.parse import unquote, urlsplit

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_LENGTH = 2000


def _as_browser_reads(target):
    """The value without control characters, surrounding spaces and backslashes."""
    return _CONTROL.sub("", target).strip().replace("\\", "/")


def _local(target):
    """True when `target` is a path on this site."""
    parts = urlsplit(target)
    return (target.startswith("/") and not target.startswith("//") and not parts.scheme
            and not parts.netloc)


def safe_next(target, default=None):
    """`target` normalised when it stays on this site, else `default`."""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return default
    cleaned = _as_browser_reads(target)
    decoded = _as_browser_reads(unquote(cleaned))
    if not (_local(cleaned) and _local(decoded)):
        return default
    return cleaned
