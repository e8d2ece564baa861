"""initial schema

Revision ID: cba1d9aa2c63
Revises: 
Create Date: 2026-11-21 14:47:16.596213

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


TRIGGERS = """
-- Invariant 6: every change to a request bumps its version from one sequence.
CREATE FUNCTION requests_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := nextval('request_version_seq');
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER requests_touch BEFORE UPDATE ON requests
  FOR EACH ROW EXECUTE FUNCTION requests_touch();

-- Wake the dispatcher when a row becomes unassigned (new or retried).
CREATE FUNCTION requests_notify_unassigned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('requests_unassigned', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER requests_notify_insert AFTER INSERT ON requests
  FOR EACH ROW WHEN (NEW.status = 'unassigned') EXECUTE FUNCTION requests_notify_unassigned();
CREATE TRIGGER requests_notify_update AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (NEW.status = 'unassigned' AND OLD.status <> 'unassigned')
  EXECUTE FUNCTION requests_notify_unassigned();

-- Counts by status without counting a million rows: append-only deltas per statement.
CREATE FUNCTION status_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n) SELECT status, count(*) FROM new_rows GROUP BY status;
  RETURN NULL;
END $$;
CREATE FUNCTION status_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_counts (status, n) SELECT status, -count(*) FROM old_rows GROUP BY status;
  RETURN NULL;
END $$;
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
CREATE TRIGGER status_counts_insert AFTER INSERT ON requests
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_counts_insert();
CREATE TRIGGER status_counts_delete AFTER DELETE ON requests
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION status_counts_delete();
CREATE TRIGGER status_counts_update AFTER UPDATE ON requests
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION status_counts_update();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS status_counts_update ON requests;
DROP TRIGGER IF EXISTS status_counts_delete ON requests;
DROP TRIGGER IF EXISTS status_counts_insert ON requests;
DROP TRIGGER IF EXISTS requests_notify_update ON requests;
DROP TRIGGER IF EXISTS requests_notify_insert ON requests;
DROP TRIGGER IF EXISTS requests_touch ON requests;
DROP FUNCTION IF EXISTS status_counts_update(), status_counts_delete(), status_counts_insert(),
  requests_notify_unassigned(), requests_touch();
"""


def upgrade():
    op.execute(sa.schema.CreateSequence(sa.Sequence("request_version_seq")))
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('audit_log_action_id_idx', ['action', 'id'], unique=False)
        batch_op.create_index('audit_log_at_idx', ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_request_id'), ['request_id'], unique=False)

    op.create_table('status_counts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('uploads',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('safe_name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), server_default='viewer', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name='users_role_check'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=80), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('requests',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('job_type', sa.String(length=64), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('upload_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='unassigned', nullable=False),
    sa.Column('attempt', sa.Integer(), server_default='1', nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('progress', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('submitted_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default=sa.text("nextval('request_version_seq')"), nullable=False),
    sa.CheckConstraint("status IN ('unassigned', 'pending', 'running', 'success', 'failure', 'timeout', 'killed')", name='requests_status_check'),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name='requests_progress_check'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.create_index('requests_active_idx', ['id'], unique=False, postgresql_where=sa.text("status IN ('unassigned', 'pending', 'running')"))
        batch_op.create_index('requests_finished_at_idx', ['finished_at'], unique=False)
        batch_op.create_index('requests_job_type_id_idx', ['job_type', 'id'], unique=False)
        batch_op.create_index('requests_status_id_idx', ['status', 'id'], unique=False)
        batch_op.create_index('requests_task_id_idx', ['task_id'], unique=False)
        batch_op.create_index('requests_version_idx', ['version'], unique=False)

    op.create_table('artifacts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifacts_request_id'), ['request_id'], unique=False)

    op.create_table('attempts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='unassigned', nullable=False),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('triggered_by', sa.String(length=80), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('unassigned', 'pending', 'running', 'success', 'failure', 'timeout', 'killed')", name='attempts_status_check'),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'number', name='attempts_request_number_key')
    )
    op.execute(TRIGGERS)
    # ### end Alembic commands ###


def downgrade():
    op.execute(DROP_TRIGGERS)
    op.drop_table('attempts')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifacts_request_id'))

    op.drop_table('artifacts')
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_index('requests_version_idx')
        batch_op.drop_index('requests_task_id_idx')
        batch_op.drop_index('requests_status_id_idx')
        batch_op.drop_index('requests_job_type_id_idx')
        batch_op.drop_index('requests_finished_at_idx')
        batch_op.drop_index('requests_active_idx', postgresql_where=sa.text("status IN ('unassigned', 'pending', 'running')"))

    op.drop_table('requests')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('uploads')
    op.drop_table('status_counts')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_request_id'))
        batch_op.drop_index('audit_log_at_idx')
        batch_op.drop_index('audit_log_action_id_idx')

    op.drop_table('audit_log')
    # ### end Alembic commands ###
    op.execute(sa.schema.DropSequence(sa.Sequence("request_version_seq")))
