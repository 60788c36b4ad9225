"""smartctl --json and eReuse Workbench snapshots (issue 4 item 2): refurb/evidence/smart.py.

Facts below were read by hand from the real files in ../shared/external/smartctl and
../shared/external/ereuse-snapshots (their MANIFEST.md rows): serials, user_capacity.bytes,
power_on_time.hours, smart_status.passed, the wear counters and the dmidecode System/Chassis sections.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refurb.evidence import smart

EXTERNAL = Path(__file__).resolve().parents[1].parent / "shared" / "external"
needs_files = pytest.mark.skipif(not EXTERNAL.is_dir(), reason=f"the shared tool outputs are not at {EXTERNAL}")
PARSE = {kind: (sniff, parse) for kind, sniff, parse in smart.PARSERS}
HAVE_OTHER_MODULES = all(
    (Path(smart.__file__).parent / f"{name}.py").exists() for name in ("hardware", "erasure")
)
# A Workbench 11 snapshot whose disks carry EraseBasic actions; it sits in erasure/ but is a snapshot all the
# same, and smart.py reports its device, media and erasures (see the report for issue 4).
ERASURE_SNAPSHOT = "erasure/devicehub-teal/erase-sectors-2-hdd.snapshot.yaml"


def shared(folder):
    root = EXTERNAL / folder
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def rel(path):
    return path.relative_to(EXTERNAL).as_posix()


def run(kind, relpath):
    text = (EXTERNAL / relpath).read_text(encoding="utf-8")
    sniff, parse = PARSE[kind]
    assert sniff(text, Path(relpath).name), f"{kind} does not recognise {relpath}"
    return parse(text, Path(relpath).name)


def medium(serial=None, model=None, type=None, size=None, passed=None, hours=None, wear=None):
    found = {k: v for k, v in (("serial", serial), ("model", model), ("type", type), ("size_bytes", size)) if v}
    health = {k: v for k, v in (("smart_passed", passed), ("power_on_hours", hours), ("wear_percent", wear))
              if v is not None}
    if health:
        found["health"] = health
    return found


SMARTCTL = {
    "smartctl/devicehub-django/7aa682aa-77c5-43a5-91e4-1ef9a2736156.smartctl-0.json":
        medium("1651150FC220", "Crucial_CT275MX300SSD1", "sata-ssd", 275064201216, True, 1564, 1),
    "smartctl/devicehub-django/8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d.smartctl-0.json":
        medium("192267801547", "WDC WDS240G2G0A-00JH30", "sata-ssd", 240065183744, True, 5332, 4),
    "smartctl/devicehub-django/946fd30b-68f7-425f-aca4-1ae39a86d353.smartctl-0.json":
        medium("S2AJ3XHB", "ST500DM002-1BD142", "hdd", 500107862016, True, 42593),
    "smartctl/devicehub-django/9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.smartctl-0.json":
        medium("50026B768305483D", "KINGSTON SA400S37240G", "sata-ssd", 240057409536, True, 28797, 15),
    # no power_on_time and no attribute 9 in this file: hours stay unknown
    "smartctl/devicehub-django/snapshot_workbench-script_legacy.smartctl-0.json":
        medium("TW0XXM305508539G1361", "LITEONIT LMT-256M6M mSATA 256GB", "sata-ssd", 256060514304, True, None, 0),
    "smartctl/devicehub-django/snapshot_workbench-script_legacy.smartctl-1.json":
        medium("S33HNX0J203755R", "Samsung SSD 850 EVO mSATA 500GB", "sata-ssd", 500107862016, True, 17703, 22),
    "smartctl/devicehub-teal/2022-03-31_17h18m51s_ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot.smartctl-0.json":
        medium("S35ANX0J401001", "SAMSUNG MZVLW1T0HMLH-000L7", "nvme", 1024209543168, True, 6032, 2),
    # a QEMU disk says neither rotation rate nor family: its type is not invented
    "smartctl/devicehub-teal/2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.smartctl-1.json":
        medium("QM00001", "QEMU HARDDISK", None, 42949673472, True, 1),
    # rotation_rate absent; smartctl's database names the family "Hitachi Deskstar T7K250"
    "smartctl/devicehub-teal/desktop-amd-bug-no-sn.smartctl-1.json":
        medium("VD051GTF024B4L", "HDT722520DLAT80", "hdd", 200048565760, True, 19819),
    "smartctl/scrutiny/smart-ata-full.json":
        medium("S3YZNB0KB00864E", "Samsung SSD 860 EVO 500GB", "sata-ssd", 500107862016, True, 14551, 19),
    # behind a JMicron USB bridge, but the inner drive is known (7200 rpm): an hdd, not "removable"
    "smartctl/scrutiny/smart-fail2.json":
        medium("MSK423Y20S3HBC", "Hitachi HDS721050DLE630", "hdd", 500107862016, False, 65592),
    "smartctl/scrutiny/smart-nvme.json":
        medium("BTNH93710FS91P0B", "INTEL SSDPEKNW010T8", "nvme", 1024209543168, True, 2401, 0),
    # serials "REDACTED" by the exporter's authors count as missing
    "smartctl/smartctl_exporter/HP_73.4G_MAS3735NC_25.json":
        medium(None, "HP 73.4G MAS3735NC", "hdd", 73407865856, True),
    "smartctl/smartctl_exporter/KXG60ZNV512G_TOSHIBA_2.json":
        medium(None, "KXG60ZNV512G TOSHIBA", "nvme", 512110190592, True, 12173, 1),
    "smartctl/smartctl_exporter/ST3500418AS_11.json":
        medium(None, "ST3500418AS", "hdd", 500107862016, True, 44670),
    "smartctl/smartctl_exporter/WDC_WD20EFRX-68EUZN0_17.json":
        medium(None, "WDC WD20EFRX-68EUZN0", "hdd", 2000398934016, True, 47657),
    # no user_capacity: nvme_total_capacity is the size
    "smartctl/smartctl_exporter/nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json":
        medium(None, "SAMSUNG MZWLL3T2HAJQ-00005", "nvme", 3200631791616, False, 18376, 0),
    "smartctl/smartctl_exporter/nvme-null-Samsung_SSD_970_EVO_Plus_250GB-nvme0.json":
        medium(None, "Samsung SSD 970 EVO Plus 250GB", "nvme", 250059350016, True, 3149, 0),
    "smartctl/smartctl_exporter/sat-Phison_Driven_SSDs-KINGSTON_SA400M8120G-sda.json":
        medium(None, "KINGSTON SA400M8120G", "sata-ssd", 120034123776, True, 4994, 2),
}
SMARTCTL_ERRORS = {
    "smartctl/devicehub-django/7aa682aa-77c5-43a5-91e4-1ef9a2736156.smartctl-1.json": "Unknown USB bridge [0x0bda",
    "smartctl/devicehub-django/snapshot_workbench-script_legacy.smartctl-2.json": "/dev/zd0: Unable to detect",
    "smartctl/devicehub-teal/2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.smartctl-0.json":
        "/dev/fd0: Unable to detect device type",
    "smartctl/devicehub-teal/desktop-amd-bug-no-sn.smartctl-0.json": "/dev/fd0: Unable to detect device type",
    "smartctl/devicehub-teal/desktop-amd-bug-no-sn.smartctl-2.json": "Unknown USB bridge [0x8564:0x1000",
    "smartctl/scrutiny/smart-fail.json": "PhysicalDrive0: Open failed, Error=5",
}
DJANGO = "ereuse-snapshots/devicehub-django/"
TEAL = "ereuse-snapshots/devicehub-teal/"
E7240_MEDIA = [
    SMARTCTL["smartctl/devicehub-django/snapshot_workbench-script_legacy.smartctl-0.json"],
    SMARTCTL["smartctl/devicehub-django/snapshot_workbench-script_legacy.smartctl-1.json"],
]
SNAPSHOTS = {
    DJANGO + "7aa682aa-77c5-43a5-91e4-1ef9a2736156.json": (
        {"make": "LENOVO", "model": "Lenovo G560", "serial": "2426481202607", "kind": "laptop"},
        [SMARTCTL["smartctl/devicehub-django/7aa682aa-77c5-43a5-91e4-1ef9a2736156.smartctl-0.json"]],
        None,  # "Design Capacity: Unknown"; lshw's "power" node with 75 mWh is not a battery
    ),
    DJANGO + "8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d.json": (
        {"make": "Acer", "model": "Aspire A315-53", "serial": "NXH9KAL0079150DA7D3400", "kind": "laptop"},
        [SMARTCTL["smartctl/devicehub-django/8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d.smartctl-0.json"]],
        None,
    ),
    DJANGO + "946fd30b-68f7-425f-aca4-1ae39a86d353.json": (
        {"make": "Hewlett-Packard", "model": "HP Compaq Pro 4300 SFF PC", "serial": "MXL3451GTT", "kind": "desktop"},
        [SMARTCTL["smartctl/devicehub-django/946fd30b-68f7-425f-aca4-1ae39a86d353.smartctl-0.json"]],
        None,  # lshw's power supply ("Standard Efficiency", 32768 mWh) is no battery
    ),
    DJANGO + "9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.json": (
        {"make": "LENOVO", "model": "Lenovo V330-15IKB", "serial": "R90X1FA4", "kind": "laptop"},
        [SMARTCTL["smartctl/devicehub-django/9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4.smartctl-0.json"]],
        None,
    ),
    DJANGO + "snapshot_workbench-script_legacy.json": (
        {"make": "Dell Inc.", "model": "Latitude E7240", "serial": "5CQ6VY1", "kind": "laptop"}, E7240_MEDIA, None,
    ),
    # workbench-script 0.0.1: the same machine, smartctl as one JSON string; the Samsung reads 17702 h there
    DJANGO + "snapshot_workbench-script.json": (
        {"make": "Dell Inc.", "model": "Latitude E7240", "serial": "5CQ6VY1", "kind": "laptop"},
        [E7240_MEDIA[0], {**E7240_MEDIA[1], "health": {**E7240_MEDIA[1]["health"], "power_on_hours": 17702}}],
        None,
    ),
    TEAL + "2022-03-31_17h18m51s_ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot.json": (
        {"make": "LENOVO", "model": "ThinkPad X1 Carbon 5th", "serial": "PF0QMY5N", "kind": "laptop"},
        [SMARTCTL[
            "smartctl/devicehub-teal/2022-03-31_17h18m51s_ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot.smartctl-0.json"
        ]],
        {"design_capacity_wh": 57.0},  # dmidecode "Design Capacity: 57000 mWh"
    ),
    TEAL + "2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.json": (
        {"make": "QEMU", "model": "Standard PC (i440FX + PIIX, 1996)", "kind": "other"},
        [SMARTCTL[
            "smartctl/devicehub-teal/2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.smartctl-1.json"
        ]],
        None,
    ),
    # "System manufacturer" / "System Product Name" / "System Serial Number": placeholders, all missing
    TEAL + "desktop-amd-bug-no-sn.json": (
        {"kind": "desktop"}, [SMARTCTL["smartctl/devicehub-teal/desktop-amd-bug-no-sn.smartctl-1.json"]], None,
    ),
    # Workbench 11: parsed device/components, sizes in MB, TestDataStorage.lifetime in hours
    DJANGO + "hp_probook_450.json": (
        {"make": "Hewlett-Packard", "model": "HP ProBook 450 G2", "serial": "CND4286ZJ2", "kind": "laptop"},
        [medium("S3P9A80F", "ST500LT012-1DG14", "hdd", 500107862016, True, 8627)],
        None,
    ),
}


@needs_files
def test_the_tables_cover_every_shared_file():
    assert set(SMARTCTL) | set(SMARTCTL_ERRORS) == {rel(p) for p in shared("smartctl")}
    assert set(SNAPSHOTS) == {rel(p) for p in shared("ereuse-snapshots")}


@needs_files
@pytest.mark.parametrize("relpath", sorted(SMARTCTL))
def test_smartctl_file_gives_its_drive(relpath):
    found = run("smartctl", relpath)
    assert found["media"] == [SMARTCTL[relpath]]
    assert set(found) <= {"media", "warnings"}


@needs_files
@pytest.mark.parametrize("relpath", sorted(SMARTCTL_ERRORS))
def test_smartctl_error_output_is_a_warning_not_a_drive(relpath):
    found = run("smartctl", relpath)
    assert found["media"] == []
    assert len(found["warnings"]) == 1 and SMARTCTL_ERRORS[relpath] in found["warnings"][0]


@needs_files
def test_failing_drive_behind_usb_bridge_says_why():
    warnings = run("smartctl", "smartctl/scrutiny/smart-fail2.json")["warnings"]
    assert "Hitachi HDS721050DLE630 read through a USB bridge (usbjmicron)" in warnings
    assert "MSK423Y20S3HBC: SMART overall health FAILED" in warnings
    assert "MSK423Y20S3HBC: 1975 reallocated sectors" in warnings
    assert "MSK423Y20S3HBC: 8 pending sectors" in warnings


@needs_files
def test_nvme_critical_warning_is_reported():
    found = run("smartctl", "smartctl/smartctl_exporter/nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json")
    assert "SAMSUNG MZWLL3T2HAJQ-00005: NVMe critical warning 0x10" in found["warnings"]


@needs_files
def test_usb_bridge_with_unknown_inner_drive_is_removable():
    doc = json.loads((EXTERNAL / "smartctl/scrutiny/smart-fail2.json").read_text())
    for key in ("rotation_rate", "model_family", "form_factor"):
        doc.pop(key)
    doc["model_name"] = "JMS578 bridge"
    found = smart.parse_smartctl(json.dumps(doc), "x.json")
    assert found["media"][0]["type"] == "removable"
    assert found["media"][0]["serial"] == "MSK423Y20S3HBC"


@needs_files
@pytest.mark.parametrize("relpath", sorted(SNAPSHOTS))
def test_snapshot_gives_device_media_battery(relpath):
    device, media, battery = SNAPSHOTS[relpath]
    found = run("ereuse-snapshot", relpath)
    assert found.get("device") == device
    assert found["media"] == media
    assert found.get("battery") == battery


@needs_files
def test_snapshot_warnings_name_unreadable_parts():
    qemu = run("ereuse-snapshot", TEAL + "2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot.json")
    assert "lshw output in the snapshot is not valid JSON" in qemu["warnings"]
    amd = run("ereuse-snapshot", TEAL + "desktop-amd-bug-no-sn.json")
    assert any("Unknown USB bridge [0x8564:0x1000" in w for w in amd["warnings"])


@needs_files
def test_workbench11_erasures_per_drive_serial():
    probook = run("ereuse-snapshot", DJANGO + "hp_probook_450.json")
    assert probook["erasures"] == [{
        "serial": "S3P9A80F", "method": "EraseSectors (zero+random)", "passes": 2, "result": "pass",
        "start": "2022-01-13T09:34:39.026634+00:00", "end": "2022-01-13T14:13:09.338771+00:00", "level": "clear",
    }]
    two = run("ereuse-snapshot", ERASURE_SNAPSHOT)
    assert [(e["serial"], e["passes"], e["result"], e["level"]) for e in two["erasures"]] == [
        ("WD-WCAV29008961", 1, "pass", "clear"), ("WD-WCAV27984668", 1, "pass", "clear"),
    ]
    assert [(m["serial"], m["size_bytes"], m["health"]) for m in two["media"]] == [
        ("WD-WCAV29008961", 320072581120, {"smart_passed": False, "power_on_hours": 24658}),
        ("WD-WCAV27984668", 320072581120, {"smart_passed": True, "power_on_hours": 21979}),
    ]
    assert "WD-WCAV29008961: self-test Completed: read failure" in two["warnings"]


def test_workbench11_erase_step_error_is_a_failure():
    snapshot = {
        "type": "Snapshot", "software": "Workbench", "version": "11.0", "device": {"type": "Laptop"},
        "components": [{"type": "SolidStateDrive", "serialNumber": "S1", "actions": [
            {"type": "EraseBasic", "severity": "Info", "steps": [{"type": "StepZero", "severity": "Error"}]},
        ]}],
    }
    found = smart.parse_snapshot(json.dumps(snapshot), "s.json")
    assert found["erasures"][0]["result"] == "fail"
    assert found["media"] == [{"serial": "S1", "type": "sata-ssd"}]


@pytest.mark.parametrize("serial", ["To Be Filled By O.E.M.", "0000000000", "REDACTED", "  "])
def test_placeholder_drive_serial_counts_as_missing(serial):
    doc = {"json_format_version": [1, 0], "smartctl": {"version": [7, 3]}, "device": {"protocol": "NVMe"},
           "model_name": "X", "serial_number": serial}
    assert "serial" not in smart.parse_smartctl(json.dumps(doc), "x.json")["media"][0]


@pytest.mark.parametrize("kind", sorted(PARSE))
@pytest.mark.parametrize("text", ["", "{", "[]", '{"json_format_version": [1]}', '{"type": "Snapshot"}', "null"])
def test_broken_file_is_a_valueerror(kind, text):
    with pytest.raises(ValueError):
        PARSE[kind][1](text, "broken.json")


@needs_files
@pytest.mark.parametrize("path", shared(""), ids=rel)
def test_sniffers_claim_only_their_own_folder(path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    claims = {kind for kind, (sniff, _) in PARSE.items() if sniff(text, path.name)}
    if rel(path).startswith("smartctl/"):
        assert claims == {"smartctl"}
    elif rel(path).startswith("ereuse-snapshots/") or rel(path) == ERASURE_SNAPSHOT:
        assert claims == {"ereuse-snapshot"}
    else:
        assert claims == set()


@needs_files
@pytest.mark.skipif(not HAVE_OTHER_MODULES, reason="hardware.py and erasure.py are not written yet")
@pytest.mark.parametrize("path", shared(""), ids=rel)
def test_parse_file_never_crashes_on_shared_files(path):
    from refurb.evidence import parse_file

    found = parse_file(path)
    assert found["file"] == str(path)
    assert "kind" in found or "error" in found
    json.dumps(found)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
SMART_KEYS = ["device", "model_name", "serial_number", "user_capacity", "rotation_rate", "smart_status",
              "power_on_time", "ata_smart_attributes", "nvme_smart_health_information_log",
              "ata_device_statistics", "nvme_namespaces", "nvme_total_capacity", "form_factor", "smartctl",
              "scsi_vendor", "scsi_product", "model_family", "scsi_grown_defect_list"]
DATA_KEYS = ["smart", "smartctl", "lshw", "dmidecode"]


def check(kind, text):
    sniff, parse = PARSE[kind]
    sniff(text, "f.json")
    try:
        found = parse(text, "f.json")
    except ValueError:
        return
    assert isinstance(found["media"], list)
    json.dumps(found)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PARSE)), st.text())
def test_random_text_only_valueerror(kind, text):
    check(kind, text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(SMART_KEYS), json_values))
def test_smartctl_with_odd_values_never_crashes(fields):
    check("smartctl", json.dumps({"json_format_version": [1, 0], "smartctl": {}, **fields}))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(DATA_KEYS), json_values), json_values, json_values)
def test_snapshot_with_odd_values_never_crashes(data, device, components):
    check("ereuse-snapshot", json.dumps({"type": "Snapshot", "data": data}))
    check("ereuse-snapshot", json.dumps({"type": "Snapshot", "device": {"type": device}, "components": components}))
    if isinstance(components, list):
        storage = [{"type": "HardDrive", "actions": components, "size": device, "serialNumber": device}]
        check("ereuse-snapshot", json.dumps({"type": "Snapshot", "device": {}, "components": storage}))


REAL = [p for p in shared("smartctl") + shared("ereuse-snapshots") if p.stat().st_size < 400_000]


@needs_files
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(REAL or [Path("/nonexistent")]), st.floats(0, 1))
def test_truncated_real_files_only_valueerror(path, cut):
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    for kind in PARSE:
        check(kind, text[: int(len(text) * cut)])
