"""Our asset tags: PREFIX-NNNNNN-C.

C is a check character over the prefix and the number: the weighted sum (weights 1, 2, 3 …
from the right, the check character itself weighing 1) of the character values (0-9 → 0-9,
A-Z → 10-35) is 0 modulo 37.  37 is prime and the weights of neighbours differ by one, so
every single-character substitution and every swap of two adjacent different characters
changes the sum: each is detected.  A number whose check value would be 36 (no character in
0-9A-Z) is never issued; `next_number` skips it.
"""

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MODULUS = 37
WIDTH = 6
TAG_SHAPE = re.compile(r"^([A-Z]{1,6})(-?)(\d{6,9})\2([0-9A-Z])$")  # both dashes or none
PREFIX_SHAPE = re.compile(r"^[A-Z]{1,6}$")


class TagError(ValueError):
    """The string is not shaped like a tag at all."""


class CheckMismatch(ValueError):
    """Shaped like a tag, but the check character does not match: a misread."""


def _values(body):
    return [ALPHABET.index(c) for c in body]


def check_value(body):
    """The value v (0..36) such that the tag body followed by v sums to 0 mod 37."""
    # body characters get weights 2, 3, … from the right; the check character weighs 1
    total = sum(v * w for w, v in enumerate(reversed(_values(body)), start=2))
    return (-total) % MODULUS


def is_issuable(prefix, number, width=WIDTH):
    return check_value(f"{prefix}{number:0{width}d}") < len(ALPHABET)


def next_number(prefix, number, width=WIDTH):
    """The first number ≥ `number` whose tag has a check character."""
    while not is_issuable(prefix, number, width):
        number += 1
    return number


def make(prefix, number, width=WIDTH):
    prefix = prefix.upper()
    if not PREFIX_SHAPE.match(prefix):
        raise TagError(prefix)
    digits = f"{number:0{width}d}"
    value = check_value(prefix + digits)
    if value >= len(ALPHABET):
        raise TagError(f"{prefix}-{digits}")
    return f"{prefix}-{digits}-{ALPHABET[value]}"


def looks_like_tag(text):
    return TAG_SHAPE.match(normalise(text)) is not None


def normalise(text):
    return text.strip().upper().replace(" ", "")


def parse(text):
    """'rb-000142-j' → ('RB', 142, 'RB-000142-J').

    Raises TagError when the text is not shaped like a tag, CheckMismatch when it is but
    the check character is wrong."""
    m = TAG_SHAPE.match(normalise(text))
    if not m:
        raise TagError(text)
    prefix, _dash, digits, check = m.groups()
    if check_value(prefix + digits) != ALPHABET.index(check):
        raise CheckMismatch(text)
    return prefix, int(digits), f"{prefix}-{digits}-{check}"
