"""Index paths for the requests list's newer filters and its sort by duration.

The list is newest first (ORDER BY id DESC LIMIT n), so a filter on one column gets an
index ending in id: the worker (requests_worker_id_idx). The time range on created time
gets requests_created_at_id_idx: with a range, the list is read from it in created order
(keyset (created_at, id)), starting where the range starts.
The error text is searched with ILIKE '%text%', answered by a trigram index
(pg_trgm, created by 0004). The sort "longest first" is a keyset on (duration, id) over
the requests that have a duration (started and finished): requests_duration_id_idx,
partial on exactly the list's condition for that sort.

Revision ID: 0012
Revises: 0014
"""
from alembic import op

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("requests_worker_id_idx", "requests", ["worker", "id"])
    op.create_index("requests_created_at_id_idx", "requests", ["created_at", "id"])
    op.create_index("requests_error_trgm_idx", "requests", ["error"],
                    postgresql_using="gin", postgresql_ops={"error": "gin_trgm_ops"})
    op.execute("CREATE INDEX requests_duration_id_idx ON requests"
               " ((finished_at - started_at), id)"
               " WHERE finished_at IS NOT NULL AND started_at IS NOT NULL")


def downgrade():
    op.drop_index("requests_duration_id_idx", table_name="requests")
    op.drop_index("requests_error_trgm_idx", table_name="requests")
    op.drop_index("requests_created_at_id_idx", table_name="requests")
    op.drop_index("requests_worker_id_idx", table_name="requests")
