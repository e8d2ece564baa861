"""What a job's run() sees: its params, its file, progress reports, its log and its artifacts."""
import contextlib
import logging
import time

from dashboard import lifecycle, uploads
from dashboard.extensions import db


class JobContext:
    """One attempt of a request, as its job type's run(ctx) sees it."""

    MILESTONES = (25, 50, 75)

    def __init__(self, request_id, task_id, row, lines=None):
        self.request_id, self.task_id = request_id, task_id
        self.params, self.upload_id = row["params"], row["upload_id"]
        self.attempt = row["attempt"]
        self.artifacts = []
        self._last = (0.0, -1)
        self._lines = lines  # the attempt's joblog.AttemptLog (None outside a worker)
        self._milestones = list(self.MILESTONES)

    @contextlib.contextmanager
    def file_path(self):
        """The request's file, copied out of PostgreSQL into a temporary file: yields its
        path (None when the request has no file); the file is removed afterwards."""
        if self.upload_id is None:
            yield None
            return
        with uploads.spooled(self.upload_id) as path:
            yield path

    def log(self, message, level="INFO"):
        """A line in the attempt's log, shown live on the request's page."""
        if self._lines is not None:
            self._lines.add(logging.getLevelName(level) if isinstance(level, int) else level,
                            message)

    def _milestone(self, pct):
        """Mark 25/50/75 % in the log as timeline steps."""
        while self._milestones and pct >= self._milestones[0]:
            mark = self._milestones.pop(0)
            if self._lines is not None:
                self._lines.add("INFO", f"progress: {mark} %", event="progress",
                                detail={"percent": mark})

    def progress(self, percent):
        """Record progress, at most five writes a second."""
        now, pct = time.monotonic(), int(percent)
        self._milestone(pct)
        if pct != self._last[1] and now - self._last[0] >= 0.2:
            self._last = (now, pct)
            lifecycle.report_progress(self.request_id, self.task_id, pct)
            db.session.commit()

    def add_artifact(self, name, content_type, data):
        """Keep a produced file: stored with the success result, in the same transaction."""
        self.artifacts.append((name, content_type, data))
