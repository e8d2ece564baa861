"""A user's language; more than one volume per load_array attempt.

`users.locale`: the language a user chose for the dashboard ('en' or 'ko'); NULL means
the browser's Accept-Language decides.

`volume_caches.layer`: which volume of the attempt the row maps. A single series is
'main'; a zip with a CT and a PET series of one frame of reference stores 'ct' and
'pet' (the PET already resampled onto the CT grid). The primary key gains the layer.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("locale", sa.String(8), nullable=True))
    op.create_check_constraint("users_locale_check", "users", "locale IN ('en', 'ko')")
    op.add_column("volume_caches", sa.Column("layer", sa.String(16), nullable=False,
                                             server_default="main"))
    op.drop_constraint("volume_caches_pkey", "volume_caches", type_="primary")
    op.create_primary_key("volume_caches_pkey", "volume_caches",
                          ["request_id", "attempt", "layer"])


def downgrade():
    op.execute("DELETE FROM volume_caches WHERE layer <> 'main'")
    op.drop_constraint("volume_caches_pkey", "volume_caches", type_="primary")
    op.create_primary_key("volume_caches_pkey", "volume_caches", ["request_id", "attempt"])
    op.drop_column("volume_caches", "layer")
    op.drop_constraint("users_locale_check", "users", type_="check")
    op.drop_column("users", "locale")
