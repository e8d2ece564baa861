"""The dispatcher's visible heartbeat: one row per dispatcher, updated every loop.

"Why isn't it running?" reads it: no row newer than a few seconds means no
dispatcher is handing requests to the broker.

Revision ID: 0005
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dispatcher_heartbeats",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )


def downgrade():
    op.drop_table("dispatcher_heartbeats")
