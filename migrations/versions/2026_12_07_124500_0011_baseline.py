"""Baseline: the whole schema in one revision (the squash of 0001 to 0011).

The revision id stays 0011, the head of the chain it replaces, so a database
already at 0011 is at this revision and runs nothing; an empty database gets
exactly what the chain built (pg_dump --schema-only of both compared equal:
tables, columns in the same order, constraints, indexes, the pg_trgm
extension, the extended statistics, the trigger functions and their triggers).

What the models (dashboard/models.py) cannot say is plain SQL here, and
`flask db check` does not compare it (migrations/env.py lists it):
the triggers and their functions, the pg_trgm extension, the extended
statistics on requests, the storage of upload_chunks.data, and the WHERE
clause and operator class of partial and trigram indexes.

What the squashed revisions added, for the notes that still name them:
  0001  requests, attempts, artifacts, uploads, users, api_tokens, audit_log,
        status_counts; the version sequence; requests_touch (every change draws
        a version), requests_notify_* (wake the dispatcher), status_counts_*.
  0002  no index on requests.version; status_counts_update per changed row.
  0007  upload_chunks (an upload's bytes in ~1 MB rows); uploads.data nullable;
        volume_caches (the viewer's canonical copy of a loaded volume).
  0004  the list's filter indexes, pg_trgm, the file-name trigram index, the
        (status, job_type) extended statistics.
  0006  schedules, requests.schedule_id / scheduled_for (one request per fire
        time: requests_schedule_fire_key), periodic_runs.
  0003  user_sessions and users_end_sessions; requests_touch takes the
        transaction id before the version (and runs on INSERT too).
  0009  finish_stats and its triggers (one delta row per finished request).
  0008  attempt_logs, attempts.created_at, requests.parent_id (re-runs).
  0005  dispatcher_heartbeats.
  0014  worker_pauses.
  0012  the list's worker, created-time, error-text and duration indexes.
  0011  the error-text trigram index partial: only requests that have an error.

Revision ID: 0011
Revises:
Create Date: 2026-12-07 12:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "'unassigned', 'pending', 'running', 'success', 'failure', 'timeout', 'killed'"
FINISHED = "'success', 'failure', 'timeout', 'killed'"


def _now():
    return sa.text("now()")


# The run-time bucket of a finished request: b holds run times in
# (2^((b-1)/4), 2^(b/4)] milliseconds (about 19 % wide); NULL if it never started.
BUCKET = ("CASE WHEN {r}.started_at IS NULL OR {r}.finished_at IS NULL THEN NULL"
          " ELSE ceil(4 * log(2, greatest(extract(epoch FROM {r}.finished_at - {r}.started_at)"
          " * 1000, 1)::numeric))::smallint END")

FUNCTIONS_AND_TRIGGERS = f"""
-- Invariant 6: every change to a request bumps its version from one sequence.
CREATE FUNCTION requests_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The transaction id first (assigned now if the transaction has none), then the
  -- version: a poll that read this version sees this transaction as in progress.
  PERFORM pg_current_xact_id();
  NEW.version := nextval('request_version_seq');
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER requests_touch BEFORE INSERT OR UPDATE ON requests
  FOR EACH ROW EXECUTE FUNCTION requests_touch();

-- Wake the dispatcher when a row becomes unassigned (new or retried).
CREATE FUNCTION requests_notify_unassigned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('requests_unassigned', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER requests_notify_insert AFTER INSERT ON requests
  FOR EACH ROW WHEN (NEW.status = 'unassigned') EXECUTE FUNCTION requests_notify_unassigned();
CREATE TRIGGER requests_notify_update AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (NEW.status = 'unassigned' AND OLD.status <> 'unassigned')
  EXECUTE FUNCTION requests_notify_unassigned();

-- Counts by status without counting a million rows: append-only deltas, per statement
-- for inserts and deletes, per row (and only when the status really changes) for updates.
CREATE FUNCTION status_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n) SELECT status, count(*) FROM new_rows GROUP BY status;
  RETURN NULL;
END $$;
CREATE FUNCTION status_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n) SELECT status, -count(*) FROM old_rows GROUP BY status;
  RETURN NULL;
END $$;
CREATE FUNCTION status_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
  RETURN NULL;
END $$;
CREATE TRIGGER status_counts_insert AFTER INSERT ON requests
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_counts_insert();
CREATE TRIGGER status_counts_delete AFTER DELETE ON requests
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION status_counts_delete();
CREATE TRIGGER status_counts_update AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION status_counts_update();

-- Finish statistics: one delta row per request that becomes finished (or is inserted
-- finished); the beat task folds equal keys (dashboard.overview.stats).
CREATE FUNCTION finish_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO finish_stats (minute, job_type, status, run_bucket, n)
  VALUES (date_trunc('minute', coalesce(NEW.finished_at, now())), NEW.job_type, NEW.status,
          {BUCKET.format(r="NEW")}, 1);
  RETURN NULL;
END $$;
CREATE TRIGGER finish_stats_add AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                     AND NEW.status IN ({FINISHED}))
  EXECUTE FUNCTION finish_stats_add();
CREATE TRIGGER finish_stats_insert AFTER INSERT ON requests
  FOR EACH ROW WHEN (NEW.status IN ({FINISHED}))
  EXECUTE FUNCTION finish_stats_add();

-- A user's sign-in sessions end when their password, role or active flag changes,
-- whoever changes it (the users page, the CLI, plain SQL).
CREATE FUNCTION users_end_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM user_sessions WHERE user_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER users_end_sessions AFTER UPDATE OF password_hash, role, active ON users
  FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash
                     OR OLD.role IS DISTINCT FROM NEW.role
                     OR OLD.active IS DISTINCT FROM NEW.active)
  EXECUTE FUNCTION users_end_sessions();
"""

DROP_FUNCTIONS_AND_TRIGGERS = """
DROP TRIGGER users_end_sessions ON users;
DROP TRIGGER finish_stats_insert ON requests;
DROP TRIGGER finish_stats_add ON requests;
DROP TRIGGER status_counts_update ON requests;
DROP TRIGGER status_counts_delete ON requests;
DROP TRIGGER status_counts_insert ON requests;
DROP TRIGGER requests_notify_update ON requests;
DROP TRIGGER requests_notify_insert ON requests;
DROP TRIGGER requests_touch ON requests;
DROP FUNCTION users_end_sessions(), finish_stats_add(), status_counts_update(),
  status_counts_delete(), status_counts_insert(), requests_notify_unassigned(), requests_touch();
"""


def upgrade():
    # Trigram indexes (ILIKE '%text%' on file names and error texts). pg_trgm ships with
    # Debian's postgresql-contrib and is trusted: the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(sa.schema.CreateSequence(sa.Sequence("request_version_seq")))

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False, server_default="viewer"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("email", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="users_role_check"),
        sa.UniqueConstraint("username", name="users_username_key"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="api_tokens_user_id_fkey",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("token_hash", name="api_tokens_token_hash_key"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "user_sessions",   # one row per signed-in browser; the cookie carries the random id
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("address", sa.String(64)),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="user_sessions_user_id_fkey",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("username", sa.String(80)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("request_id", sa.BigInteger()),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("address", sa.String(64)),
        sa.Column("detail", postgresql.JSONB()),
    )
    op.create_index("audit_log_action_id_idx", "audit_log", ["action", "id"])
    op.create_index("audit_log_at_idx", "audit_log", ["at"])
    op.create_index("ix_audit_log_request_id", "audit_log", ["request_id"])

    op.create_table(
        "uploads",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("safe_name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary()),   # rows from before upload_chunks only
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_index("uploads_filename_trgm_idx", "uploads", ["filename"],
                    postgresql_using="gin", postgresql_ops={"filename": "gin_trgm_ops"})
    op.create_table(
        "upload_chunks",   # an upload's bytes as ~1 MB rows, seq from 0
        sa.Column("upload_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "seq", name="upload_chunks_pkey"),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name="upload_chunks_upload_id_fkey",
                                ondelete="CASCADE"),
    )
    # Chunks are already compressed or incompressible volumes: no TOAST compression pass.
    op.execute("ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL")

    # requests.schedule_id refers to schedules, schedules.last_request_id to requests:
    # requests first, its foreign key to schedules once schedules exists.
    op.create_table(
        "requests",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column("upload_id", sa.BigInteger()),
        sa.Column("status", sa.String(16), nullable=False, server_default="unassigned"),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("task_id", sa.String(36)),
        sa.Column("worker", sa.String(255)),
        sa.Column("progress", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("result", postgresql.JSONB()),
        sa.Column("error", sa.Text()),
        sa.Column("traceback", sa.Text()),
        sa.Column("submitted_by", sa.String(80)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("queued_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("version", sa.BigInteger(), nullable=False,
                  server_default=sa.text("nextval('request_version_seq')")),
        sa.Column("schedule_id", sa.BigInteger()),
        sa.Column("scheduled_for", sa.DateTime(timezone=True)),   # NULL: not a scheduled fire
        sa.Column("parent_id", sa.BigInteger()),                  # the request this re-runs
        sa.CheckConstraint(f"status IN ({STATUSES})", name="requests_status_check"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="requests_progress_check"),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name="requests_upload_id_fkey",
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["parent_id"], ["requests.id"], name="requests_parent_id_fkey",
                                ondelete="SET NULL"),
        # One request per fire time, whatever runs twice; manual runs have no fire time.
        sa.UniqueConstraint("schedule_id", "scheduled_for", name="requests_schedule_fire_key"),
    )
    # The list is newest first (ORDER BY id DESC): each filter's index ends in id.
    op.create_index("requests_status_id_idx", "requests", ["status", "id"])
    op.create_index("requests_job_type_id_idx", "requests", ["job_type", "id"])
    op.create_index("requests_status_job_type_id_idx", "requests", ["status", "job_type", "id"])
    op.create_index("requests_submitted_by_id_idx", "requests", ["submitted_by", "id"])
    op.create_index("requests_upload_id_id_idx", "requests", ["upload_id", "id"])
    op.create_index("requests_worker_id_idx", "requests", ["worker", "id"])
    op.create_index("requests_created_at_id_idx", "requests", ["created_at", "id"])
    op.create_index("requests_task_id_idx", "requests", ["task_id"])
    op.create_index("requests_finished_at_idx", "requests", ["finished_at"])
    op.create_index("requests_active_idx", "requests", ["id"],
                    postgresql_where=sa.text("status IN ('unassigned', 'pending', 'running')"))
    op.create_index("requests_parent_id_idx", "requests", ["parent_id"],
                    postgresql_where=sa.text("parent_id IS NOT NULL"))
    # Error text (ILIKE '%text%'): trigrams of the requests that have an error only.
    op.create_index("requests_error_trgm_idx", "requests", ["error"],
                    postgresql_using="gin", postgresql_ops={"error": "gin_trgm_ops"},
                    postgresql_where=sa.text("error IS NOT NULL"))
    # "Longest first": a keyset on (duration, id) over the requests that have a duration.
    op.execute("CREATE INDEX requests_duration_id_idx ON requests"
               " ((finished_at - started_at), id)"
               " WHERE finished_at IS NOT NULL AND started_at IS NOT NULL")
    # Status and job type are not independent (a rare pair of two common values): without
    # their joint frequencies the planner expects the pair to be common.
    op.execute("CREATE STATISTICS requests_status_job_type_stats (mcv, dependencies)"
               " ON status, job_type FROM requests")

    op.create_table(
        "attempts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(36)),
        sa.Column("status", sa.String(16), nullable=False, server_default="unassigned"),
        sa.Column("worker", sa.String(255)),
        sa.Column("triggered_by", sa.String(80), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text()),
        sa.Column("traceback", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="attempts_status_check"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="attempts_request_id_fkey",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("request_id", "number", name="attempts_request_number_key"),
    )
    op.create_table(
        "attempt_logs",   # what a job logged, and the worker's step lines (`event`)
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("event", sa.String(20)),
        sa.Column("detail", postgresql.JSONB()),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"],
                                name="attempt_logs_request_id_fkey", ondelete="CASCADE"),
    )
    op.create_index("attempt_logs_request_attempt_id_idx", "attempt_logs",
                    ["request_id", "attempt", "id"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name="artifacts_request_id_fkey",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_artifacts_request_id", "artifacts", ["request_id"])
    op.create_table(
        "volume_caches",   # per load_array attempt: the upload holding its [x, y, z] volume
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.BigInteger(), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("dtype", sa.String(16), nullable=False),   # numpy str, e.g. '<f4'
        sa.Column("shape", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("fortran_order", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.PrimaryKeyConstraint("request_id", "attempt", name="volume_caches_pkey"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"],
                                name="volume_caches_request_id_fkey", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"],
                                name="volume_caches_upload_id_fkey", ondelete="CASCADE"),
    )
    op.create_index("volume_caches_upload_idx", "volume_caches", ["upload_id"])

    op.create_table(
        "schedules",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column("cron", sa.String(120)),
        sa.Column("every_s", sa.Integer()),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("catch_up", sa.String(8), nullable=False, server_default="skip"),
        # Every fire time up to here has been handled (fired or skipped) by a beat.
        sa.Column("handled_until", sa.DateTime(timezone=True), nullable=False,
                  server_default=_now()),
        sa.Column("last_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_request_id", sa.BigInteger()),
        sa.Column("created_by", sa.String(80)),
        sa.Column("updated_by", sa.String(80)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("(cron IS NULL) <> (every_s IS NULL)",
                           name="schedules_one_timing_check"),
        sa.CheckConstraint("every_s IS NULL OR every_s >= 5", name="schedules_every_s_check"),
        sa.CheckConstraint("catch_up IN ('skip', 'once')", name="schedules_catch_up_check"),
        sa.ForeignKeyConstraint(["last_request_id"], ["requests.id"],
                                name="schedules_last_request_id_fkey", ondelete="SET NULL"),
        sa.UniqueConstraint("name", name="schedules_name_key"),
    )
    op.create_foreign_key("requests_schedule_id_fkey", "requests", "schedules",
                          ["schedule_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "periodic_runs",   # the last run of each built-in periodic task
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(400), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
    )

    op.create_table(
        "status_counts",   # append-only deltas per status (triggers); summed for the counts
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "finish_stats",   # a delta row per finished request (trigger), folded per minute
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_bucket", sa.SmallInteger()),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_index("finish_stats_minute_idx", "finish_stats", ["minute"])
    op.create_table(
        "dispatcher_heartbeats",   # one row per dispatcher, updated every loop
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_table(
        "worker_pauses",   # a paused worker (or `*`: everything) stays paused across restarts
        sa.Column("worker", sa.String(255), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("changed_by", sa.String(80), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )

    op.execute(FUNCTIONS_AND_TRIGGERS)


def downgrade():
    """Everything upgrade made, pg_trgm included (it fails rather than cascade if something
    outside this schema uses the extension)."""
    op.execute(DROP_FUNCTIONS_AND_TRIGGERS)
    op.drop_constraint("requests_schedule_id_fkey", "requests", type_="foreignkey")
    for table in ("worker_pauses", "dispatcher_heartbeats", "finish_stats", "status_counts",
                  "periodic_runs", "schedules", "volume_caches", "artifacts", "attempt_logs",
                  "attempts", "requests", "upload_chunks", "uploads", "audit_log",
                  "user_sessions", "api_tokens", "users"):
        op.drop_table(table)   # its indexes, constraints and statistics go with it
    op.execute(sa.schema.DropSequence(sa.Sequence("request_version_seq")))
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
