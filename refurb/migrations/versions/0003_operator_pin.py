"""Operators get a PIN (its scrypt hash) for lead actions.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("operator") as batch:
        batch.add_column(sa.Column("pin_hash", sa.String(), nullable=True))


def downgrade():
    with op.batch_alter_table("operator") as batch:
        batch.drop_column("pin_hash")
