"""An index path for the list's error-text filter: a trigram index on the error of the
requests that have one.

An error-text filter is `error ILIKE '%text%'`. At 10,000,000 requests, newest first,
a text no request has read the whole table (Parallel Seq Scan, 7.6 s; 3.2 s combined
with a job type and a submitter), while a common one meets 51 matches within a few
thousand rows (13 ms). A GIN trigram index (pg_trgm, migration 0004) answers the rare
ones; it is partial, so only requests that end with an error (about 10 % of them:
failure, timeout, killed) add entries, once each, when their error is written. The
planner takes the partial index for any `error ILIKE ...` (a strict operator implies
`error IS NOT NULL`) and keeps the newest-first scan when the text is common.

Revision ID: 0011
Revises: 0012
"""
from alembic import op

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE INDEX requests_error_trgm_idx ON requests USING gin (error gin_trgm_ops)"
               " WHERE error IS NOT NULL")


def downgrade():
    op.execute("DROP INDEX IF EXISTS requests_error_trgm_idx")
