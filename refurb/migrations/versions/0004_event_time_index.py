"""Events get an index by time (with action, station and device), so the time windows of `refurb status`
and the funder report read only the events inside them.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_event_at", "event", ["at", "action", "station", "device_id"])


def downgrade():
    op.drop_index("ix_event_at", table_name="event")
