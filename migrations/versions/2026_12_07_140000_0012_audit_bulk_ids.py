"""The request ids a bulk action lists, indexed: audit_log_bulk_ids_idx.

A request's timeline shows the bulk retries and kills that named it. Without an
index it read every bulk entry's `detail -> 'ids'`; this partial GIN index
(jsonb_path_ops, bulk entries only) answers `detail -> 'ids' @> <id>` directly.
Without fastupdate: a bulk entry is indexed as it is written, so no pending list
grows for every read to scan (and for the planner to avoid the index over).
Built CONCURRENTLY, so audit writes go on while it builds.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:00:00
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_bulk_ids_idx ON audit_log"
                   " USING gin ((detail -> 'ids') jsonb_path_ops) WITH (fastupdate = off)"
                   " WHERE action IN ('bulk_retry', 'bulk_kill')")


def downgrade():
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS audit_log_bulk_ids_idx")
