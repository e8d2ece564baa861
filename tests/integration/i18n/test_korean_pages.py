"""Every page, as a Korean user sees it, has no English left from the interface.

"The interface's English" is every word of the catalog's msgids that the Korean
translations do not keep themselves (so JSON, CSV, UTC, Flower or PET, which Korean
operators write as they are, are allowed). A page's human-read text is its visible
text plus the title, aria-label, placeholder, alt and hx-confirm attributes, without
code and pre blocks. Data is not the interface: the words of the job types' own
declarations (names, titles, descriptions, parameter schemas) and of the seeded rows
(errors, tracebacks, file and user names) are left out of the list. A page that shows
one English word of the interface fails, naming the page, the word and its sentence.
"""
import json
import re

import pytest
from babel.messages.pofile import read_po

from dashboard import jobs
from tests.support import seed
from tests.support.db import sql, wait_status
from tests.support.html import parse
from tests.support.http import sign_in
from tests.unit.test_catalog import PO

WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
READ_ATTRS = ("title", "aria-label", "placeholder", "alt", "hx-confirm")
SKIP_TAGS = {"code", "pre", "script", "style", "datalist"}
PAGES = [
    "/", "/?status=failure", "/account", "/requests/new", "/requests/new?job_type=load_array",
    "/workers", "/job-types", "/processes", "/schedules", "/audit", "/users", "/alerts",
    "/overview",
    lambda ids: f"/requests/{ids['failure']}",
    lambda ids: f"/requests/{ids['success']}",
    lambda ids: f"/requests/{ids['running']}",
    lambda ids: f"/requests/{ids['killed']}",
    lambda ids: f"/requests/{ids['volume']}",
    lambda ids: f"/requests/{ids['failure']}/rerun",
    lambda ids: f"/requests/{ids['pending']}/why",
    lambda ids: f"/requests/{ids['unassigned']}/why",
    lambda ids: f"/requests/{ids['failure']}/log-lines?reset=1",
    lambda ids: f"/schedules/{ids['schedule']}",
    lambda ids: f"/schedules/{ids['schedule']}/history",
]


def _words(text):
    """The lower-case words of a text."""
    return {w.lower() for w in WORD.findall(text or "")}


@pytest.fixture(scope="module")
def interface_words():
    """English words of the interface: the msgids' words the Korean strings do not keep."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="ko")
    english, kept = set(), set()
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        texts = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in ids:
            english |= _words(re.sub(r"%\(\w+\)\w|\{\w+\}", " ", text))
        for text in texts:
            kept |= _words(text)
    return english - kept


def _data_words(seeded_texts):
    """Words that are data, not interface: the job types' declarations and seeded rows."""
    words = set()
    for job in jobs.REGISTRY.values():
        words |= _words(" ".join([job.name, job.title or "", job.description or "",
                                  job.queue, json.dumps(job.schema)]))
    for text in seeded_texts:
        words |= _words(text)
    return words


def _read_text(node, out):
    """Visible text and read attributes of `node` and below (code/pre/script skipped, and
    options that show their own value: identifiers such as an audit action or a rule kind)."""
    if node.tag in SKIP_TAGS or (node.tag == "option" and node.text() == node.attrs.get("value")):
        return
    for name in READ_ATTRS:
        if node.attrs.get(name):
            out.append(node.attrs[name])
    for child in node.children:
        if isinstance(child, str):
            out.append(child)
        else:
            _read_text(child, out)


@pytest.fixture
def korean_admin(app, make_user):
    """A test client signed in as an admin who chose Korean."""
    username, password, _ = make_user("admin", username="kim-admin")
    sql(app, "UPDATE users SET locale = 'ko' WHERE username = :u", u=username)
    client = app.test_client()
    sign_in(client, username, password)
    return client


@pytest.fixture
def seeded(app, stack, make_user):
    """One request per status, a volume that really loaded, a schedule with a run."""
    token = make_user("operator", username="volume-operator")[2]
    volume = seed.seed_volume(app, token, wait_status)
    stack.stop_dispatcher()
    ids = seed.seed_requests(app)
    seed.seed_upload_name(app, ids["success"])
    ids.update(volume=volume, schedule=seed.seed_schedule(app))
    texts = [row[4].get(k, "") for row in seed.ROWS for k in ("error", "traceback")]
    texts += [seed.LONG_NAME, "alice", "volume-operator", "kim-admin", "nightly-calibration",
              "ct-phantom.npy", "Europe/Berlin", "worker1@host-a", "worker1@test",
              "worker2@test"]
    yield ids, texts
    stack.start_dispatcher()


def test_no_interface_english_on_any_korean_page(app, korean_admin, seeded, interface_words):
    ids, texts = seeded
    forbidden = interface_words - _data_words(texts)
    assert {"retry", "kill", "workers", "submitted"} <= forbidden  # the list works
    found = {}
    for entry in PAGES:
        path = entry(ids) if callable(entry) else entry
        response = korean_admin.get(path)
        assert response.status_code == 200, path
        doc = parse(response.get_data(as_text=True))
        html = doc.find("html")
        if html is not None:
            assert html.attrs.get("lang") == "ko", path
        parts = []
        _read_text(doc, parts)
        for part in parts:
            left = _words(part) & forbidden
            if left:
                found.setdefault(path, []).append(f"{sorted(left)} in {' '.join(part.split())[:90]!r}")
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(v[:12]) for p, v in found.items())


def test_signed_out_korean_pages(client, interface_words):
    """The sign-in page and an unknown page for a Korean browser."""
    headers = {"Accept-Language": "ko-KR,ko;q=0.9"}
    for path, status in (("/login", 200),):
        response = client.get(path, headers=headers)
        assert response.status_code == status
        parts = []
        _read_text(parse(response.get_data(as_text=True)), parts)
        assert {w for p in parts for w in _words(p)} & interface_words == set()
