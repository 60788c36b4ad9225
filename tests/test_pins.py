"""Lead actions need a lead who proves it with a PIN (issue 7 item 3); only a slow salted hash is kept."""

from sqlalchemy import select

from refurb import pins, services
from refurb.models import Operator


def test_a_pin_is_kept_as_a_salted_scrypt_hash():
    a, b = pins.hash_pin("2718"), pins.hash_pin("2718")
    assert a != b and a.startswith("scrypt$16384$8$1$") and "2718" not in a
    assert pins.check_pin("2718", a) and pins.check_pin("2718", b)
    assert not pins.check_pin("2719", a) and not pins.check_pin("", a) and not pins.check_pin("2718", "garbage")
    assert [pins.valid(p) for p in ("123", "1234", "123456789012", "1234567890123", "12a4", "")] == [
        False, True, True, False, False, False]


def test_a_lead_action_asks_for_the_pin(cli, ctx, monkeypatch):
    monkeypatch.delenv("REFURB_PIN")
    r = cli("operator", "add", "Bram", "--role", "lead")
    assert r.exit_code == 1 and "needs Sara's PIN" in r.stderr and "REFURB_PIN" in r.stderr
    monkeypatch.setenv("REFURB_PIN", "0000")
    r = cli("operator", "add", "Bram", "--role", "lead")
    assert r.exit_code == 1 and "wrong PIN for Sara" in r.stderr
    assert [o["name"] for o in services.list_operators(ctx)] == ["Sara"]  # nothing happened
    monkeypatch.setenv("REFURB_PIN", "2718")
    assert cli("operator", "add", "Bram", "--role", "lead").exit_code == 0


def test_a_new_lead_sets_a_first_pin_then_needs_it(cli, ctx, monkeypatch):
    services.add_operator(ctx, "Bram", "lead")
    monkeypatch.delenv("REFURB_PIN")
    r = cli("operator", "add", "Lies", "--role", "lead", "--operator", "Bram")
    assert r.exit_code == 1 and "Bram has none yet" in r.stderr and "refurb operator pin Bram" in r.stderr
    monkeypatch.setenv("REFURB_NEW_PIN", "31415")
    assert cli("operator", "pin", "Bram", "--operator", "Bram").exit_code == 0  # trust on first use
    r = cli("operator", "pin", "Bram", "--operator", "Bram")  # a change needs the current PIN
    assert r.exit_code == 1 and "needs the current one" in r.stderr
    services.add_operator(ctx, "Jonas", "volunteer")
    r = cli("operator", "pin", "Bram", "--operator", "Jonas")
    assert r.exit_code == 1 and "needs a lead" in r.stderr
    monkeypatch.setenv("REFURB_PIN", "31415")
    assert cli("operator", "add", "Lies", "--role", "lead", "--operator", "Bram").exit_code == 0
    with services.reading(ctx) as s:
        stored = s.exec(select(Operator.pin_hash).where(Operator.name == "Bram")).scalar_one()
    assert pins.check_pin("31415", stored) and "31415" not in stored


def test_bad_new_pins_are_refused(cli, ctx, monkeypatch):
    for bad in ("12", "abcd", "1234567890123"):
        monkeypatch.setenv("REFURB_NEW_PIN", bad)
        r = cli("operator", "pin", "Sara")
        assert r.exit_code == 2 and "4 to 12 digits" in r.stderr
    monkeypatch.delenv("REFURB_NEW_PIN")
    r = cli("operator", "pin", "Sara")  # no terminal to type it at
    assert r.exit_code == 2 and "REFURB_NEW_PIN" in r.stderr
