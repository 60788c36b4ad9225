"""The tables (SQLModel).  Schema changes come as Alembic migrations in refurb/migrations.

Times are aware UTC datetimes (timestamptz on PostgreSQL); JSON-shaped columns are text holding canonical JSON.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Operator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    role: str = Field(default="volunteer")
    pin_hash: str | None = None  # scrypt hash of the PIN lead actions ask for (refurb.pins)
    created_at: datetime


class Station(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    created_at: datetime


class Donor(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    created_at: datetime


class Batch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    donor_ref: str | None = None
    received_on: datetime | None = None
    status: str = Field(default="open")
    closed_at: datetime | None = None
    created_at: datetime


class Location(SQLModel, table=True):
    """The warehouse and the digipunten."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    kind: str = Field(default="digipunt")
    loan_days: int = Field(default=28)
    max_extensions: int = Field(default=2)
    created_at: datetime


class Device(SQLModel, table=True):
    __table_args__ = (
        Index("ix_device_serial", "serial"),
        Index("ix_device_donor_tag", "donor_tag"),
        Index("ix_device_imei", "imei"),
        Index("ix_device_mac", "mac"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tag: str = Field(unique=True, index=True)
    kind: str
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    donor_tag: str | None = None
    imei: str | None = None
    mac: str | None = None
    batch_id: int = Field(foreign_key="batch.id", index=True)
    state: str = Field(index=True)
    grade: str | None = None
    location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    no_storage: bool = Field(default=False)
    specs: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    last_event_id: int | None = None
    created_at: datetime
    updated_at: datetime


class StorageMedium(SQLModel, table=True):
    __tablename__ = "storage_medium"
    __table_args__ = (UniqueConstraint("device_id", "serial", name="uq_medium_device_serial"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    serial: str = Field(index=True)
    type: str
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger))
    model: str | None = None
    created_at: datetime


class Evidence(SQLModel, table=True):
    """A file kept verbatim with its SHA-256 (erasure logs, unlock proofs, snapshots)."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: int | None = Field(default=None, foreign_key="device.id", index=True)
    filename: str
    sha256: str = Field(index=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class WipeRecord(SQLModel, table=True):
    __tablename__ = "wipe_record"

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    medium_id: int = Field(foreign_key="storage_medium.id", index=True)
    profile_id: str
    profile_version: int
    method: str
    level: str | None = None
    tool: str | None = None
    result: str
    verified: bool = Field(default=False)
    verification: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    evidence: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    event_id: int | None = None
    operator: str
    created_at: datetime


class ImageRecord(SQLModel, table=True):
    __tablename__ = "image_record"

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    image_id: str
    licence: str | None = None
    event_id: int | None = None
    operator: str
    created_at: datetime


class QCRecord(SQLModel, table=True):
    __tablename__ = "qc_record"

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    kind: str
    result: str
    grade: str | None = None
    items: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    event_id: int | None = None
    operator: str
    created_at: datetime


class Lock(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    kind: str
    note: str | None = None
    opened_at: datetime
    opened_event_id: int | None = None
    released_at: datetime | None = None
    released_event_id: int | None = None
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id")


class Borrower(SQLModel, table=True):
    """A pseudonymous reference issued by a digipunt: never a name."""

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True)
    digipunt_id: int | None = Field(default=None, foreign_key="location.id")
    created_at: datetime
    last_loan_at: datetime | None = None


class Loan(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    borrower_id: int = Field(foreign_key="borrower.id", index=True)
    digipunt_id: int = Field(foreign_key="location.id")
    out_at: datetime
    due_on: datetime
    returned_at: datetime | None = None
    condition: str | None = None
    lost: bool = Field(default=False)
    extensions: int = Field(default=0)
    accessories: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    event_id: int | None = None


class Event(SQLModel, table=True):
    """Append-only history; UPDATE and DELETE are refused by database triggers.

    `hash` chains every event to the one before it (see refurb.audit)."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: int | None = Field(default=None, foreign_key="device.id", index=True)
    action: str
    from_state: str | None = None
    to_state: str | None = None
    operator: str
    station: str
    at: datetime
    recorded_at: datetime
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    forced: str | None = None
    prev_hash: str
    hash: str

    __table_args__ = (UniqueConstraint("hash", name="uq_event_hash"),
                      Index("ix_event_at", "at", "action", "station", "device_id"))


class ChainHead(SQLModel, table=True):
    """One row: the newest event's hash.  Every write locks it, which serialises writers."""

    __tablename__ = "chain_head"

    id: int = Field(default=1, primary_key=True)
    hash: str
    count: int = Field(default=0)
    last_event_id: int | None = None


class TagCounter(SQLModel, table=True):
    __tablename__ = "tag_counter"

    prefix: str = Field(primary_key=True)
    next_seq: int = Field(default=1)
