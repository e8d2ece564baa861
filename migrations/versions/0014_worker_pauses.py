"""Stored pauses: a paused worker (or "pause everything") stays paused across restarts.

One row per pause: `worker` is a Celery node name (worker1@host), or `*` for
"pause everything". `paused` is false only for a worker resumed on its own
while everything is paused (an exception to `*`). dashboard.pauses reads and
writes it; a worker reads it when it starts (dashboard.pause_at_start).

Revision ID: 0014
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "worker_pauses",
        sa.Column("worker", sa.String(255), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("changed_by", sa.String(80), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )


def downgrade():
    op.drop_table("worker_pauses")
