"""Schedules operators manage, their requests' fire times, and the built-in tasks' runs.

`requests (schedule_id, scheduled_for)` is UNIQUE: one request per fire time,
whatever runs twice (two beats, a beat killed mid-tick). Manual runs carry the
schedule with a NULL fire time, so they never take a slot.

Revision ID: 0006
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "schedules",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("params", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("cron", sa.String(120)),
        sa.Column("every_s", sa.Integer),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("catch_up", sa.String(8), nullable=False, server_default="skip"),
        # Every fire time up to here has been handled (fired or skipped) by a beat.
        sa.Column("handled_until", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("last_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_request_id", sa.BigInteger,
                  sa.ForeignKey("requests.id", ondelete="SET NULL")),
        sa.Column("created_by", sa.String(80)),
        sa.Column("updated_by", sa.String(80)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint("(cron IS NULL) <> (every_s IS NULL)", name="schedules_one_timing_check"),
        sa.CheckConstraint("every_s IS NULL OR every_s >= 5", name="schedules_every_s_check"),
        sa.CheckConstraint("catch_up IN ('skip', 'once')", name="schedules_catch_up_check"),
    )
    op.add_column("requests", sa.Column("schedule_id", sa.BigInteger,
                                        sa.ForeignKey("schedules.id", ondelete="SET NULL")))
    op.add_column("requests", sa.Column("scheduled_for", sa.DateTime(timezone=True)))
    op.create_unique_constraint("requests_schedule_fire_key", "requests",
                                ["schedule_id", "scheduled_for"])
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(400), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )


def downgrade():
    op.drop_table("periodic_runs")
    op.drop_constraint("requests_schedule_fire_key", "requests")
    op.drop_column("requests", "scheduled_for")
    op.drop_column("requests", "schedule_id")
    op.drop_table("schedules")
