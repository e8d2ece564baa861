"""Uploads in chunks; the viewer's cached copy of each loaded volume.

`upload_chunks` holds an upload's bytes as ~1 MB bytea rows (seq from 0), so
neither the web process nor a worker ever holds a whole file. `uploads.data`
stays for rows written before this revision (new rows leave it NULL).
`volume_caches` names, per attempt of a load_array request, the upload whose
bytes are the canonical [x, y, z] volume (the original file for raw and npy,
a C-order copy the worker wrote for NIfTI and DICOM) and how to map it.

Revision ID: 0007
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("uploads", "data", existing_type=sa.LargeBinary(), nullable=True)
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", sa.BigInteger(),
                  sa.ForeignKey("uploads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "seq", name="upload_chunks_pkey"),
    )
    # Chunks are already compressed or incompressible volumes: no TOAST compression pass.
    op.execute("ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "volume_caches",
        sa.Column("request_id", sa.BigInteger(),
                  sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.BigInteger(),
                  sa.ForeignKey("uploads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("dtype", sa.String(16), nullable=False),       # numpy str, e.g. '<f4'
        sa.Column("shape", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("fortran_order", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("request_id", "attempt", name="volume_caches_pkey"),
    )
    op.create_index("volume_caches_upload_idx", "volume_caches", ["upload_id"])


def downgrade():
    op.drop_table("volume_caches")
    op.drop_table("upload_chunks")
    op.execute("DELETE FROM uploads WHERE data IS NULL")
    op.alter_column("uploads", "data", existing_type=sa.LargeBinary(), nullable=False)
