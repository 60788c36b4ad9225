"""lshw -json, dmidecode and upower -i: what refurb reads in the real files of ../shared/external (issue 4).

Every expected value below was read by hand from the file itself (serials, sizes in bytes, capacities).
"""

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refurb.evidence import hardware

EXTERNAL = Path(__file__).resolve().parents[1].parent / "shared" / "external"
MY_KINDS = ("lshw", "dmidecode", "upower")
PARSE = {kind: parse for kind, _sniff, parse in hardware.PARSERS}
SNIFF = {kind: sniff for kind, sniff, _parse in hardware.PARSERS}
OTHER_MODULES = all((Path(hardware.__file__).parent / f"{m}.py").exists() for m in ("smart", "erasure"))

needs_external = pytest.mark.skipif(not EXTERNAL.is_dir(), reason=f"shared files not found at {EXTERNAL}")
needs_dispatcher = pytest.mark.skipif(
    not OTHER_MODULES, reason="refurb/evidence/smart.py and erasure.py do not exist yet: parse_file cannot import"
)


def files(*tops, exclude=()):
    if not EXTERNAL.is_dir():
        return []
    found = []
    for path in sorted(EXTERNAL.rglob("*")):
        rel = path.relative_to(EXTERNAL)
        if path.is_file() and path.name != "MANIFEST.md" and (not tops or rel.parts[0] in tops):
            if rel.parts[0] not in exclude:
                found.append(rel.as_posix())
    return found


def read(rel):
    return (EXTERNAL / rel).read_bytes().decode("utf-8", errors="replace")


def kind_of(rel):
    return rel.split("/")[0]


# ------------------------------------------------------------------------- what each real file says

TEMPLATE_BATTERY = "gives no design capacity: not shown"

EXPECTED = {
    # ---- lshw -json
    "lshw/devicehub-django/9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.lshw.json": {
        "device": {"make": "LENOVO", "model": "Lenovo V330-15IKB", "machine_type": "81AX", "serial": "R90X1FA4",
                   "kind": "laptop"},
        "media": [{"serial": "50026B768305483D", "model": "KINGSTON SA400S3", "size_bytes": 240057409536,
                   "device": "/dev/sda"}],
    },
    "lshw/devicehub-django/7aa682aa-77c5-43a5-91e4-1ef9a2736156.lshw.json": {
        "device": {"make": "LENOVO", "model": "Lenovo G560", "machine_type": "0679", "serial": "2426481202607",
                   "kind": "laptop"},
        # the DVD writer and the empty USB card reader are not storage media
        "media": [{"serial": "1651150FC220", "model": "Crucial_CT275MX3", "size_bytes": 275064201216,
                   "device": "/dev/sda"}],
    },
    "lshw/devicehub-django/946fd30b-68f7-425f-aca4-1ae39a86d353.lshw.json": {
        "device": {"make": "Hewlett-Packard", "model": "HP Compaq Pro 4300 SFF PC", "serial": "MXL3451GTT",
                   "kind": "desktop"},
        "media": [{"serial": "S2AJ3XHB", "model": "ST500DM002-1BD14", "size_bytes": 500107862016,
                   "device": "/dev/sda"}],
    },  # its "power" node is a power supply ("Standard Efficiency", 32768 mWh), not a battery
    "lshw/devicehub-django/8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d.lshw.json": {
        "device": {"make": "Acer", "model": "Aspire A315-53", "serial": "NXH9KAL0079150DA7D3400", "kind": "laptop"},
        "media": [{"serial": "192267801547", "model": "WDC WDS240G2G0A-", "size_bytes": 240065183744,
                   "device": "/dev/sda"}],
    },
    "lshw/devicehub-django/snapshot_workbench-script_legacy.lshw.json": {
        "device": {"make": "Dell Inc.", "model": "Latitude E7240", "serial": "5CQ6VY1", "kind": "laptop"},
        "media": [
            {"serial": "TW0XXM305508539G1361", "model": "LITEONIT LMT-256", "size_bytes": 256060514304,
             "device": "/dev/sda"},
            {"serial": "S33HNX0J203755R", "model": "Samsung SSD 850", "size_bytes": 500107862016,
             "device": "/dev/sdb"},
        ],
    },
    "lshw/devicehub-teal/2022-03-31_17h18m51s_ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot.lshw.json": {
        "device": {"make": "LENOVO", "model": "ThinkPad X1 Carbon 5th", "machine_type": "20HRCTO1WW",
                   "serial": "PF0QMY5N", "kind": "laptop"},
        # serial and model sit on the NVMe controller, the size on its namespace
        "media": [{"serial": "S35ANX0J401001", "model": "SAMSUNG MZVLW1T0HMLH-000L7", "type": "nvme",
                   "size_bytes": 1024209543168, "device": "/dev/nvme0n1"}],
        "battery": {"make": "LGC", "model": "01AV429", "design_capacity_wh": 57.0},
    },
    "lshw/devicehub-teal/desktop-amd-bug-no-sn.lshw.json": {
        "device": {"kind": "desktop"},  # "System manufacturer" / "System Serial Number" are placeholders
        "media": [
            {"serial": "AA00000000000485", "model": "Transcend 2GB", "type": "removable", "size_bytes": 2013265920,
             "device": "/dev/sdb"},
            {"serial": "VD051GTF024B4L", "model": "HDT722520DLAT80", "size_bytes": 200048565760,
             "device": "/dev/sda"},
        ],
    },
    # lshw printed children without `"children": [`, commas or closing braces: read after repairing
    "lshw/devicehub-teal/2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.lshw.json": {
        "device": {"make": "QEMU", "model": "Standard PC (i440FX + PIIX, 1996)"},
        "media": [{"serial": "QM00001", "model": "QEMU HARDDISK", "size_bytes": 42949673472, "device": "/dev/sda"}],
    },
    # ---- dmidecode
    "dmidecode/devicehub-django/9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.dmidecode.txt": {
        "device": {"make": "LENOVO", "model": "Lenovo V330-15IKB", "machine_type": "81AX", "serial": "R90X1FA4",
                   "kind": "laptop"},
    },  # its Portable Battery is the Intel BIOS template ("Smart Battery", serial 1.0, capacity Unknown)
    "dmidecode/devicehub-django/7aa682aa-77c5-43a5-91e4-1ef9a2736156.dmidecode.txt": {
        "device": {"make": "LENOVO", "model": "Lenovo G560", "machine_type": "0679", "serial": "2426481202607",
                   "kind": "laptop"},
    },
    "dmidecode/devicehub-django/946fd30b-68f7-425f-aca4-1ae39a86d353.dmidecode.txt": {
        "device": {"make": "Hewlett-Packard", "model": "HP Compaq Pro 4300 SFF PC", "serial": "MXL3451GTT",
                   "kind": "desktop"},
    },
    "dmidecode/devicehub-django/8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d.dmidecode.txt": {
        "device": {"make": "Acer", "model": "Aspire A315-53", "serial": "NXH9KAL0079150DA7D3400", "kind": "laptop"},
    },
    "dmidecode/devicehub-django/snapshot_workbench-script_legacy.dmidecode.txt": {
        "device": {"make": "Dell Inc.", "model": "Latitude E7240", "serial": "5CQ6VY1", "kind": "laptop"},
    },
    "dmidecode/devicehub-teal/2022-03-31_17h18m51s_ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot.dmidecode.txt": {
        "device": {"make": "LENOVO", "model": "ThinkPad X1 Carbon 5th", "machine_type": "20HRCTO1WW",
                   "serial": "PF0QMY5N", "kind": "laptop"},
        "battery": {"make": "LGC", "model": "01AV429", "serial": "0431", "design_capacity_wh": 57.0},
    },
    "dmidecode/devicehub-teal/2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.dmidecode.txt": {
        "device": {"make": "QEMU", "model": "Standard PC (i440FX + PIIX, 1996)", "kind": "other"},
    },
    "dmidecode/devicehub-teal/desktop-amd-bug-no-sn.dmidecode.txt": {"device": {"kind": "desktop"}},
    "dmidecode/glpi-agent/batteries-upower-dmidecode_2.txt": {
        "device": {"make": "Dell Inc.", "model": "XPS 13 9350", "serial": "D0JHP72", "kind": "laptop"},
        "battery": {"make": "SMP", "model": "DELL JHXPY53", "serial": "0E62", "design_capacity_wh": 57.53},
    },
    "dmidecode/glpi-agent/lenovo-thinkpad.txt": {
        "device": {"make": "LENOVO", "model": "ThinkPad Edge E320", "machine_type": "1298A8G", "serial": "LR9NKZ7",
                   "kind": "laptop"},
    },
    "dmidecode/glpi-agent/linux-2.6.txt": {
        "device": {"make": "Dell Inc.", "model": "Latitude D610", "serial": "D8XD62J", "kind": "laptop"},
        "battery": {"make": "Samsung SDI", "model": "DELL C129563", "serial": "7734", "design_capacity_wh": 48.0},
    },
    "dmidecode/glpi-agent/surface-go-2.txt": {
        "device": {"make": "Microsoft Corporation", "model": "Surface Go 2", "serial": "48368130c2f8",
                   "kind": "tablet"},
    },
    "dmidecode/glpi-agent/windows-xp.txt": {  # CRLF line endings
        "device": {"make": "Dell Inc.", "model": "Precision M4400", "serial": "HLG964J", "kind": "laptop"},
        "battery": {"make": "SMP", "model": "DELL HJ59008", "serial": "02C7", "design_capacity_wh": 84.0},
    },
    # ---- upower -i
    "upower/github-issues/upower-geokb-yabar-157-dell-xps15.txt": {
        "battery": {"make": "SMP", "model": "DELL 1P6KD54", "serial": "550", "design_capacity_wh": 83.9952,
                    "full_capacity_wh": 83.9952, "health_percent": 100.0},
    },
    "upower/github-issues/upower-tmux-battery-30-lgc-00HW002-commadecimal.txt": {
        "battery": {"make": "LGC", "model": "00HW002", "serial": "2598", "design_capacity_wh": 50.22,
                    "full_capacity_wh": 46.97, "health_percent": 93.5},
    },
    "upower/glpi-agent/infos_1.txt": {  # serial "0" is a placeholder, no vendor line
        "battery": {"model": "G71C000G7210", "design_capacity_wh": 51.504, "full_capacity_wh": 39.264,
                    "health_percent": 76.2},
    },
    "upower/glpi-agent/infos_2.txt": {
        "battery": {"make": "SMP", "model": "DELL JHXPY53", "serial": "3682", "design_capacity_wh": 57.532,
                    "full_capacity_wh": 53.4052, "health_percent": 92.8},
    },
    "upower/glpi-agent/infos_4.1.txt": {
        "battery": {"make": "SMP-COS3.66", "model": "DELL XDY9K16", "serial": "3829", "design_capacity_wh": 54.0,
                    "full_capacity_wh": 54.0, "health_percent": 100.0},
    },
    "upower/glpi-agent/infos_4.2.txt": {},  # a Logitech mouse, not the computer's battery
    "upower/glpi-agent/enumerate_2.txt": {},  # a device list, no capacities
}

# Warnings the file must produce (a substring each); other files may warn too.
EXPECTED_WARNINGS = {
    "lshw/devicehub-django/7aa682aa-77c5-43a5-91e4-1ef9a2736156.lshw.json": [
        "no medium in Multi-Card (/dev/sdb): skipped", "'CRB Battery 0' is a firmware template"],
    "lshw/devicehub-django/9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.lshw.json": [TEMPLATE_BATTERY],
    "lshw/devicehub-teal/desktop-amd-bug-no-sn.lshw.json": ["no system serial number"],
    "lshw/devicehub-teal/2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.lshw.json": [
        "lshw wrote broken JSON (Expecting ',' delimiter at line 19): read after repairing it"],
    "dmidecode/devicehub-django/9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.dmidecode.txt": [TEMPLATE_BATTERY],
    "dmidecode/glpi-agent/lenovo-thinkpad.txt": [TEMPLATE_BATTERY],
    "dmidecode/glpi-agent/surface-go-2.txt": ["chassis says 'Laptop'"],
    "dmidecode/devicehub-teal/desktop-amd-bug-no-sn.dmidecode.txt": ["'System Serial Number'"],
    "upower/glpi-agent/infos_4.1.txt": ["upower reports capacity 88.2222%"],
    "upower/github-issues/upower-geokb-yabar-157-dell-xps15.txt": ["upower reports capacity 96.4848%"],
    "upower/glpi-agent/infos_4.2.txt": ["'Anywhere MX' is a keyboard (power supply: no)"],
    "upower/glpi-agent/enumerate_2.txt": ["lists 4 devices (1 batteries)"],
}


@needs_external
def test_every_shared_file_of_my_kinds_has_expectations():
    assert set(files(*MY_KINDS)) == set(EXPECTED)


@needs_external
@pytest.mark.parametrize("rel", files(*MY_KINDS) or ["(none)"])
def test_real_file(rel):
    text, kind = read(rel), kind_of(rel)
    assert [k for k, sniff, _p in hardware.PARSERS if sniff(text, Path(rel).name)] == [kind]
    expected = EXPECTED[rel]
    found = PARSE[kind](text, Path(rel).name)
    facts = {key: value for key, value in found.items() if key not in ("warnings", "specs")}  # specs: own test
    if kind == "lshw":
        expected = {"media": [], **expected}
    assert facts == expected
    assert all(isinstance(w, str) and "\n" not in w for w in found["warnings"])
    for needle in EXPECTED_WARNINGS.get(rel, []):
        assert any(needle in w for w in found["warnings"]), (needle, found["warnings"])
    json.dumps(found)  # JSON-ready


@needs_external
@pytest.mark.parametrize("rel", files(exclude=MY_KINDS) or ["(none)"])
def test_files_of_other_kinds_are_not_claimed_and_do_not_crash_my_parsers(rel):
    text = read(rel)
    assert [k for k, sniff, _p in hardware.PARSERS if sniff(text, Path(rel).name)] == []
    for parse in PARSE.values():
        try:
            parse(text, Path(rel).name)
        except ValueError:
            pass


@needs_external
@needs_dispatcher
@pytest.mark.parametrize("rel", files() or ["(none)"])
def test_parse_file_on_every_shared_file(rel):
    from refurb.evidence import parse_file

    result = parse_file(EXTERNAL / rel)
    assert result["file"] == str(EXTERNAL / rel)
    json.dumps(result)
    if kind_of(rel) in MY_KINDS:
        assert result["kind"] == kind_of(rel)
        assert "error" not in result


@needs_external
@needs_dispatcher
@pytest.mark.parametrize("rel", files(*MY_KINDS) or ["(none)"])
def test_no_other_parser_claims_my_files(rel):
    from refurb.evidence import _parsers

    text = read(rel)
    claims = [kind for kind, sniff, _parse in _parsers() if sniff(text, Path(rel).name)]
    assert claims == [kind_of(rel)]


# ------------------------------------------------------------------------- behaviour on made-up input


def test_upower_localised_decimal_comma():
    text = (
        "  native-path:          BAT0\n  vendor:               ACME\n  model:                X1\n"
        "  serial:               00000000\n  power supply:         yes\n  battery\n    present:             yes\n"
        "    energy-full:         45,2 Wh\n    energy-full-design:  56,5 Wh\n    capacity:            80%\n"
    )
    assert hardware.sniff_upower(text, "u.txt")
    found = hardware.parse_upower(text, "u.txt")
    assert found["battery"] == {"make": "ACME", "model": "X1", "design_capacity_wh": 56.5, "full_capacity_wh": 45.2,
                                "health_percent": 80.0}
    assert found["warnings"] == []


def test_upower_without_full_capacity_gives_no_health():
    text = "native-path: BAT0\npower supply: yes\nbattery\n  energy-full-design:  50 Wh\n"
    assert hardware.parse_upower(text, "u.txt")["battery"] == {"design_capacity_wh": 50.0}


def test_lshw_list_form_and_placeholders():
    data = [{
        "id": "pc", "class": "system", "vendor": "To Be Filled By O.E.M.", "product": "Default string",
        "serial": "0123456789", "configuration": {"chassis": "mini-tower"},
        "children": [{"id": "core", "class": "bus", "children": [
            {"id": "nvme", "class": "storage", "product": "WD PC SN530", "serial": "21144M801234",
             "configuration": {"driver": "nvme"}, "businfo": "pci@0000:01:00.0"},
            {"id": "mmc", "class": "disk", "businfo": "mmc@0:0001", "logicalname": "/dev/mmcblk0", "serial": "0x1d2",
             "size": 62537072640, "units": "bytes", "product": "DA4064"},
        ]}],
    }]
    text = json.dumps(data)
    assert hardware.sniff_lshw(text, "x.json")
    found = hardware.parse_lshw(text, "x.json")
    assert found["device"] == {"kind": "desktop"}
    assert found["media"] == [
        {"serial": "21144M801234", "model": "WD PC SN530", "type": "nvme"},  # older lshw: no namespace, no size
        {"serial": "0x1d2", "model": "DA4064", "type": "emmc", "size_bytes": 62537072640, "device": "/dev/mmcblk0"},
    ]


def test_lshw_json_that_cannot_be_repaired_is_an_error_for_that_file():
    text = '{"id" : "pc", "class" : "system", "serial" : "AB12'
    with pytest.raises(ValueError, match="not valid lshw JSON"):
        hardware.parse_lshw(text, "x.json")


@needs_external
def test_cut_off_lshw_is_an_error_not_a_repair():
    text = read("lshw/devicehub-django/snapshot_workbench-script_legacy.lshw.json")
    cut = text[: text.index('"id" : "disk:1"')]  # the second disk is lost
    with pytest.raises(ValueError, match="not valid lshw JSON"):
        hardware.parse_lshw(cut, "x.json")


def test_dmidecode_without_smbios_is_an_error_with_the_reason():
    text = "# dmidecode 3.4\n# No SMBIOS nor DMI entry point found, sorry.\n"
    assert hardware.sniff_dmidecode(text, "d.txt")
    with pytest.raises(ValueError, match="No SMBIOS nor DMI entry point found"):
        hardware.parse_dmidecode(text, "d.txt")


def test_dmidecode_falls_back_to_chassis_serial_and_says_so():
    text = (
        "Handle 0x0001, DMI type 1, 27 bytes\nSystem Information\n\tManufacturer: ACME\n\tProduct Name: T1\n"
        "\tSerial Number: Not Specified\n\nHandle 0x0003, DMI type 3, 22 bytes\nChassis Information\n"
        "\tType: Tablet\n\tSerial Number: CH-42\n"
    )
    found = hardware.parse_dmidecode(text, "d.txt")
    assert found["device"] == {"make": "ACME", "model": "T1", "serial": "CH-42", "kind": "tablet"}
    assert any("chassis record: CH-42" in w for w in found["warnings"])


# ------------------------------------------------------------------------- random and truncated input


def _only_value_error(parse, text):
    try:
        found = parse(text, "random.txt")
    except ValueError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return
    assert isinstance(found, dict) and isinstance(found["warnings"], list)
    json.dumps(found)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_never_raises_anything_but_value_error(text):
    for _kind, sniff, parse in hardware.PARSERS:
        assert sniff(text, "random.txt") in (True, False)
        _only_value_error(parse, text)


LINE_STARTS = ["Handle 0x0001, DMI type 1, 27 bytes", "Handle 0x0016, DMI type 22, 26 bytes", "System Information",
               "Portable Battery", "Chassis Information", "\tDesign Capacity: ", "\tType: ", "\tSerial Number: ",
               "native-path: ", "  battery", "  keyboard", "    energy-full: ", "    energy-full-design: ",
               "power supply: ", "History (rate):", "/org/freedesktop/UPower/devices/battery_BAT0", ""]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LINE_STARTS), st.text(max_size=12)), max_size=30))
def test_line_shaped_noise_never_raises_anything_but_value_error(lines):
    text = "\n".join(start + rest for start, rest in lines)
    for _kind, _sniff, parse in hardware.PARSERS:
        _only_value_error(parse, text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["id", "class", "children", "size", "units", "serial", "product", "vendor", "capacity",
                         "businfo", "logicalname", "configuration", "capabilities", "description", "driver",
                         "chassis", "sku"]),
        children | st.sampled_from(["system", "disk", "storage", "power", "battery", "nvme", "usb@1", "bytes",
                                    "mWh", "/dev/sda", "nvme@0:1", "removable"]),
        max_size=8,
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_lshw_shaped_json_never_raises_anything_but_value_error(value):
    _only_value_error(hardware.parse_lshw, json.dumps(value))
    _only_value_error(hardware.parse_lshw, json.dumps({"id": "x", "class": "system", "children": [value]}))


@needs_external
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(files(*MY_KINDS) or ["(none)"]), st.floats(0, 1))
def test_truncated_real_files_never_raise_anything_but_value_error(rel, fraction):
    text = read(rel)
    _only_value_error(PARSE[kind_of(rel)], text[: int(len(text) * fraction)])


@needs_dispatcher
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_parse_file_never_crashes_on_random_bytes(raw):
    from refurb.evidence import parse_file

    fd, name = tempfile.mkstemp(suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        result = parse_file(name)
    finally:
        os.unlink(name)
    assert result["file"] == name and ("kind" in result or "error" in result)
    json.dumps(result)
