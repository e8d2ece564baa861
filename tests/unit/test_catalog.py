"""The Korean catalog covers every string the code and templates mark for translation.

The strings are extracted afresh with pybabel (translations/babel.cfg, the keywords
`make translations` uses) into a temporary .pot, so a string added anywhere and not
translated fails here, naming it. The compiled .mo must say what the .po says (the app
reads the .mo), and every translation must keep its msgid's placeholders.
"""
import re
import subprocess
import sys
from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = ["-k", "_l", "-k", "lazy_gettext", "-k", "nav:2"]
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[srdf]|%%|\{\w+\}")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The catalog template extracted now from dashboard/ and templates/."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    done = subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F",
                           "translations/babel.cfg", *KEYWORDS, "-o", str(pot), "."],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    with pot.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def korean():
    """translations/ko as committed."""
    with PO.open("rb") as f:
        return read_po(f, locale="ko")


def _texts(message):
    """A message's translations (one per plural form) as a list."""
    return [message.string] if isinstance(message.string, str) else list(message.string)


def test_every_marked_string_has_a_korean_translation(fresh, korean):
    """No msgid of the fresh extraction is missing, empty or fuzzy in the Korean .po."""
    untranslated = []
    for message in fresh:
        if not message.id:
            continue
        found = korean.get(message.id)
        if found is None or "fuzzy" in found.flags or not all(_texts(found)):
            where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
            untranslated.append(f"{message.id!r} ({where})")
    assert untranslated == [], (f"{len(untranslated)} untranslated; run `make translations`"
                                " and translate them:\n" + "\n".join(untranslated))


def test_translations_keep_the_placeholders(korean):
    """A Korean string names the same %(name)s / {name} values as its English one."""
    wrong = []
    for message in korean:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, str) else message.id[-1]
        wanted = set(PLACEHOLDER.findall(english)) - {"%(num)d"}
        for text in _texts(message):
            if text and set(PLACEHOLDER.findall(text)) - {"%(num)d"} != wanted:
                wrong.append(f"{english!r} -> {text!r}")
    assert wrong == []


def test_the_compiled_catalog_is_current(korean):
    """The .mo the app reads holds exactly the .po's translations (run `make translations`)."""
    with MO.open("rb") as f:
        compiled = GNUTranslations(f)
    stale = []
    for message in korean:
        if not message.id or "fuzzy" in message.flags:
            continue
        if isinstance(message.id, str):
            got = compiled.gettext(message.id)
            if got != message.string:
                stale.append(message.id)
        elif compiled.ngettext(message.id[0], message.id[1], 2) != message.string[0]:
            stale.append(message.id[0])
    assert stale == [], f"{len(stale)} stale in {MO.name}: {stale[:5]}"


def test_korean_has_one_plural_form(korean):
    """Korean counts without plural endings: nplurals=1, so ngettext always takes form 0."""
    assert korean.num_plurals == 1
