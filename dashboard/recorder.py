"""Statement recorders: a public way for tests to see the SQL a module sent (as procrastinate's
connector exposes the queries it ran)."""
import contextlib


class Recorder:
    """The open `recording()` blocks of one module; `record(sql)` adds a statement to each."""

    def __init__(self):
        self._open = []

    @contextlib.contextmanager
    def recording(self):
        """Within the block, every statement recorded (from any thread) is added to the list."""
        statements = []
        self._open.append(statements)
        try:
            yield statements
        finally:
            self._open.remove(statements)

    def record(self, sql):
        """Note one statement about to be sent."""
        for statements in self._open:
            statements.append(sql)
