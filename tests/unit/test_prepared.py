"""lifecycle.Prepared: the text one call sends and the PREPAREs sent once per connection."""
import pytest

from dashboard import lifecycle
from dashboard.lifecycle import Prepared


def test_each_statement_but_set_is_prepared_with_numbered_parameters():
    p = Prepared("x", "SET LOCAL synchronous_commit = off;\n"
                      "SELECT id FROM t WHERE id = %(id)s FOR UPDATE;\n"
                      "UPDATE t SET a = %(a)s, b = %(a)s || 'z' WHERE id = %(id)s RETURNING id\n",
                 {"a": "text"})
    assert p.text == ("SET LOCAL synchronous_commit = off;\n"
                      "EXECUTE x_1(%(id)s);\n"
                      "EXECUTE x_2(%(a)s, %(id)s)")
    assert p.prepare == [
        "PREPARE x_1(unknown) AS SELECT id FROM t WHERE id = $1 FOR UPDATE",
        "PREPARE x_2(text, unknown) AS UPDATE t SET a = $1, b = $1 || 'z' WHERE id = $2 RETURNING id"]
    assert str(p) == p.sql   # what recording() shows: the statement as written


def test_a_statement_without_parameters_and_a_literal_percent():
    assert Prepared("y", "SELECT 1").text == "EXECUTE y_0"
    with pytest.raises(AssertionError):
        Prepared("z", "SELECT '100%%' WHERE a = %(a)s")


def test_the_hot_statements_are_prepared_and_keep_their_placeholders():
    for prepared in (lifecycle._CLAIM, lifecycle._START, lifecycle._PROGRESS, lifecycle._FINISH,
                     lifecycle._FINISH_MANY):
        assert prepared.prepare and all("%(" not in p for p in prepared.prepare)
        assert "EXECUTE" in prepared.text and "$1" not in prepared.text
