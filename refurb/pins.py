"""Operator PINs for lead actions (SPEC §10, issue 7): stored only as a slow, salted scrypt hash.

A PIN is something a lead types at a shared bench, not a password: 4 to 12 digits.  scrypt with
n=2**14, r=8 costs about 50 ms and 16 MB per guess, which makes trying all 10 000 four-digit PINs
against a stolen database slow (minutes, not microseconds); longer PINs are accepted and advised.
"""

import hashlib
import hmac
import re
import secrets

N, R, P = 2**14, 8, 1
PIN_SHAPE = re.compile(r"\d{4,12}")


def valid(pin):
    return bool(PIN_SHAPE.fullmatch(pin or ""))


def hash_pin(pin):
    """'scrypt$n$r$p$salt$hash' (hex) for a PIN that passed `valid`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def check_pin(pin, stored):
    """Whether `pin` matches the stored hash (constant-time comparison; any malformed value is False)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt((pin or "").encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(digest) // 2)
    except (AttributeError, ValueError):
        return False
    return hmac.compare_digest(found.hex(), digest)
