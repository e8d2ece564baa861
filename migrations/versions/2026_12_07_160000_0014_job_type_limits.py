"""Job type limits: request priority, runtime overrides, the claim order, one wake-up per insert.

`requests.priority` (-10..10): the request's effective priority, fixed at submit; the
dispatcher claims higher first, then oldest. `requests_claim_idx`, partial on the
unassigned rows only (what the claim reads), serves that order; the list's
`status = 'unassigned'` filters keep `requests_status_id_idx`.

`job_type_settings`: an admin's runtime overrides of a job type's declared limits
(priority, max_running, rate_per_min, paused); NULL in a column means the declared value.

`job_type_dispatches`: how many requests of a rate-limited job type the dispatcher
claimed, and when (one row per type per claim); the claim counts the last 60 seconds
of it and deletes older rows. Only rate-limited types are written.

`requests_notify_insert` becomes a statement-level trigger: one pg_notify per INSERT
that stored unassigned rows (the dispatcher ignores the payload), so a bulk submit of
1,000 requests wakes the dispatcher once instead of queueing 1,000 notifications.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NOTIFY_PER_STATEMENT = """
CREATE FUNCTION requests_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE status = 'unassigned') THEN
    PERFORM pg_notify('requests_unassigned', '');
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER requests_notify_insert ON requests;
CREATE TRIGGER requests_notify_insert AFTER INSERT ON requests
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION requests_notify_inserted();
"""

NOTIFY_PER_ROW = """
DROP TRIGGER requests_notify_insert ON requests;
CREATE TRIGGER requests_notify_insert AFTER INSERT ON requests
  FOR EACH ROW WHEN (NEW.status = 'unassigned') EXECUTE FUNCTION requests_notify_unassigned();
DROP FUNCTION requests_notify_inserted();
"""


def upgrade():
    op.add_column("requests", sa.Column("priority", sa.SmallInteger(), nullable=False,
                                        server_default="0"))
    op.create_check_constraint("requests_priority_check", "requests",
                               "priority BETWEEN -10 AND 10")
    op.create_index("requests_claim_idx", "requests", [sa.text("priority DESC"), "id"],
                    postgresql_where=sa.text("status = 'unassigned'"))
    op.create_table(
        "job_type_settings",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("priority", sa.SmallInteger()),
        sa.Column("max_running", sa.Integer()),
        sa.Column("rate_per_min", sa.Integer()),
        sa.Column("paused", sa.Boolean()),
        sa.Column("changed_by", sa.Text()),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.create_table(
        "job_type_dispatches",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("job_type_dispatches_name_at_idx", "job_type_dispatches", ["name", "at"])
    op.execute(NOTIFY_PER_STATEMENT)


def downgrade():
    op.execute(NOTIFY_PER_ROW)
    op.drop_index("job_type_dispatches_name_at_idx", table_name="job_type_dispatches")
    op.drop_table("job_type_dispatches")
    op.drop_table("job_type_settings")
    op.drop_index("requests_claim_idx", table_name="requests")
    op.drop_constraint("requests_priority_check", "requests", type_="check")
    op.drop_column("requests", "priority")
