"""Events become append-only in the database itself; devices get IMEI and MAC look-ups.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION refurb_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'refurb events are append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade():
    op.create_index("ix_device_imei", "device", ["imei"])
    op.create_index("ix_device_mac", "device", ["mac"])
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(sa.text(
                f"CREATE TRIGGER event_no_{verb.lower()} BEFORE {verb} ON event "
                f"BEGIN SELECT RAISE(ABORT, 'refurb events are append-only: {verb} refused'); END"
            ))
    else:
        op.execute(sa.text(PG_FUNCTION))
        op.execute(sa.text(
            "CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event "
            "FOR EACH ROW EXECUTE FUNCTION refurb_event_append_only()"
        ))
        op.execute(sa.text(
            "CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event "
            "FOR EACH STATEMENT EXECUTE FUNCTION refurb_event_append_only()"
        ))


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(sa.text("DROP TRIGGER IF EXISTS event_no_update"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS event_no_delete"))
    else:
        op.execute(sa.text("DROP TRIGGER IF EXISTS event_append_only ON event"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS event_no_truncate ON event"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS refurb_event_append_only()"))
    op.drop_index("ix_device_mac", "device")
    op.drop_index("ix_device_imei", "device")
