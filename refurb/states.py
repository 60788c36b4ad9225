"""Names shared by every layer: states, device kinds, media types, sanitization levels.

Cheap to import (used for CLI choices); the transition table itself lives in refurb.lifecycle.
"""

from enum import StrEnum


class State(StrEnum):
    EXPECTED = "expected"
    INTAKE = "intake"
    WIPE_PENDING = "wipe_pending"
    WIPING = "wiping"
    WIPED = "wiped"
    IMAGED = "imaged"
    READY = "ready"
    ALLOCATED = "allocated"
    ON_LOAN = "on_loan"
    RETURNED = "returned"
    LOCKED = "locked"
    WIPE_FAILED = "wipe_failed"
    REPAIR = "repair"
    PARTS = "parts"
    RECYCLED = "recycled"
    RETURNED_TO_DONOR = "returned_to_donor"
    LOST = "lost"


END_STATES = frozenset({State.PARTS, State.RECYCLED, State.RETURNED_TO_DONOR, State.LOST})
# States in which a device may hold donor or borrower data that is not yet erased.
DEVICE_KINDS = ("laptop", "tablet", "phone", "desktop", "other")
MEDIA_TYPES = ("hdd", "sata-ssd", "nvme", "emmc", "removable", "embedded")
# NIST SP 800-88 sanitization levels, weakest first.
LEVELS = ("clear", "purge", "destroy")
GRADES = ("A", "B", "C")
ROLES = ("volunteer", "lead", "admin")
LOCK_KINDS = (
    "activation-lock",
    "mdm",
    "autopilot",
    "frp",
    "zero-touch",
    "chrome-enrolment",
    "bios-password",
    "computrace",
    "other",
)
CONDITIONS = ("ok", "damaged", "incomplete")


def level_rank(level):
    """Order of a sanitization level: clear < purge < destroy."""
    return LEVELS.index(level)
