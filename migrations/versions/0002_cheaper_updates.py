"""Cheaper request updates: no index on version; status counts kept per changed row.

Every update bumps `version`, so an index on it made every update touch it
(and no update could be HOT). Pollers read the version sequence instead.
The statement-level count trigger built transition tables for every UPDATE,
progress writes included; a row-level trigger guarded by WHEN costs nothing
unless the status really changes.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("requests_version_idx", table_name="requests")
    op.execute("""
DROP TRIGGER status_counts_update ON requests;
DROP FUNCTION status_counts_update();
CREATE FUNCTION status_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
  RETURN NULL;
END $$;
CREATE TRIGGER status_counts_update AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION status_counts_update();
""")


def downgrade():
    op.execute("""
DROP TRIGGER status_counts_update ON requests;
DROP FUNCTION status_counts_update();
CREATE FUNCTION status_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n)
  SELECT status, sum(n) FROM (
    SELECT o.status, -1 AS n FROM old_rows o JOIN new_rows w ON w.id = o.id
      WHERE w.status <> o.status
    UNION ALL
    SELECT w.status, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id
      WHERE w.status <> o.status
  ) d GROUP BY status;
  RETURN NULL;
END $$;
CREATE TRIGGER status_counts_update AFTER UPDATE ON requests
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION status_counts_update();
""")
    op.create_index("requests_version_idx", "requests", ["version"])
