"""Alert rules, their firings, the notifications each firing sends, and workers last seen.

`alert_rules`: a rule an admin keeps (kind, params by kind, who to tell), its state
(`ok` | `firing`, since when), the time the condition started holding (`pending_since`,
for rules that must hold N seconds) and an acknowledgement until a time.
`alert_firings`: one row per time a rule fired, with its start and end.
`alert_notifications`: one row per (firing, state, channel); the unique key means two
beats evaluating at once still send one email and one webhook per firing and per
resolve. Delivery retries with backoff (`attempts`, `next_try_at`).
`alert_worker_sightings`: when beat last had a ping answer from each worker.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _now():
    return sa.text("now()")


def upgrade():
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("emails", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("webhook_url", sa.String(2000)),
        sa.Column("webhook_secret", sa.String(200)),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("state", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("pending_since", sa.DateTime(timezone=True)),
        sa.Column("firing_id", sa.BigInteger()),
        sa.Column("acked_until", sa.DateTime(timezone=True)),
        sa.Column("acked_by", sa.String(80)),
        sa.Column("created_by", sa.String(80)),
        sa.Column("updated_by", sa.String(80)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("kind IN ('worker_offline', 'backlog', 'failure_rate', 'sla_breach',"
                           " 'dispatcher_down')", name="alert_rules_kind_check"),
        sa.CheckConstraint("state IN ('ok', 'firing')", name="alert_rules_state_check"),
        sa.UniqueConstraint("name", name="alert_rules_name_key"),
    )
    op.create_table(
        "alert_firings",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("detail", postgresql.JSONB()),
        sa.Column("end_detail", postgresql.JSONB()),
        sa.Column("notified", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], name="alert_firings_rule_id_fkey",
                                ondelete="CASCADE"),
    )
    op.create_index("alert_firings_rule_id_idx", "alert_firings", ["rule_id", "id"])
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("firing_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("gave_up_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(400)),
        sa.CheckConstraint("state IN ('firing', 'resolved')", name="alert_notifications_state_check"),
        sa.CheckConstraint("channel IN ('email', 'webhook')",
                           name="alert_notifications_channel_check"),
        sa.ForeignKeyConstraint(["firing_id"], ["alert_firings.id"],
                                name="alert_notifications_firing_id_fkey", ondelete="CASCADE"),
        sa.UniqueConstraint("firing_id", "state", "channel", name="alert_notifications_once_key"),
    )
    op.create_index("alert_notifications_due_idx", "alert_notifications", ["next_try_at"],
                    postgresql_where=sa.text("sent_at IS NULL AND gave_up_at IS NULL"))
    op.create_table(
        "alert_worker_sightings",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("alert_worker_sightings")
    op.drop_table("alert_notifications")
    op.drop_table("alert_firings")
    op.drop_table("alert_rules")
