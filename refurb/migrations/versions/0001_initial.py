"""Initial schema: registry, records, loans, events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id():
    return sa.Column("id", sa.Integer, primary_key=True)


def _ts(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "operator", _id(), sa.Column("name", sa.String, nullable=False),
        sa.Column("role", sa.String, nullable=False), _ts("created_at"),
    )
    op.create_index("ix_operator_name", "operator", ["name"], unique=True)
    op.create_table("station", _id(), sa.Column("name", sa.String, nullable=False), _ts("created_at"))
    op.create_index("ix_station_name", "station", ["name"], unique=True)
    op.create_table("donor", _id(), sa.Column("name", sa.String, nullable=False), _ts("created_at"))
    op.create_index("ix_donor_name", "donor", ["name"], unique=True)
    op.create_table(
        "batch", _id(), sa.Column("ref", sa.String, nullable=False),
        sa.Column("donor_id", sa.Integer, sa.ForeignKey("donor.id"), nullable=False),
        sa.Column("donor_ref", sa.String), _ts("received_on", True),
        sa.Column("status", sa.String, nullable=False), _ts("closed_at", True), _ts("created_at"),
    )
    op.create_index("ix_batch_ref", "batch", ["ref"], unique=True)
    op.create_index("ix_batch_donor_id", "batch", ["donor_id"])
    op.create_table(
        "location", _id(), sa.Column("name", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False), sa.Column("loan_days", sa.Integer, nullable=False),
        sa.Column("max_extensions", sa.Integer, nullable=False), _ts("created_at"),
    )
    op.create_index("ix_location_name", "location", ["name"], unique=True)
    op.create_table(
        "device", _id(), sa.Column("tag", sa.String, nullable=False), sa.Column("kind", sa.String, nullable=False),
        sa.Column("make", sa.String), sa.Column("model", sa.String), sa.Column("serial", sa.String),
        sa.Column("donor_tag", sa.String), sa.Column("imei", sa.String), sa.Column("mac", sa.String),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batch.id"), nullable=False),
        sa.Column("state", sa.String, nullable=False), sa.Column("grade", sa.String),
        sa.Column("location_id", sa.Integer, sa.ForeignKey("location.id")),
        sa.Column("no_storage", sa.Boolean, nullable=False),
        sa.Column("specs", sa.Text, nullable=False), sa.Column("last_event_id", sa.Integer),
        _ts("created_at"), _ts("updated_at"),
    )
    op.create_index("ix_device_tag", "device", ["tag"], unique=True)
    op.create_index("ix_device_serial", "device", ["serial"])
    op.create_index("ix_device_donor_tag", "device", ["donor_tag"])
    op.create_index("ix_device_batch_id", "device", ["batch_id"])
    op.create_index("ix_device_state", "device", ["state"])
    op.create_index("ix_device_location_id", "device", ["location_id"])
    op.create_table(
        "storage_medium", _id(),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id"), nullable=False),
        sa.Column("serial", sa.String, nullable=False), sa.Column("type", sa.String, nullable=False),
        sa.Column("size_bytes", sa.BigInteger), sa.Column("model", sa.String), _ts("created_at"),
        sa.UniqueConstraint("device_id", "serial", name="uq_medium_device_serial"),
    )
    op.create_index("ix_storage_medium_device_id", "storage_medium", ["device_id"])
    op.create_index("ix_storage_medium_serial", "storage_medium", ["serial"])
    op.create_table(
        "evidence", _id(), sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id")),
        sa.Column("filename", sa.String, nullable=False), sa.Column("sha256", sa.String, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False), sa.Column("content", sa.LargeBinary, nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_evidence_device_id", "evidence", ["device_id"])
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"])
    op.create_table(
        "wipe_record", _id(),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id"), nullable=False),
        sa.Column("medium_id", sa.Integer, sa.ForeignKey("storage_medium.id"), nullable=False),
        sa.Column("profile_id", sa.String, nullable=False), sa.Column("profile_version", sa.Integer, nullable=False),
        sa.Column("method", sa.String, nullable=False), sa.Column("level", sa.String), sa.Column("tool", sa.String),
        sa.Column("result", sa.String, nullable=False), sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("verification", sa.String), _ts("started_at", True), _ts("ended_at", True),
        sa.Column("evidence", sa.Text, nullable=False), sa.Column("event_id", sa.Integer),
        sa.Column("operator", sa.String, nullable=False), _ts("created_at"),
    )
    op.create_index("ix_wipe_record_device_id", "wipe_record", ["device_id"])
    op.create_index("ix_wipe_record_medium_id", "wipe_record", ["medium_id"])
    op.create_table(
        "image_record", _id(),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id"), nullable=False),
        sa.Column("image_id", sa.String, nullable=False), sa.Column("licence", sa.String),
        sa.Column("event_id", sa.Integer), sa.Column("operator", sa.String, nullable=False), _ts("created_at"),
    )
    op.create_index("ix_image_record_device_id", "image_record", ["device_id"])
    op.create_table(
        "qc_record", _id(),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id"), nullable=False),
        sa.Column("kind", sa.String, nullable=False), sa.Column("result", sa.String, nullable=False),
        sa.Column("grade", sa.String), sa.Column("items", sa.Text, nullable=False),
        sa.Column("event_id", sa.Integer), sa.Column("operator", sa.String, nullable=False), _ts("created_at"),
    )
    op.create_index("ix_qc_record_device_id", "qc_record", ["device_id"])
    op.create_table(
        "lock", _id(), sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id"), nullable=False),
        sa.Column("kind", sa.String, nullable=False), sa.Column("note", sa.String),
        _ts("opened_at"), sa.Column("opened_event_id", sa.Integer), _ts("released_at", True),
        sa.Column("released_event_id", sa.Integer),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id")),
    )
    op.create_index("ix_lock_device_id", "lock", ["device_id"])
    op.create_table(
        "borrower", _id(), sa.Column("ref", sa.String, nullable=False),
        sa.Column("digipunt_id", sa.Integer, sa.ForeignKey("location.id")),
        _ts("created_at"), _ts("last_loan_at", True),
    )
    op.create_index("ix_borrower_ref", "borrower", ["ref"], unique=True)
    op.create_table(
        "loan", _id(), sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id"), nullable=False),
        sa.Column("borrower_id", sa.Integer, sa.ForeignKey("borrower.id"), nullable=False),
        sa.Column("digipunt_id", sa.Integer, sa.ForeignKey("location.id"), nullable=False),
        _ts("out_at"), _ts("due_on"), _ts("returned_at", True), sa.Column("condition", sa.String),
        sa.Column("lost", sa.Boolean, nullable=False), sa.Column("extensions", sa.Integer, nullable=False),
        sa.Column("accessories", sa.Text, nullable=False), sa.Column("event_id", sa.Integer),
    )
    op.create_index("ix_loan_device_id", "loan", ["device_id"])
    op.create_index("ix_loan_borrower_id", "loan", ["borrower_id"])
    op.create_table(
        "event", _id(), sa.Column("device_id", sa.Integer, sa.ForeignKey("device.id")),
        sa.Column("action", sa.String, nullable=False), sa.Column("from_state", sa.String),
        sa.Column("to_state", sa.String), sa.Column("operator", sa.String, nullable=False),
        sa.Column("station", sa.String, nullable=False), _ts("at"), _ts("recorded_at"),
        sa.Column("data", sa.Text, nullable=False), sa.Column("forced", sa.String),
        sa.Column("prev_hash", sa.String, nullable=False), sa.Column("hash", sa.String, nullable=False),
        sa.UniqueConstraint("hash", name="uq_event_hash"),
    )
    op.create_index("ix_event_device_id", "event", ["device_id"])
    op.create_table(
        "chain_head", sa.Column("id", sa.Integer, primary_key=True), sa.Column("hash", sa.String, nullable=False),
        sa.Column("count", sa.Integer, nullable=False), sa.Column("last_event_id", sa.Integer),
    )
    op.create_table(
        "tag_counter", sa.Column("prefix", sa.String, primary_key=True),
        sa.Column("next_seq", sa.Integer, nullable=False),
    )
    op.execute(sa.text("INSERT INTO chain_head (id, hash, count) VALUES (1, '" + "0" * 64 + "', 0)"))


def downgrade():
    for table in (
        "tag_counter", "chain_head", "event", "loan", "borrower", "lock", "qc_record", "image_record",
        "wipe_record", "evidence", "storage_medium", "device", "location", "batch", "donor", "station", "operator",
    ):
        op.drop_table(table)
