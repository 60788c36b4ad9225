"""Bad input everywhere (issue 7 item 4): every parser and the station meet random input and answer with
a RefurbError (one line, a location) or a result, never another exception, never a partial write."""

import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refurb import catalog, config, labels, manifest, scanning
from refurb.errors import RefurbError

FUZZ = settings(max_examples=int(os.environ.get("REFURB_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# TOML-ish text: keys, tables, arrays and values of the right and wrong kinds, so the validators are reached
TOML_BITS = st.sampled_from([
    "id = ", "version = ", "name = ", "[page]\n", "[label]\n", "[grid]\n", "[[element]]\n", "type = ",
    "width_mm = ", "height_mm = ", "columns = ", "rows = ", "[levels]\n", "media = ", "method = ",
    "standard = ", "[tool]\n", "commands = ", "[policy]\n", "min_level = ", "[report]\n", "database_url = ",
    '"x"', "1", "-3", "1e999", "true", "[]", '["hdd"]', "{}", '"NIST SP 800-88 Rev.1"', '"{device}"', "\n",
    '"qr"', '"code128"', '"text"', '"{tag}"', "0.0", "nan", '"clear"', '"purge"', "=", "[", "]", '"',
])
TOML = st.lists(TOML_BITS, max_size=40).map("".join) | st.text(max_size=300)


def write(tmp_path_factory, name, data):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


@FUZZ
@given(text=TOML)
def test_label_templates_fail_cleanly(tmp_path_factory, text):
    path = write(tmp_path_factory, "fuzzed.toml", text)
    try:
        labels.load_template(path)
    except RefurbError as exc:
        assert "\n" not in exc.message and "fuzzed.toml" in exc.message


@FUZZ
@given(text=TOML)
def test_wipe_profiles_fail_cleanly(tmp_path_factory, text):
    path = write(tmp_path_factory, "fuzzed.toml", text)
    try:
        catalog.load_profile(path)
    except RefurbError as exc:
        assert "\n" not in exc.message and "fuzzed.toml" in exc.message


@FUZZ
@given(text=TOML)
def test_config_files_fail_cleanly(tmp_path_factory, text):
    path = write(tmp_path_factory, "config.toml", text)
    try:
        config.read_config_file(path)
    except RefurbError as exc:
        assert "config.toml" in exc.message


CELLS = st.sampled_from(["Serial", "Serienummer", "Asset Tag", "Model", "Merk", "E-mail", "6.37702E+15",
                         "PF1ABC23", "", " ", '"', '""', "é", "\ufeff", "Type", "laptop", "0", "x" * 300])
ROWS = st.lists(st.lists(CELLS, max_size=6), max_size=12)
SEPARATORS = st.sampled_from([",", ";", "\t", "|"])
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@FUZZ
@given(rows=ROWS, sep=SEPARATORS, end=ENDINGS, encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
def test_manifests_fail_cleanly(tmp_path_factory, rows, sep, end, encoding):
    text = end.join(sep.join(row) for row in rows)
    path = write(tmp_path_factory, "list.csv", text.encode(encoding, "replace"))
    try:
        found = manifest.read(path, keep=False)
    except RefurbError as exc:
        assert "\n" not in exc.message
    else:
        assert found.sha256 and found.format == "csv"


@FUZZ
@given(data=st.binary(max_size=2000))
def test_manifests_of_random_bytes_fail_cleanly(tmp_path_factory, data):
    path = write(tmp_path_factory, "list.csv", data)
    try:
        manifest.read(path, keep=False)
    except RefurbError as exc:
        assert "\n" not in exc.message


SCANNER_JUNK = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list(string.printable + "\x00\x1b\x7f")),
                       max_size=300)


@FUZZ
@given(raw=SCANNER_JUNK)
def test_scans_are_cleaned_or_rejected(raw):
    try:
        text = scanning.clean(raw)
    except ValueError as exc:
        assert str(exc)
    else:
        assert len(text) <= scanning.MAX_LENGTH and "\n" not in text and "\x00" not in text


@pytest.fixture
def station(ctx):
    from refurb import services
    from refurb.station import Station

    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    services.register_device(ctx, "B1", "laptop", "HP", "ProBook", "CND4286ZJ2")
    return Station(ctx, "lookup")


def test_scanner_garbage_is_one_refused_scan_each(station, ctx):
    from refurb import services

    before = services.verify_audit(ctx).events
    junk = ["\x00\x01\x02", "A" * 10_000_000, "RB-0000\udcff01", "\x1b[31mRB-000001-0", "\ufffd\ufffd",
            "line\nbreak", "\u202e10-100000-BR", "\ue000private"]
    outcomes = [station.handle(raw) for raw in junk]
    assert [o.ok for o in outcomes if o is not None] == [False] * len([o for o in outcomes if o is not None])
    assert all(len(o.message.splitlines()) == 1 for o in outcomes if o is not None)
    assert services.verify_audit(ctx).events == before  # nothing written


OPTIONS = st.lists(st.sampled_from(["--json", "--batch", "B1", "--kind", "toaster", "--serial", "", "--due",
                                    "31/02/2027", "--at", "gisteren", "--count", "-1", "--format", "docx",
                                    "--template", "../../etc/passwd", "--skip", "99999", "--copies", "0",
                                    "--language", "de", "RB-000001-X", "\x00", "--digipunt", "Nowhere"]),
                   max_size=6)
COMMANDS = [["intake", "add"], ["loan", "out"], ["allocate"], ["export", "stock"], ["labels", "print"],
            ["report", "certificate"], ["wipe", "record"], ["intake", "manifest"], ["loan", "overdue"],
            ["labels", "preview"], ["show"], ["list"]]


@FUZZ
@given(command=st.sampled_from(COMMANDS), options=OPTIONS)
def test_commands_never_show_a_traceback(cli, ctx, command, options):
    r = cli(*command, *options)
    assert r.exit_code in (0, 1, 2, 3, 4, 5, 6), (command, options, r.output)
    assert "Traceback" not in r.output and "internal-error" not in (r.stderr or "")
