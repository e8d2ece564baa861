"""Idempotent submits and the search by parameters.

`idempotency_keys`: one row per (submitter, Idempotency-Key) naming the request the
key created. Its primary key is what makes concurrent submits with one key create one
request: the second insert waits for the first transaction and then finds the key
taken. A key older than IDEMPOTENCY_TTL_H is deleted by the next submit that uses it;
the row goes with its request (ON DELETE CASCADE, indexed for the retention's deletes).

`requests_params_idx`: a GIN index (jsonb_path_ops) on requests.params, so the list's
`param.<name>=<value>` filters (`params @> {"name": value}`) read only the matching
rows. Without fastupdate: each request goes into the index as it is inserted, so no
pending list grows for every search to scan; with one, the planner prices the index so
high that a search with a status read every request of that status instead. Built
CONCURRENTLY, so submits go on while it builds.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("submitted_by", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"],
                                name="idempotency_keys_request_id_fkey", ondelete="CASCADE"),
    )
    op.create_index("idempotency_keys_request_id_idx", "idempotency_keys", ["request_id"])
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_params_idx ON requests"
                   " USING gin (params jsonb_path_ops) WITH (fastupdate = off)")


def downgrade():
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS requests_params_idx")
    op.drop_index("idempotency_keys_request_id_idx", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
