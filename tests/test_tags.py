"""Asset tags: the check character catches every single-character error and adjacent swap, and a
misread tag is reported as a misread (exit 3), never looked up as something else."""

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from refurb import services, tags
from refurb.errors import Misread
from refurb.tags import ALPHABET, CheckMismatch, TagError

prefixes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6)
numbers = st.integers(min_value=0, max_value=999_999_999)  # up to the 9 digits a tag may carry


@st.composite
def valid_tags(draw):
    prefix, number = draw(prefixes), draw(numbers)
    assume(tags.is_issuable(prefix, number))
    return prefix, number, tags.make(prefix, number)


def rejected(text):
    """True when parse refuses `text` as a misread or as not a tag at all."""
    try:
        tags.parse(text)
    except (CheckMismatch, TagError):
        return True
    return False


def compact(tag):
    return tag.replace("-", "")


def tag_char_positions(tag):
    return [i for i, c in enumerate(tag) if c != "-"]


# ---------------------------------------------------------------------------- round trip


@given(valid_tags())
@example(("RB", 142, tags.make("RB", 142)))
def test_make_then_parse_round_trips(case):
    prefix, number, tag = case
    assert tag.startswith(f"{prefix}-{number:06d}-")
    assert len(tag) == len(prefix) + len(f"{number:06d}") + 3
    assert tags.parse(tag) == (prefix, number, tag)
    assert tags.parse(compact(tag)) == (prefix, number, tag)
    assert tags.looks_like_tag(tag)


@given(valid_tags())
def test_weighted_sum_of_a_tag_is_zero_mod_37(case):
    _prefix, _number, tag = case
    values = [ALPHABET.index(c) for c in compact(tag)]
    assert sum(v * w for w, v in enumerate(reversed(values), start=1)) % 37 == 0


@given(valid_tags(), st.data())
def test_lowercase_and_spaces_normalise(case, data):
    prefix, number, tag = case
    assert tags.make(prefix.lower(), number) == tag
    spaced = "".join(c + data.draw(st.sampled_from(["", " "])) for c in tag.lower())
    assert tags.parse("  " + spaced + " ") == (prefix, number, tag)


# ---------------------------------------------------------------------------- errors are detected


@given(valid_tags())
def test_every_single_character_substitution_is_rejected(case):
    _prefix, _number, tag = case
    for form in (tag, compact(tag)):
        for i in tag_char_positions(form):
            for c in ALPHABET:
                if c == form[i]:
                    continue
                changed = form[:i] + c + form[i + 1:]
                assert rejected(changed), f"{changed} (from {form}) was accepted"


@given(valid_tags())
def test_every_adjacent_transposition_is_rejected(case):
    _prefix, _number, tag = case
    for form in (tag, compact(tag)):
        for i in range(len(form) - 1):
            a, b = form[i], form[i + 1]
            if a == b:
                continue
            swapped = form[:i] + b + a + form[i + 2:]
            assert rejected(swapped), f"{swapped} (from {form}) was accepted"


@given(valid_tags())
def test_a_wrong_check_character_is_a_mismatch_not_a_shape_error(case):
    _prefix, _number, tag = case
    for c in ALPHABET:
        if c != tag[-1]:
            with pytest.raises(CheckMismatch):
                tags.parse(tag[:-1] + c)


@pytest.mark.parametrize("text", ["", "RB", "RB-12-3", "RB-0001", "1234-000142-7", "RBXXXXXXX-000142-7",
                                  "RB-0001420000000-7", "RB-000142-77", "RB_000142_7"])
def test_not_a_tag_is_a_tag_error(text):
    with pytest.raises(TagError):
        tags.parse(text)
    assert not tags.looks_like_tag(text)


@pytest.mark.parametrize("prefix", ["", "ABCDEFG", "R2", "R-B"])
def test_make_refuses_bad_prefixes(prefix):
    with pytest.raises(TagError):
        tags.make(prefix, 1)


# ---------------------------------------------------------------------------- numbers without a check character


def _first_unissuable(prefix, start):
    for n in range(start, start + 10_000):
        if tags.check_value(f"{prefix}{n:06d}") == 36:
            return n
    raise AssertionError("no number with check value 36 in 10 000 tries")


@given(prefixes, st.integers(min_value=0, max_value=999_000))
def test_next_number_skips_numbers_whose_check_value_is_36(prefix, start):
    bad = _first_unissuable(prefix, start)
    with pytest.raises(TagError):
        tags.make(prefix, bad)
    assert not tags.is_issuable(prefix, bad)
    nxt = tags.next_number(prefix, bad)
    assert nxt > bad and tags.is_issuable(prefix, nxt)
    assert all(tags.check_value(f"{prefix}{k:06d}") == 36 for k in range(bad, nxt))
    # from any start, next_number is the first issuable number at or after it
    n = tags.next_number(prefix, start)
    assert tags.is_issuable(prefix, n)
    assert all(not tags.is_issuable(prefix, k) for k in range(start, n))
    tags.make(prefix, n)  # does not raise


# ---------------------------------------------------------------------------- through the database


def _register(ctx, serial, batch="B-TAGS"):
    if not any(b["ref"] == batch for b in services.list_batches(ctx)):
        services.add_donor(ctx, "Acme NV")
        services.add_batch(ctx, "Acme NV", ref=batch)
    return services.register_device(ctx, batch, "laptop", make="Lenovo", model="T480", serial=serial)["tag"]


def single_substitutions(tag):
    """Every tag with one character changed that still has the shape of a tag."""
    out = []
    for i in tag_char_positions(tag):
        for c in ALPHABET:
            changed = tag[:i] + c + tag[i + 1:]
            if c != tag[i] and tags.looks_like_tag(changed):
                out.append(changed)
    return out


def test_resolve_reports_every_one_character_change_as_a_misread(ctx):
    tag = _register(ctx, "PF1ABCDE")
    bad = single_substitutions(tag)
    assert len(bad) >= 6 * 9 + 35  # at least each digit and the check character changed
    with services.reading(ctx) as s:
        assert services.resolve(s, tag).tag == tag
        assert services.resolve(s, tag.lower()).tag == tag
        for code in bad:
            with pytest.raises(Misread) as caught:
                services.resolve(s, code)
            assert caught.value.exit_code == 3
            assert caught.value.code == "misread-tag"
            assert code in caught.value.message


def test_a_misread_is_never_looked_up_as_a_serial_or_donor_tag(ctx):
    tag = _register(ctx, "PF1ABCDE")
    bad = tag[:-1] + ("0" if tag[-1] != "0" else "1")
    # another device whose serial and donor tag are exactly the misread text
    services.register_device(ctx, "B-TAGS", "laptop", serial=bad)
    services.register_device(ctx, "B-TAGS", "laptop", serial="OTHER-1", donor_tag=bad)
    with services.reading(ctx) as s:
        with pytest.raises(Misread):
            services.resolve(s, bad)


def test_cli_show_of_a_misread_tag_exits_3(ctx, cli):
    tag = _register(ctx, "PF1ABCDE")
    ok = cli("show", tag)
    assert ok.exit_code == 0, ok.stderr
    assert tag in ok.stdout
    bad = tag[:-3] + ("9" if tag[-3] != "9" else "8") + tag[-2:]  # the last digit changed
    assert tags.looks_like_tag(bad)
    r = cli("show", bad)
    assert r.exit_code == 3
    assert "misread" in r.stderr
    assert bad in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stdout == ""
    # an unknown but valid tag is "not found" (also 3), not a misread
    unknown = tags.make("RB", tags.next_number("RB", 900_000))
    r = cli("show", unknown)
    assert r.exit_code == 3
    assert "misread" not in r.stderr and "not-found" in r.stderr


# ---------------------------------------------------------------------------- separators


def separator_substitutions(tag):
    """The tag with one of its '-' separators misread as a letter or digit."""
    return [tag[:i] + c + tag[i + 1:] for i, ch in enumerate(tag) if ch == "-" for c in ALPHABET]


@given(valid_tags())
@example(("RB", 1, "RB-000001-0"))  # with each dash optional on its own: RBN000001-0 = RBN-000001-0
@example(("RB", 100089, "RB-100089-R"))  # ... and RB-1000899R = RB-1000899-R
def test_a_misread_separator_is_never_another_valid_tag(case):
    _prefix, _number, tag = case
    assert tags.make(_prefix, _number) == tag
    assert [x for x in separator_substitutions(tag) if not rejected(x)] == []


def test_cli_show_of_a_misread_separator_does_not_show_another_device(ctx, cli):
    tag = _register(ctx, "PF1ABCDE")
    assert tag == tags.make("RB", 1) == "RB-000001-0"
    other_site = services.Context(ctx.settings.with_options(tag_prefix="RBN"), operator="Sara", station="bench-2")
    other = services.register_device(other_site, "B-TAGS", "laptop", serial="PF9ZYXWV")["tag"]
    assert other == "RBN-000001-0"
    assert cli("show", "RBN0000010").exit_code == 0  # the dashless form of its tag is fine
    r = cli("show", "RBN000001-0")  # RB-000001-0 with its first '-' read as N
    assert r.exit_code == 3, r.stdout
    assert other not in r.stdout + r.stderr
