"""Tables. Status is written only by dashboard.lifecycle."""
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (BigInteger, CheckConstraint, Index, LargeBinary, Sequence,
                        literal_column, text)
from sqlalchemy.dialects.postgresql import JSONB

from dashboard.extensions import db
from dashboard.lifecycle import Status

STATUSES = tuple(s.value for s in Status)
ROLES = ("viewer", "operator", "admin")
version_seq = Sequence("request_version_seq", metadata=db.metadata)


def utcnow():
    """Timezone-aware now, for Python-side defaults."""
    return datetime.now(timezone.utc)


def _status_check(name):
    """A CHECK constraint limiting a status column to the known states."""
    values = ", ".join(f"'{s}'" for s in STATUSES)
    return CheckConstraint(f"status IN ({values})", name=name)


class Upload(db.Model):
    __tablename__ = "uploads"
    id = db.Column(BigInteger, primary_key=True)
    filename = db.Column(db.String(255), nullable=False)  # as given, display only
    safe_name = db.Column(db.String(255), nullable=False)
    size = db.Column(BigInteger, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    content_type = db.Column(db.String(255), nullable=False)
    data = db.Column(LargeBinary)  # rows from before upload_chunks only; new rows leave it NULL
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    __table_args__ = (
        # The list's file-name search (ILIKE '%text%'); pg_trgm, created by the migrations.
        Index("uploads_filename_trgm_idx", "filename", postgresql_using="gin",
              postgresql_ops={"filename": "gin_trgm_ops"}),
    )


class UploadChunk(db.Model):
    """An upload's bytes, ~1 MB per row, in order of `seq` (dashboard.uploads)."""
    __tablename__ = "upload_chunks"
    upload_id = db.Column(BigInteger, db.ForeignKey("uploads.id", ondelete="CASCADE"),
                          primary_key=True)
    seq = db.Column(db.Integer, primary_key=True)
    data = db.Column(LargeBinary, nullable=False)


class Request(db.Model):
    __tablename__ = "requests"
    id = db.Column(BigInteger, primary_key=True)
    job_type = db.Column(db.String(64), nullable=False)
    params = db.Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    upload_id = db.Column(BigInteger, db.ForeignKey("uploads.id", ondelete="SET NULL"))
    status = db.Column(db.String(16), nullable=False, server_default="unassigned")
    attempt = db.Column(db.Integer, nullable=False, server_default="1")
    task_id = db.Column(db.String(36))
    worker = db.Column(db.String(255))
    progress = db.Column(db.SmallInteger, nullable=False, server_default="0")
    result = db.Column(JSONB)
    error = db.Column(db.Text)
    traceback = db.Column(db.Text)
    submitted_by = db.Column(db.String(80))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    queued_at = db.Column(db.DateTime(timezone=True))
    started_at = db.Column(db.DateTime(timezone=True))
    finished_at = db.Column(db.DateTime(timezone=True))
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    version = db.Column(BigInteger, version_seq, nullable=False,
                        server_default=version_seq.next_value())
    schedule_id = db.Column(BigInteger, db.ForeignKey("schedules.id", ondelete="SET NULL"))
    scheduled_for = db.Column(db.DateTime(timezone=True))  # the fire time; NULL: manual/not scheduled
    # The request this one is a re-run of (NULL: not a re-run).
    parent_id = db.Column(BigInteger, db.ForeignKey("requests.id", ondelete="SET NULL"))
    # The effective priority (-10..10), fixed at submit: the dispatcher claims higher first.
    priority = db.Column(db.SmallInteger, nullable=False, server_default="0")
    upload = db.relationship(Upload, lazy="joined", innerjoin=False)
    __table_args__ = (
        _status_check("requests_status_check"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="requests_progress_check"),
        CheckConstraint("priority BETWEEN -10 AND 10", name="requests_priority_check"),
        # The claim's order, over the unassigned rows only (dashboard.lifecycle.claim).
        Index("requests_claim_idx", text("priority DESC"), "id",
              postgresql_where=text("status = 'unassigned'")),
        Index("requests_status_id_idx", "status", "id"),
        Index("requests_job_type_id_idx", "job_type", "id"),
        Index("requests_status_job_type_id_idx", "status", "job_type", "id"),
        Index("requests_submitted_by_id_idx", "submitted_by", "id"),
        Index("requests_upload_id_id_idx", "upload_id", "id"),
        Index("requests_task_id_idx", "task_id"),
        Index("requests_finished_at_idx", "finished_at"),
        # The list's worker, time range, error text and "longest first". The error text's
        # trigram index is partial: only requests that have an error (about 10 %) pay for it.
        Index("requests_worker_id_idx", "worker", "id"),
        Index("requests_created_at_id_idx", "created_at", "id"),
        Index("requests_error_trgm_idx", "error", postgresql_using="gin",
              postgresql_ops={"error": "gin_trgm_ops"},
              postgresql_where=text("error IS NOT NULL")),
        Index("requests_duration_id_idx", text("(finished_at - started_at)"), "id",
              postgresql_where=text("finished_at IS NOT NULL AND started_at IS NOT NULL")),
        Index("requests_active_idx", "id",
              postgresql_where=text("status IN ('unassigned', 'pending', 'running')")),
        Index("requests_parent_id_idx", "parent_id",
              postgresql_where=text("parent_id IS NOT NULL")),
        # The list's param.<name>=<value> filters: `params @> {"name": value}`. Without
        # fastupdate, as audit_log_bulk_ids_idx: no pending list for every search to scan
        # and the planner to shun (it then read all requests of a status instead).
        Index("requests_params_idx", "params", postgresql_using="gin",
              postgresql_ops={"params": "jsonb_path_ops"},
              postgresql_with={"fastupdate": "off"}),
        db.UniqueConstraint("schedule_id", "scheduled_for", name="requests_schedule_fire_key"),
    )


class IdempotencyKey(db.Model):
    """The request a submitter's Idempotency-Key created (dashboard.submission). The
    primary key makes concurrent submits with one key store one request."""
    __tablename__ = "idempotency_keys"
    submitted_by = db.Column(db.String(80), primary_key=True)
    key = db.Column(db.String(200), primary_key=True)
    request_id = db.Column(BigInteger, db.ForeignKey("requests.id", ondelete="CASCADE"),
                           nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    __table_args__ = (
        Index("idempotency_keys_request_id_idx", "request_id"),
    )


class Attempt(db.Model):
    __tablename__ = "attempts"
    id = db.Column(BigInteger, primary_key=True)
    request_id = db.Column(BigInteger, db.ForeignKey("requests.id", ondelete="CASCADE"),
                           nullable=False)
    number = db.Column(db.Integer, nullable=False)
    task_id = db.Column(db.String(36))
    status = db.Column(db.String(16), nullable=False, server_default="unassigned")
    worker = db.Column(db.String(255))
    triggered_by = db.Column(db.String(80), nullable=False)
    queued_at = db.Column(db.DateTime(timezone=True))
    started_at = db.Column(db.DateTime(timezone=True))
    finished_at = db.Column(db.DateTime(timezone=True))
    error = db.Column(db.Text)
    traceback = db.Column(db.Text)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    __table_args__ = (
        _status_check("attempts_status_check"),
        db.UniqueConstraint("request_id", "number", name="attempts_request_number_key"),
    )


class Artifact(db.Model):
    __tablename__ = "artifacts"
    id = db.Column(BigInteger, primary_key=True)
    request_id = db.Column(BigInteger, db.ForeignKey("requests.id", ondelete="CASCADE"),
                           nullable=False, index=True)
    attempt = db.Column(db.Integer, nullable=False)
    name = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(255), nullable=False)
    data = db.Column(LargeBinary, nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))


class VolumeCache(db.Model):
    """The canonical [x, y, z] volume of a load_array attempt, as bytes of an upload."""
    __tablename__ = "volume_caches"
    request_id = db.Column(BigInteger, db.ForeignKey("requests.id", ondelete="CASCADE"),
                           primary_key=True)
    attempt = db.Column(db.Integer, primary_key=True)
    upload_id = db.Column(BigInteger, db.ForeignKey("uploads.id", ondelete="CASCADE"),
                          nullable=False)
    byte_offset = db.Column(BigInteger, nullable=False, server_default="0")
    dtype = db.Column(db.String(16), nullable=False)
    shape = db.Column(db.ARRAY(db.Integer), nullable=False)
    fortran_order = db.Column(db.Boolean, nullable=False, server_default=text("false"))
    layer = db.Column(db.String(16), primary_key=True, server_default="main")
    __table_args__ = (Index("volume_caches_upload_idx", "upload_id"),)


class StatusCount(db.Model):
    """Append-only deltas per status, kept by a trigger; summed for the counts bar."""
    __tablename__ = "status_counts"
    id = db.Column(BigInteger, primary_key=True)
    status = db.Column(db.String(16), nullable=False)
    n = db.Column(BigInteger, nullable=False)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), nullable=False, unique=True)
    password_hash = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(16), nullable=False, server_default="viewer")
    active = db.Column(db.Boolean, nullable=False, server_default=text("true"))
    email = db.Column(db.String(255))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    last_login_at = db.Column(db.DateTime(timezone=True))
    locale = db.Column(db.String(8))      # 'en' | 'ko'; NULL: the browser's Accept-Language
    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator', 'admin')",
                                      name="users_role_check"),
                      CheckConstraint("locale IN ('en', 'ko')", name="users_locale_check"))

    @property
    def is_active(self):
        """Disabled users cannot sign in or use tokens."""
        return self.active

    def has_role(self, role):
        """True when this user's role is at least `role`."""
        return ROLES.index(self.role) >= ROLES.index(role)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    name = db.Column(db.String(80), nullable=False, server_default="")
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    last_used_at = db.Column(db.DateTime(timezone=True))
    revoked_at = db.Column(db.DateTime(timezone=True))
    user = db.relationship(User, lazy="joined")


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    id = db.Column(BigInteger, primary_key=True)
    at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    username = db.Column(db.String(80))
    action = db.Column(db.String(40), nullable=False)
    request_id = db.Column(BigInteger, index=True)
    outcome = db.Column(db.String(40), nullable=False)
    address = db.Column(db.String(64))
    detail = db.Column(JSONB)
    __table_args__ = (
        Index("audit_log_at_idx", "at"), Index("audit_log_action_id_idx", "action", "id"),
        # The request ids a bulk action lists (detail.ids): a request's timeline finds the
        # bulk entries naming it through this, not by reading every bulk entry. Without
        # fastupdate each bulk entry goes into the index as it is written (bulk actions are
        # rare): no pending list for every read to scan and the planner to shun.
        Index("audit_log_bulk_ids_idx", detail.op("->")(literal_column("'ids'")).label("ids"),
              postgresql_using="gin", postgresql_ops={"ids": "jsonb_path_ops"},
              postgresql_with={"fastupdate": "off"},
              postgresql_where=text("action IN ('bulk_retry', 'bulk_kill')")),
    )


class Schedule(db.Model):
    """A periodic request operators manage; beat fires it."""
    __tablename__ = "schedules"
    id = db.Column(BigInteger, primary_key=True)
    name = db.Column(db.String(80), nullable=False, unique=True)
    job_type = db.Column(db.String(64), nullable=False)
    params = db.Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    cron = db.Column(db.String(120))
    every_s = db.Column(db.Integer)
    timezone = db.Column(db.String(64), nullable=False, server_default="UTC")
    enabled = db.Column(db.Boolean, nullable=False, server_default=text("true"))
    catch_up = db.Column(db.String(8), nullable=False, server_default="skip")
    handled_until = db.Column(db.DateTime(timezone=True), nullable=False,
                              server_default=text("now()"))
    last_run_at = db.Column(db.DateTime(timezone=True))
    # use_alter: requests.schedule_id and this refer to each other (a cycle for create order).
    last_request_id = db.Column(BigInteger, db.ForeignKey(
        "requests.id", ondelete="SET NULL", use_alter=True, name="schedules_last_request_id_fkey"))
    created_by = db.Column(db.String(80))
    updated_by = db.Column(db.String(80))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    __table_args__ = (
        CheckConstraint("(cron IS NULL) <> (every_s IS NULL)", name="schedules_one_timing_check"),
        CheckConstraint("every_s IS NULL OR every_s >= 5", name="schedules_every_s_check"),
        CheckConstraint("catch_up IN ('skip', 'once')", name="schedules_catch_up_check"),
    )


class PeriodicRun(db.Model):
    """The last run of each built-in periodic task, written by the task itself."""
    __tablename__ = "periodic_runs"
    name = db.Column(db.String(80), primary_key=True)
    last_run_at = db.Column(db.DateTime(timezone=True), nullable=False)
    duration_s = db.Column(db.Float, nullable=False)
    outcome = db.Column(db.String(400), nullable=False)
    ok = db.Column(db.Boolean, nullable=False)


class UserSession(db.Model):
    """A signed-in browser: the cookie carries the random id, this row its SHA-256.

    A trigger (users_end_sessions, made by the migrations) deletes a user's rows when their
    password, role or active flag changes; signing out deletes one row (dashboard.web.sessions).
    """
    __tablename__ = "user_sessions"
    id_hash = db.Column(db.String(64), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"),
                        nullable=False, index=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    address = db.Column(db.String(64))


class AttemptLog(db.Model):
    """What a job logged, per attempt, and the worker's step lines (`event`: started,
    redelivered, progress) the request's timeline reads. Written in batches with plain SQL
    (dashboard.joblog, dashboard.lifecycle); deleted with its request."""
    __tablename__ = "attempt_logs"
    id = db.Column(BigInteger, primary_key=True)
    request_id = db.Column(BigInteger, db.ForeignKey("requests.id", ondelete="CASCADE"),
                           nullable=False)
    attempt = db.Column(db.Integer, nullable=False)
    at = db.Column(db.DateTime(timezone=True), nullable=False)
    level = db.Column(db.String(10), nullable=False)
    message = db.Column(db.Text, nullable=False)
    event = db.Column(db.String(20))
    detail = db.Column(JSONB)
    __table_args__ = (
        Index("attempt_logs_request_attempt_id_idx", "request_id", "attempt", "id"),
    )


class DispatcherHeartbeat(db.Model):
    """One row per dispatcher, updated every loop: no row newer than a few seconds means no
    dispatcher is handing requests to the broker (dashboard.dispatcher_heartbeat)."""
    __tablename__ = "dispatcher_heartbeats"
    name = db.Column(db.String(255), primary_key=True)
    pid = db.Column(db.Integer, nullable=False)
    started_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    beat_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))


class WorkerPause(db.Model):
    """A stored pause: a Celery node name (worker1@host), or `*` for "pause everything".

    `paused` is false only for a worker resumed on its own while everything is paused
    (an exception to `*`). Read and written by dashboard.workers.pauses.
    """
    __tablename__ = "worker_pauses"
    worker = db.Column(db.String(255), primary_key=True)
    paused = db.Column(db.Boolean, nullable=False, server_default=text("true"))
    changed_by = db.Column(db.String(80), nullable=False)
    changed_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))


class FinishStat(db.Model):
    """Finish statistics: a delta row per finished request, appended by the trigger
    finish_stats_add and folded into per-minute rows by the beat task (dashboard.overview.stats).

    `run_bucket` b holds run times in (2^((b-1)/4), 2^(b/4)] milliseconds; NULL when the
    request never started.
    """
    __tablename__ = "finish_stats"
    id = db.Column(BigInteger, primary_key=True)
    minute = db.Column(db.DateTime(timezone=True), nullable=False)
    job_type = db.Column(db.String(64), nullable=False)
    status = db.Column(db.String(16), nullable=False)
    run_bucket = db.Column(db.SmallInteger)
    n = db.Column(BigInteger, nullable=False)
    __table_args__ = (Index("finish_stats_minute_idx", "minute"),)


class JobTypeSetting(db.Model):
    """An admin's runtime overrides of a job type's declared limits; NULL in a column
    means the declared value (dashboard.jobs.limits)."""
    __tablename__ = "job_type_settings"
    name = db.Column(db.Text, primary_key=True)
    priority = db.Column(db.SmallInteger)
    max_running = db.Column(db.Integer)
    rate_per_min = db.Column(db.Integer)
    paused = db.Column(db.Boolean)
    changed_by = db.Column(db.Text)
    changed_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))


class JobTypeDispatch(db.Model):
    """How many requests of a rate-limited job type one claim dispatched, and when: the
    claim counts the last minute's rows and deletes older ones (dashboard.lifecycle)."""
    __tablename__ = "job_type_dispatches"
    id = db.Column(BigInteger, primary_key=True)
    name = db.Column(db.Text, nullable=False)
    at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    n = db.Column(db.Integer, nullable=False)
    __table_args__ = (Index("job_type_dispatches_name_at_idx", "name", "at"),)


class AlertRule(db.Model):
    """A rule an admin keeps: what to watch (kind, params), whom to tell, its state.

    Written with plain SQL by dashboard.alerts.store and dashboard.alerts.evaluate."""
    __tablename__ = "alert_rules"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)
    kind = db.Column(db.String(32), nullable=False)
    params = db.Column(JSONB, nullable=False)
    emails = db.Column(JSONB, nullable=False, server_default="[]")
    webhook_url = db.Column(db.String(2000))
    webhook_secret = db.Column(db.String(200))
    enabled = db.Column(db.Boolean, nullable=False, server_default=text("true"))
    state = db.Column(db.String(16), nullable=False, server_default="ok")
    since = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    pending_since = db.Column(db.DateTime(timezone=True))
    firing_id = db.Column(BigInteger)
    acked_until = db.Column(db.DateTime(timezone=True))
    acked_by = db.Column(db.String(80))
    created_by = db.Column(db.String(80))
    updated_by = db.Column(db.String(80))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    __table_args__ = (
        CheckConstraint("kind IN ('worker_offline', 'backlog', 'failure_rate', 'sla_breach',"
                        " 'dispatcher_down')", name="alert_rules_kind_check"),
        CheckConstraint("state IN ('ok', 'firing')", name="alert_rules_state_check"),
        db.UniqueConstraint("name", name="alert_rules_name_key"),
    )


class AlertFiring(db.Model):
    """One time a rule fired: when it started and ended, and what was seen."""
    __tablename__ = "alert_firings"
    id = db.Column(BigInteger, primary_key=True)
    rule_id = db.Column(db.Integer, db.ForeignKey("alert_rules.id", ondelete="CASCADE",
                                                  name="alert_firings_rule_id_fkey"),
                        nullable=False)
    started_at = db.Column(db.DateTime(timezone=True), nullable=False)
    ended_at = db.Column(db.DateTime(timezone=True))
    detail = db.Column(JSONB)
    end_detail = db.Column(JSONB)
    notified = db.Column(db.Boolean, nullable=False, server_default=text("false"))
    __table_args__ = (Index("alert_firings_rule_id_idx", "rule_id", "id"),)


class AlertNotification(db.Model):
    """One email or webhook of a firing (firing or resolved); unique, so sent once."""
    __tablename__ = "alert_notifications"
    id = db.Column(BigInteger, primary_key=True)
    firing_id = db.Column(BigInteger, db.ForeignKey("alert_firings.id", ondelete="CASCADE",
                                                    name="alert_notifications_firing_id_fkey"),
                          nullable=False)
    state = db.Column(db.String(16), nullable=False)
    channel = db.Column(db.String(16), nullable=False)
    body = db.Column(JSONB, nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=text("now()"))
    attempts = db.Column(db.Integer, nullable=False, server_default="0")
    next_try_at = db.Column(db.DateTime(timezone=True), nullable=False,
                            server_default=text("now()"))
    sent_at = db.Column(db.DateTime(timezone=True))
    gave_up_at = db.Column(db.DateTime(timezone=True))
    last_error = db.Column(db.String(400))
    __table_args__ = (
        CheckConstraint("state IN ('firing', 'resolved')", name="alert_notifications_state_check"),
        CheckConstraint("channel IN ('email', 'webhook')", name="alert_notifications_channel_check"),
        db.UniqueConstraint("firing_id", "state", "channel", name="alert_notifications_once_key"),
        Index("alert_notifications_due_idx", "next_try_at",
              postgresql_where=text("sent_at IS NULL AND gave_up_at IS NULL")),
    )


class AlertWorkerSighting(db.Model):
    """When beat last had a ping answer from a worker (for worker_offline rules)."""
    __tablename__ = "alert_worker_sightings"
    name = db.Column(db.String(200), primary_key=True)
    last_seen_at = db.Column(db.DateTime(timezone=True), nullable=False)
