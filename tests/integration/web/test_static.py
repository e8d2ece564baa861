"""Front-end assets: htmx is vendored with a recorded checksum, and nothing comes from a CDN."""
import hashlib
import os
import re

import pytest

from tests.support.env import ROOT

VENDOR = os.path.join(ROOT, "static", "vendor")
TEMPLATES = os.path.join(ROOT, "templates")
# A src/href/url()/@import that leaves the site: http(s):// or protocol-relative //.
EXTERNAL = re.compile(
    r"""(?:\bsrc\s*=\s*|\bhref\s*=\s*|url\(\s*|@import\s+)["']?\s*(?:https?:)?//""", re.I)


def checksums():
    """{file name: sha256} from static/vendor/SHA256SUMS."""
    with open(os.path.join(VENDOR, "SHA256SUMS")) as fh:
        pairs = (line.split() for line in fh if line.strip())
        return {name.lstrip("*"): digest for digest, name in pairs}


def files(folder, *suffixes):
    """Every file below `folder` ending with one of `suffixes`, vendored upstream files aside."""
    for here, _, names in os.walk(folder):
        for name in names:
            if name.endswith(suffixes) and not here.startswith(VENDOR):
                yield os.path.join(here, name)


def test_vendored_files_match_their_checksums():
    """Every vendored file is listed in SHA256SUMS and matches it (htmx among them)."""
    sums = checksums()
    present = {n for n in os.listdir(VENDOR) if n not in ("SHA256SUMS", "README.md")}
    assert present == set(sums), "vendored files and SHA256SUMS disagree"
    assert any(re.fullmatch(r"htmx-\d+\.\d+\.\d+\.min\.js", n) for n in present)
    for name, digest in sums.items():
        with open(os.path.join(VENDOR, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest, name


def test_base_template_loads_the_vendored_htmx():
    """The page's htmx script tag names the vendored, checksummed file."""
    with open(os.path.join(TEMPLATES, "base.html")) as fh:
        base = fh.read()
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', base)
    htmx = [s for s in scripts if "htmx" in s]
    assert len(htmx) == 1
    assert re.search(r"filename='vendor/(htmx-[\d.]+\.min\.js)'", htmx[0]).group(1) in checksums()


# Every template and our own static asset (an empty list would skip the check, not fail it:
# test_external_reference_is_detected makes sure the list holds them).
CHECKED = sorted(files(TEMPLATES, ".html")) + sorted(
    files(os.path.join(ROOT, "static"), ".css", ".js", ".svg"))


@pytest.mark.parametrize("path", CHECKED, ids=os.path.basename)
def test_no_external_scripts_or_styles(path):
    """No template or asset pulls a script, style, font or image from another site."""
    with open(path, encoding="utf-8") as fh:
        content = fh.read()
    found = [m.group(0) for m in EXTERNAL.finditer(content)
             if "http://www.w3.org/" not in content[m.start():m.start() + 60]]
    assert found == [], f"{os.path.relpath(path, ROOT)} loads from elsewhere: {found}"


def test_external_reference_is_detected():
    """The CDN check itself catches the usual ways of loading from another site."""
    for bad in ('<script src="https://unpkg.com/htmx.org"></script>',
                "<link rel=stylesheet href='//cdn.example/x.css'>",
                "body { background: url(http://example.com/a.png) }",
                '@import "https://fonts.googleapis.com/css";'):
        assert EXTERNAL.search(bad), bad
    assert not EXTERNAL.search('<script src="/static/vendor/htmx-2.0.11.min.js"></script>')
    checked = {os.path.relpath(path, ROOT) for path in CHECKED}
    assert {"templates/base.html", "static/app.css"} <= checked, "the check reads no files"
