"""Server-side sign-in sessions; a request change takes its transaction id before its version.

`user_sessions` holds one row per signed-in browser (the cookie carries only the
row's random id, kept here as its SHA-256). Signing out deletes the row; a trigger
deletes every row of a user whose password, role or active flag changes, whoever
changes it (the users page, the CLI, plain SQL), so no old cookie comes back.

`requests_touch` now asks for the transaction id (`pg_current_xact_id()`, which
assigns one if the transaction has none yet) before it draws the version. So a
transaction that drew a version the live poll has read is already listed as in
progress in any snapshot taken after that read (queries.in_flight), and the poll
token can say which changes its page could not see yet.

Revision ID: 0003
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("address", sa.String(64)),
    )
    op.execute("""
CREATE FUNCTION users_end_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM user_sessions WHERE user_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER users_end_sessions AFTER UPDATE OF password_hash, role, active ON users
  FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash
                     OR OLD.role IS DISTINCT FROM NEW.role
                     OR OLD.active IS DISTINCT FROM NEW.active)
  EXECUTE FUNCTION users_end_sessions();

CREATE OR REPLACE FUNCTION requests_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The transaction id first (assigned now if the transaction has none), then the
  -- version: a poll that read this version sees this transaction as in progress.
  PERFORM pg_current_xact_id();
  NEW.version := nextval('request_version_seq');
  NEW.updated_at := now();
  RETURN NEW;
END $$;
DROP TRIGGER requests_touch ON requests;
CREATE TRIGGER requests_touch BEFORE INSERT OR UPDATE ON requests
  FOR EACH ROW EXECUTE FUNCTION requests_touch();
""")


def downgrade():
    op.execute("""
DROP TRIGGER requests_touch ON requests;
CREATE OR REPLACE FUNCTION requests_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := nextval('request_version_seq');
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER requests_touch BEFORE UPDATE ON requests
  FOR EACH ROW EXECUTE FUNCTION requests_touch();
DROP TRIGGER users_end_sessions ON users;
DROP FUNCTION users_end_sessions();
""")
    op.drop_table("user_sessions")
