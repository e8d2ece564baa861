"""A request's whole story: log lines per attempt, when each attempt was made, re-run parents.

`attempt_logs` holds what a job logged (Python logging and ctx.log), written
by the worker in batches, plus the worker's own step lines (`event`: started,
redelivered, progress) the timeline reads. `attempts.created_at` dates each
attempt (retries, auto-retries). `requests.parent_id` links a re-run to the
request it was made from.

Revision ID: 0008
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attempt_logs",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("request_id", sa.BigInteger,
                  sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("event", sa.String(20)),
        sa.Column("detail", postgresql.JSONB),
    )
    op.create_index("attempt_logs_request_attempt_id_idx", "attempt_logs",
                    ["request_id", "attempt", "id"])
    op.add_column("attempts", sa.Column("created_at", sa.DateTime(timezone=True),
                                        nullable=False, server_default=sa.text("now()")))
    op.add_column("requests", sa.Column("parent_id", sa.BigInteger,
                                        sa.ForeignKey("requests.id", ondelete="SET NULL")))
    op.create_index("requests_parent_id_idx", "requests", ["parent_id"],
                    postgresql_where=sa.text("parent_id IS NOT NULL"))


def downgrade():
    op.drop_index("requests_parent_id_idx", table_name="requests")
    op.drop_column("requests", "parent_id")
    op.drop_column("attempts", "created_at")
    op.drop_table("attempt_logs")
