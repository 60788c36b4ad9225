"""The scan-text layer: cleaning lines, station cards, keyboard-layout repair and identity forms.

Pure functions; the database side of scan resolution is tested with the station."""

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from refurb import catalog, tags
from refurb.scanning import (
    LAYOUTS,
    MAX_LENGTH,
    MODES,
    SETUP_LAYOUTS,
    Card,
    all_command_cards,
    badge,
    card_code,
    clean,
    dell_express_code,
    dell_service_tags,
    is_imei,
    layout_repairs,
    looks_like_card,
    normalise_imei,
    normalise_mac,
    parse_card,
    repair,
    serial_forms,
    setup_hint,
    setup_layout_card,
    type_as,
)

# ---------------------------------------------------------------------------------------------- clean


@pytest.mark.parametrize(("raw", "cleaned"), [
    ("RB-000142-J\r\n", "RB-000142-J"),
    ("  \tRB-000142-J \t", "RB-000142-J"),
    ("\x02RB-000142-J\x03", "RB-000142-J"),  # STX/ETX framing
    ("\ufeffRB-000142-J", "RB-000142-J"),  # a byte order mark from a Windows file
    ("RB-0001\u200b42-J", "RB-000142-J"),  # zero-width space
    ("RB-0001\x1b42-J", "RB-000142-J"),  # a stray ESC
    ("0109506000134352\x1d10LOT\r\n", "0109506000134352\x1d10LOT"),  # GS1 separator kept inside
    ("\x1d0109506000134352\x1d", "0109506000134352"),  # …but not at the ends
    ("S/N:\t5CG1234ABC", "S/N: 5CG1234ABC"),
    ("Cafe\u0301", "Café"),  # NFC
    ("", ""),
    (" \r\n", ""),
    ("x" * MAX_LENGTH + "\r\n", "x" * MAX_LENGTH),
])
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned


def test_clean_normalises_to_nfc():
    assert clean("Cafe\u0301") == "Caf\u00e9" and len(clean("Cafe\u0301")) == 4


@pytest.mark.parametrize(("raw", "reason"), [
    ("RB-000\x00142-J", "NUL"),
    ("x" * (MAX_LENGTH + 1), r"longer than 256 characters \(257\)"),
    ("RB-000142-J\nRB-000143-K", "more than one line"),
    ("RB-000142-J\rX", "more than one line"),
    ("RB-\udcc3\udca9", "not valid text"),  # undecodable bytes through surrogateescape
    ("RB-\ufffd", "not valid text"),
    ("RB-\U000f0000", "not valid text"),  # private use
])
def test_clean_rejects_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        clean(raw)


@given(st.text(max_size=300))
def test_clean_never_crashes_and_is_idempotent(raw):
    try:
        text = clean(raw)
    except ValueError:
        return
    assert len(text) <= MAX_LENGTH
    assert clean(text) == text
    assert text == text.strip()


# ---------------------------------------------------------------------------------------------- cards


@pytest.mark.parametrize(("code", "card"), [
    ("RBCMD-UNDO", Card("command", "UNDO")),
    ("RBCMD-DONE", Card("command", "DONE")),
    ("RBCMD-ALLOK", Card("command", "ALLOK")),
    ("RBCMD-FAIL-KEYBOARD", Card("command", "FAIL", "KEYBOARD")),
    ("RBCMD-FAIL-DEAD-PIXELS", Card("command", "FAIL", "DEAD-PIXELS")),
    ("RBCMD-GRADE-B", Card("command", "GRADE", "B")),
    ("RBCMD-MODE-QC", Card("command", "MODE", "QC")),
    ("RBCMD-MODE-LOOKUP", Card("command", "MODE", "LOOKUP")),
    ("RBCMD-IMAGE-LINUX-MINT", Card("command", "IMAGE", "LINUX-MINT")),
    ("RBCMD-DIGIPUNT-3", Card("command", "DIGIPUNT", "3")),
    ("RBCMD-COND-DAMAGED", Card("command", "COND", "DAMAGED")),
    ("RBCMD-SETUP-BE", Card("command", "SETUP", "BE")),
    ("RBOP-7", Card("badge", "OPERATOR", "7")),
    ("RBOP-1024", Card("badge", "OPERATOR", "1024")),
])
def test_parse_and_print_cards(code, card):
    assert parse_card(code) == card
    assert card_code(card) == code
    assert parse_card(f"  {code.lower()}\n") == card  # Caps Lock on: the scanner sends lowercase
    assert looks_like_card(code)


@pytest.mark.parametrize("code", [
    "RBCMD-", "RBCMD-FOO", "RBCMD-UNDO-1", "RBCMD-ALLOK-X", "RBCMD-GRADE", "RBCMD-GRADE-D", "RBCMD-GRADE-AB",
    "RBCMD-MODE-SLEEP", "RBCMD-MODE", "RBCMD-DIGIPUNT-0", "RBCMD-DIGIPUNT-03", "RBCMD-DIGIPUNT-X",
    "RBCMD-COND-BROKEN", "RBCMD-SETUP-US", "RBCMD-FAIL-", "RBCMD-FAIL--X", "RBCMD-FAIL-X-", "RBCMD-FAIL-DEAD_PIXELS",
    "RBCMD-IMAGE-", "RBOP-", "RBOP-0", "RBOP-07", "RBOP-7X", "RBOP-1-2", "RBCMD UNDO", "RBCMDUNDO",
    "RB-000142-J", "", "UNDO",
])
def test_what_is_not_a_card(code):
    assert parse_card(code) is None


def test_unknown_cards_still_look_like_cards():
    """The station must not look an unknown card up as a device (and offer to register it)."""
    assert looks_like_card("RBCMD-FOO") and looks_like_card("rbop-x")
    assert not looks_like_card("RB-000142-J") and not looks_like_card("RBCM-UNDO")


@pytest.mark.parametrize("card", [
    Card("command", "GRADE", "D"), Card("command", "UNDO", "X"), Card("command", "FAIL", "keyboard"),
    Card("command", "FAIL"), Card("badge", "OPERATOR", "0"), Card("badge", "UNDO"), Card("sticker", "UNDO"),
    Card("command", "DIGIPUNT", "007"),
])
def test_card_code_refuses_what_no_station_understands(card):
    with pytest.raises(ValueError, match="not a station card"):
        card_code(card)


def test_badge():
    assert badge(7) == Card("badge", "OPERATOR", "7")
    assert card_code(badge("12")) == "RBOP-12"


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_ ", max_size=40))
@example("RBCMD-FAIL-DEAD-PIXELS")
@example("rbop-42")
def test_a_parsed_card_prints_back_to_its_code(text):
    card = parse_card(text)
    if card is not None:
        assert card_code(card) == text.strip().upper()


@given(st.text(max_size=60))
def test_parse_card_never_crashes(text):
    parse_card(text)


class _Place:
    def __init__(self, id, name):
        self.id, self.name = id, name


def test_all_command_cards_covers_every_word_and_the_catalogue():
    laptop, tablet = catalog.load_checklist("laptop"), catalog.load_checklist("tablet")
    images = catalog.load_images()
    items = laptop.items + tablet.items
    cards = all_command_cards(items, images, [_Place(3, "Gent Zuid"), (12, "Brugge")])
    by_card = dict(cards)
    assert len(by_card) == len(cards)  # no duplicates, though "screen" is in both checklists
    assert {c.word for c in by_card} == {"MODE", "UNDO", "DONE", "ALLOK", "GRADE", "COND", "FAIL", "IMAGE",
                                         "DIGIPUNT", "SETUP"}
    assert [c.arg for c, _label in cards if c.word == "MODE"] == list(MODES)
    fail_args = {c.arg for c in by_card if c.word == "FAIL"}
    assert fail_args == {item.id.upper() for item in items}
    assert {c.arg for c in by_card if c.word == "IMAGE"} == {image_id.upper() for image_id in images}
    assert by_card[Card("command", "FAIL", "DEAD-PIXELS")] == "Fails: No dead pixels or lines"
    assert by_card[Card("command", "IMAGE", "LINUX-MINT")] == "Image: Linux Mint (Cinnamon)"
    assert by_card[Card("command", "DIGIPUNT", "3")] == "Digipunt: Gent Zuid"
    assert by_card[Card("command", "DIGIPUNT", "12")] == "Digipunt: Brugge"
    assert by_card[Card("command", "GRADE", "A")] == "Grade A"
    assert by_card[Card("command", "SETUP", "BE")] == "Scanner set-up reminder: Belgian AZERTY"
    assert cards[0] == (Card("command", "MODE", "INTAKE"), "Station mode: intake")
    for card, label in cards:
        assert parse_card(card_code(card)) == card
        assert label


def test_all_command_cards_without_a_catalogue_and_with_plain_ids():
    words = [c.word for c, _label in all_command_cards()]
    assert "FAIL" not in words and "IMAGE" not in words and "DIGIPUNT" not in words
    assert len(all_command_cards()) == len(MODES) + 3 + 3 + 3 + 4
    cards = dict(all_command_cards(["keyboard"], ["windows-11"], [5]))
    assert cards[Card("command", "FAIL", "KEYBOARD")] == "Fails: keyboard"
    assert Card("command", "IMAGE", "WINDOWS-11") in cards and Card("command", "DIGIPUNT", "5") in cards


def test_all_command_cards_refuses_an_id_that_cannot_be_a_card():
    with pytest.raises(ValueError):
        all_command_cards(["dead_pixels"])


# ---------------------------------------------------------------------------------------------- layouts


def test_the_issue_example():
    assert type_as("be-azerty", "0013748911") == "àà&\"è'!ç&&"
    assert repair("be-azerty", "àà&\"è'!ç&&") == "0013748911"
    assert layout_repairs("àà&\"è'!ç&&") == [("be-azerty", "0013748911"), ("fr-azerty", "001374/911")]


@pytest.mark.parametrize(("layout", "us", "typed"), [
    # Belgian AZERTY: the digit row, shifted and not; A↔Q, Z↔W, M right of L; the punctuation keys
    ("be-azerty", "`1234567890-=", "²&é\"'(§è!çà)-"),
    ("be-azerty", "~!@#$%^&*()_+", "³1234567890°_"),
    ("be-azerty", "aqzwm;AQZWM:", "qawz,mQAWZ?M"),
    ("be-azerty", ",./<>?", ";:=./+"),
    ("be-azerty", "]}'\"\\|", "$*ù%µ£"),
    ("be-azerty", "[e{e[q[ ", "êëâ^"),  # dead ^ and ¨ compose; before a space the accent itself
    ("be-azerty", "[x", "^x"),  # nothing to compose with: the accent, then the letter
    ("be-azerty", "RB-000142-J", "RB)ààà&'é)J"),
    # French AZERTY: same letters, a different digit row and punctuation
    ("fr-azerty", "1234567890-=", "&é\"'(-è_çà)="),
    ("fr-azerty", "!@#$%^&*()_+", "1234567890°+"),
    ("fr-azerty", "m;,./", ",m;:!"),
    ("fr-azerty", "<>?]}\\|", "./§$£*µ"),
    # German QWERTZ: Y↔Z, ß and dead ´ right of the digits, umlauts, # and the shifted digit row
    ("de-qwertz", "yzYZ", "zyZY"),
    ("de-qwertz", "-_", "ß?"),
    ("de-qwertz", "=e+e=a=", "éèá´"),
    ("de-qwertz", "[;'{:\"", "üöäÜÖÄ"),
    ("de-qwertz", "]}\\|", "+*#'"),
    ("de-qwertz", "!@#$%^&*()", "!\"§$%&/()="),
    ("de-qwertz", "/?<>", "-_;:"),
    ("de-qwertz", "~`o", "°ô"),
    # UK: only " @ # ~ £ ¬ move
    ("uk-qwerty", "\"@", "@\""),
    ("uk-qwerty", "#\\|~`", "£#~¬`"),
    ("uk-qwerty", "RB-000142-J", "RB-000142-J"),
])
def test_known_mappings(layout, us, typed):
    assert type_as(layout, us) == typed
    if " " not in us and not us.endswith(("=", "[", "`")):  # a dead key before a space or at the end is ambiguous
        assert repair(layout, typed) == us


def test_a_dead_key_alone_repairs_to_its_key():
    assert repair("be-azerty", "^") == "[" and repair("de-qwertz", "´") == "="


def test_repair_refuses_what_the_layout_cannot_type():
    assert repair("de-qwertz", "àà") == "+a+a"  # dead ` then a
    assert repair("de-qwertz", "ç") is None
    assert repair("uk-qwerty", "é") is None
    assert repair("be-azerty", "ß") is None


def test_a_repair_must_change_something_and_each_text_comes_once():
    assert layout_repairs("hello") == []  # the same from every layout
    assert layout_repairs("") == []
    typed_on_fr = type_as("fr-azerty", "RB-000142-J")
    assert typed_on_fr == type_as("be-azerty", "RB-000142-J")
    # BE and FR agree here; the text is offered once, under the first layout (Belgium first).
    assert [r for _l, r in layout_repairs(typed_on_fr)].count("RB-000142-J") == 1
    assert layout_repairs(typed_on_fr)[0] == ("be-azerty", "RB-000142-J")


def test_unknown_layout_and_untypable_text():
    with pytest.raises(ValueError, match="unknown keyboard layout"):
        type_as("us-dvorak", "x")
    with pytest.raises(ValueError, match="unknown keyboard layout"):
        setup_hint("nl")
    with pytest.raises(ValueError, match="cannot type"):
        type_as("be-azerty", "é")


prefixes = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=6)
numbers = st.integers(min_value=0, max_value=999_998)


@st.composite
def our_tags(draw):
    prefix, number = draw(prefixes), draw(numbers)
    tag = tags.make(prefix, tags.next_number(prefix, number))
    return tag if draw(st.booleans()) else tag.replace("-", "")


@given(our_tags(), st.sampled_from(LAYOUTS))
@example("RB-000142-J", "be-azerty")
@example("QAZWMY-013748-T", "fr-azerty")
def test_every_tag_repairs_back_from_every_layout(tag, layout):
    tags.parse(tag)  # a valid tag
    typed = type_as(layout, tag)
    assert repair(layout, typed) == tag
    repairs = [r for _l, r in layout_repairs(typed)]
    assert (tag in repairs) != (typed == tag)  # offered exactly when the layout changed it
    if typed != tag:
        with pytest.raises((tags.TagError, tags.CheckMismatch)):
            tags.parse(typed)  # a mangled tag is never mistaken for another tag as it is


def _every_card_code():
    items = catalog.load_checklist("laptop").items + catalog.load_checklist("phone").items
    cards = all_command_cards(items, catalog.load_images(), [(1, "a"), (23, "b"), (999, "c")])
    return [card_code(card) for card, _label in cards] + ["RBOP-1", "RBOP-7", "RBOP-4096"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_card_repairs_back_from_every_layout(layout):
    codes = _every_card_code()
    assert len(codes) > 30
    for code in codes:
        typed = type_as(layout, code)
        assert repair(layout, typed) == code
        assert parse_card(typed) is None or typed == code  # no card turns into another card
        if typed != code:
            assert code in [r for _l, r in layout_repairs(typed)]


@given(st.text(alphabet=string.ascii_letters + string.digits + "-", max_size=30), st.sampled_from(LAYOUTS))
def test_alphanumerics_repair_back(text, layout):
    assert repair(layout, type_as(layout, text)) == text


_DEAD_US_KEYS = "[{`=+"


@given(st.text(alphabet=string.printable[:95], max_size=30), st.sampled_from(LAYOUTS))
def test_any_printable_ascii_repairs_back(text, layout):
    """Everything a US scanner types comes back, except a dead key before a space or at the very end
    (`[ ` and `[` both give `^`): no code of ours has those keys."""
    typed = type_as(layout, text)
    ambiguous = any(text[i] in _DEAD_US_KEYS and (i + 1 == len(text) or text[i + 1] == " ") for i in range(len(text)))
    if not ambiguous:
        assert repair(layout, typed) == text


@given(st.text(max_size=40))
def test_layout_repairs_never_crash(text):
    found = layout_repairs(text)
    assert [layout for layout, _r in found] == [layout for layout in LAYOUTS if layout in dict(found)]
    assert len({r for _l, r in found}) == len(found) and text not in {r for _l, r in found}


# Which of our formats survive a layout unchanged (the module docstring's table).

@given(our_tags())
def test_uk_changes_no_tag(tag):
    assert type_as("uk-qwerty", tag) == tag


@pytest.mark.parametrize("layout", ["be-azerty", "fr-azerty", "de-qwertz"])
def test_no_card_survives_azerty_or_qwertz_unchanged(layout):
    assert all(type_as(layout, code) != code for code in _every_card_code())


def test_uk_changes_no_card():
    assert all(type_as("uk-qwerty", code) == code for code in _every_card_code())


@given(our_tags())
def test_what_survives_german(tag):
    survives = type_as("de-qwertz", tag) == tag
    assert survives == ("-" not in tag and not set(tag) & set("YZ"))


@given(our_tags(), st.sampled_from(["be-azerty", "fr-azerty"]))
def test_no_tag_survives_azerty(tag, layout):
    assert type_as(layout, tag) != tag


@given(st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=12), st.sampled_from(["be-azerty", "fr-azerty"]))
def test_letters_survive_azerty_unless_they_moved(word, layout):
    assert (type_as(layout, word) == word) == (not set(word) & set("AQZWM"))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_setup_hint_names_the_layout_and_its_card(layout):
    card = setup_layout_card(layout)
    assert SETUP_LAYOUTS[card.arg] == layout
    hint = setup_hint(layout)
    assert card_code(card) in hint
    assert {"be-azerty": "Belgian AZERTY", "fr-azerty": "French AZERTY", "de-qwertz": "German QWERTZ",
            "uk-qwerty": "UK QWERTY"}[layout] in hint
    assert "US QWERTY" in hint


# ---------------------------------------------------------------------------------------------- serials


@pytest.mark.parametrize(("scan", "forms"), [
    # Lenovo since 2013: 1S + type (4) + model (6) + serial (8)
    ("1S20L5CTO1WWPF1ABC23", ["1S20L5CTO1WWPF1ABC23", "PF1ABC23"]),
    ("1s20l5cto1wwpf1abc23", ["1s20l5cto1wwpf1abc23", "1S20L5CTO1WWPF1ABC23", "PF1ABC23"]),
    # older: 1S + type (4) + model (3) + serial (7)
    ("1S2516CTOR8ABCDE", ["1S2516CTOR8ABCDE", "R8ABCDE"]),
    # other lengths: the last 8, then 7 characters
    ("1S20L5CPF1ABC23", ["1S20L5CPF1ABC23", "PF1ABC23", "F1ABC23"]),
    # Dell service tag as it is; express service code → service tag (Creativyst's pair)
    ("7XK2HQ2", ["7XK2HQ2"]),
    ("12542331601", ["12542331601", "5RFDP01"]),
    ("125-423-316-01", ["125-423-316-01", "5RFDP01"]),
    # HP and others: label prefixes
    ("S/N: 5CG1234ABC", ["S/N: 5CG1234ABC", "5CG1234ABC"]),
    ("S/N5CG1234ABC", ["S/N5CG1234ABC", "5CG1234ABC"]),
    ("SN:ABC123", ["SN:ABC123", "ABC123"]),
    ("Serial No.: X12", ["Serial No.: X12", "SERIAL NO.: X12", "X12"]),
    ("Service Tag: 7xk2hq2", ["Service Tag: 7xk2hq2", "SERVICE TAG: 7XK2HQ2", "7xk2hq2", "7XK2HQ2"]),
    ("SNAKE123", ["SNAKE123"]),  # a serial that starts with SN keeps it
    # GS1: AI 21 is the serial
    ("(01)09506000134352(21)ABC123", ["(01)09506000134352(21)ABC123", "ABC123"]),
    ("010950600013435221ABC123\x1d10LOT7", ["010950600013435221ABC123\x1d10LOT7", "ABC123"]),
    ("0109506000134352\x1d10LOT7\x1d21XYZ", ["0109506000134352\x1d10LOT7\x1d21XYZ", "XYZ"]),
])
def test_serial_forms(scan, forms):
    assert serial_forms(scan) == forms


def test_gs1_needs_a_valid_gtin_or_a_separator():
    """Without GS, only a real GTIN makes a digit string GS1: a serial that happens to start with 01 stays one."""
    assert serial_forms("010950600013435321ABC") == ["010950600013435321ABC"]  # GTIN check digit wrong


def test_dell_express_service_code_round_trip():
    assert dell_express_code("5RFDP01") == "12542331601"
    assert dell_express_code("5rfdp01") == "12542331601"
    assert dell_service_tags("12542331601") == ["5RFDP01"]
    assert dell_service_tags("123456") == []  # too short for an express code
    assert dell_service_tags("3359232") == ["20000", "0020000"]  # a 5-character tag (or a 7 with zeros)
    assert dell_service_tags(str(36**7)) == []  # more than a 7-character tag holds
    with pytest.raises(ValueError):
        dell_express_code("5RFDP0")


@given(st.text(alphabet=string.digits + string.ascii_uppercase, min_size=7, max_size=7))
def test_every_service_tag_comes_back_from_its_express_code(tag):
    code = dell_express_code(tag)
    assert tag in serial_forms(code) or len(code) < 7  # tags starting with 000 have short codes


@given(st.text(alphabet=string.digits + string.ascii_uppercase, min_size=5, max_size=5).filter(lambda t: t[0] != "0"))
def test_five_character_service_tags(tag):
    assert dell_service_tags(dell_express_code(tag))[0] == tag


@given(st.text(max_size=60))
def test_serial_forms_never_crash(text):
    forms = serial_forms(text)
    assert len(forms) == len(set(forms)) and all(forms)
    if text.strip():
        assert forms[0] == text.strip()


# ---------------------------------------------------------------------------------------------- IMEI

VALID_IMEI = "490154203237518"  # the worked Luhn example for IMEIs


def test_imei_luhn():
    assert is_imei(VALID_IMEI)
    for i in range(15):
        for d in "0123456789":
            if d != VALID_IMEI[i]:
                wrong = VALID_IMEI[:i] + d + VALID_IMEI[i + 1:]
                assert not is_imei(wrong) and normalise_imei(wrong) is None, wrong


@pytest.mark.parametrize("scan", [
    "490154203237518", "IMEI:490154203237518", "IMEI: 490154203237518", "imei 490154203237518",
    "IMEI1: 490154203237518", "IMEI 2: 490154203237518", "49-015420-323751-8", "49 015420 323751 8",
])
def test_imei_forms(scan):
    assert is_imei(scan)
    assert normalise_imei(scan) == VALID_IMEI


@pytest.mark.parametrize("scan", ["4901542032375104", "IMEISV: 4901542032375104", "IMEI/SV 49015420323751-04"])
def test_imeisv_gives_the_imei(scan):
    assert normalise_imei(scan) == VALID_IMEI
    assert not is_imei(scan)


@pytest.mark.parametrize("scan", [
    "49015420323751", "4901542032375180", "49015420323751X", "IMEI 1490154203237518", "", "IMEI:",
    "490154203237518/01", "49--015420323751-8",
])
def test_not_imeis(scan):
    assert not is_imei(scan)


def test_a_sixteen_digit_scan_is_never_checked_as_luhn_alone():
    assert normalise_imei("4901542032375180") == VALID_IMEI  # IMEISV: the last two digits are a version


@given(st.text(max_size=40))
def test_imei_never_crashes(text):
    imei = normalise_imei(text)
    assert imei is None or (len(imei) == 15 and is_imei(imei))


# ---------------------------------------------------------------------------------------------- MAC


@pytest.mark.parametrize("scan", [
    "a4:bb:6d:01:2f:3c", "A4:BB:6D:01:2F:3C", "a4-bb-6d-01-2f-3c", "a4bb.6d01.2f3c", "A4BB6D012F3C",
    "MAC: a4:bb:6d:01:2f:3c", "WLAN MAC A4BB6D012F3C", "Wi-Fi MAC Address: a4-bb-6d-01-2f-3c", "  a4bb6d012f3c ",
])
def test_mac_forms(scan):
    assert normalise_mac(scan) == "A4:BB:6D:01:2F:3C"


@pytest.mark.parametrize("scan", [
    "a4:bb-6d:01:2f:3c", "a4:bb:6d:01:2f", "a4bb6d012f3", "a4bb6d012f3c0", "g4bb6d012f3c", "a4bb.6d01.2f3",
    "a4:bb:6d:01:2f:3c:00", "000000000000", "ff:ff:ff:ff:ff:ff", "MAC:", "", "a4b.b6d.012.f3c",
])
def test_not_macs(scan):
    assert normalise_mac(scan) is None


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ".", ""]), st.booleans())
def test_mac_round_trip(raw, sep, upper):
    hexdigits = raw.hex().upper() if upper else raw.hex()
    if sep == ".":
        text = ".".join(hexdigits[i:i + 4] for i in range(0, 12, 4))
    else:
        text = sep.join(hexdigits[i:i + 2] for i in range(0, 12, 2))
    expected = ":".join(raw.hex().upper()[i:i + 2] for i in range(0, 12, 2))
    assert normalise_mac(text) == (None if raw in (bytes(6), b"\xff" * 6) else expected)
