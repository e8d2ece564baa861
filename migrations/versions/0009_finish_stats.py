"""Finish statistics: one delta row per finished request, folded into per-minute aggregates.

The list page's charts and GET /api/stats read `finish_stats`, never a scan of
`requests`: a row-level trigger appends (minute, job type, status, run-time
bucket, 1) when a request's status becomes terminal (or a row is inserted finished), and the beat task
`dashboard.compact_finish_stats` folds equal keys into one row and drops what is
older than 25 hours, so the table stays a few thousand rows at any volume. The run
time bucket b holds run times in (2^((b-1)/4), 2^(b/4)] milliseconds (about 19 %
wide), which is what the p50/p95 per job type are read from. Rows finished in the
last 25 hours before this migration are counted in by it.

Revision ID: 0009
Revises: 0003
"""
from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = None
depends_on = None

BUCKET = ("CASE WHEN {r}.started_at IS NULL OR {r}.finished_at IS NULL THEN NULL"
          " ELSE ceil(4 * log(2, greatest(extract(epoch FROM {r}.finished_at - {r}.started_at)"
          " * 1000, 1)::numeric))::smallint END")


def upgrade():
    op.execute(f"""
CREATE TABLE finish_stats (
  id bigserial PRIMARY KEY,
  minute timestamptz NOT NULL,
  job_type varchar(64) NOT NULL,
  status varchar(16) NOT NULL,
  run_bucket smallint,
  n bigint NOT NULL
);
CREATE INDEX finish_stats_minute_idx ON finish_stats (minute);
CREATE FUNCTION finish_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO finish_stats (minute, job_type, status, run_bucket, n)
  VALUES (date_trunc('minute', coalesce(NEW.finished_at, now())), NEW.job_type, NEW.status,
          {BUCKET.format(r="NEW")}, 1);
  RETURN NULL;
END $$;
CREATE TRIGGER finish_stats_add AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                     AND NEW.status IN ('success', 'failure', 'timeout', 'killed'))
  EXECUTE FUNCTION finish_stats_add();
CREATE TRIGGER finish_stats_insert AFTER INSERT ON requests
  FOR EACH ROW WHEN (NEW.status IN ('success', 'failure', 'timeout', 'killed'))
  EXECUTE FUNCTION finish_stats_add();
INSERT INTO finish_stats (minute, job_type, status, run_bucket, n)
SELECT date_trunc('minute', r.finished_at), r.job_type, r.status, {BUCKET.format(r="r")}, count(*)
FROM requests r
WHERE r.finished_at > now() - interval '25 hours'
  AND r.status IN ('success', 'failure', 'timeout', 'killed')
GROUP BY 1, 2, 3, 4;
""")


def downgrade():
    op.execute("""
DROP TRIGGER finish_stats_add ON requests;
DROP TRIGGER finish_stats_insert ON requests;
DROP FUNCTION finish_stats_add();
DROP TABLE finish_stats;
""")
