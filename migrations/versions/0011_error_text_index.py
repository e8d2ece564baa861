"""The error-text filter's trigram index, partial: only requests that have an error.

An error-text filter is `error ILIKE '%text%'`. At 10,000,000 requests, newest first,
a text no request has read the whole table (Parallel Seq Scan, 7.6 s; 3.2 s combined
with a job type and a submitter), while a common one meets 51 matches within a few
thousand rows (13 ms). Migration 0012 answers the rare ones with a GIN trigram index
on every row; this one keeps the same name and path but indexes only requests that
end with an error (about 10 % of them: failure, timeout, killed), so the other 90 %
add no entry when inserted or updated. The planner takes the partial index for any
`error ILIKE ...` (a strict operator implies `error IS NOT NULL`): measured at 10M,
a text no request has 0.25 ms, a common one 17.7 ms (still newest first).

Revision ID: 0011
Revises: 0012
"""
from alembic import op

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DROP INDEX IF EXISTS requests_error_trgm_idx")
    op.execute("CREATE INDEX requests_error_trgm_idx ON requests USING gin (error gin_trgm_ops)"
               " WHERE error IS NOT NULL")


def downgrade():
    op.execute("DROP INDEX IF EXISTS requests_error_trgm_idx")
    op.execute("CREATE INDEX requests_error_trgm_idx ON requests USING gin (error gin_trgm_ops)")
