"""Erasure evidence parsers (issue 4 item 2) against the real files in ../shared/external/erasure."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refurb.evidence import erasure

EXTERNAL = Path(__file__).resolve().parents[1].parent / "shared" / "external"
ERASURE = EXTERNAL / "erasure"
PARSERS = {kind: (sniff, parse) for kind, sniff, parse in erasure.PARSERS}
EVIDENCE = Path(erasure.__file__).parent
OTHER_MODULES = (EVIDENCE / "hardware.py").exists() and (EVIDENCE / "smart.py").exists()

needs_files = pytest.mark.skipif(not ERASURE.is_dir(), reason="../shared/external/erasure not present")

# Every erasure file and the kind its parser must claim it as.
KINDS = {
    "nwipe-github-issues/nwipe-issue21-v0.14-2016.fragment.log": "nwipe-log",
    "nwipe-github-issues/nwipe-issue444-3drives-summary.fragment.log": "nwipe-log",
    "nwipe-github-issues/nwipe-pr223-smbios-header-80col.fragment.log": "nwipe-log",
    "nwipe-github-issues/nwipe-pr325-loop44-summary.fragment.log": "nwipe-log",
    "nwipe-github-issues/nwipe-pr722-prng-sdb-v0.40dev.fragment.log": "nwipe-log",
    "nwipe-local-debian/nwipe_log_dodshort_verifyall.txt": "nwipe-log",
    "nwipe-local-debian/nwipe_log_zero_verifylast.txt": "nwipe-log",
    "nvme-cli-github-issues/nvme-sanitize-log-nvme-cli-1784-SSDPEKNW512G8.txt": "nvme-sanitize-log",
    "hdparm-github-issues/hdparm-I-security-section-TKperf-29.fragment.txt": "hdparm",
    "usody-sanitize/2023-07-22_120312E2M3121K00UN6S.json": "usody-sanitize",
    # a full Workbench snapshot: sniffed as a snapshot (smart.py); its erase actions parse here
    "devicehub-teal/erase-sectors-2-hdd.snapshot.yaml": "ereuse-erasure",
}


def read(rel):
    path = ERASURE / rel
    if not path.exists():
        pytest.skip(f"{rel} not in the shared set")
    return path.read_text(encoding="utf-8", errors="replace"), path.name


def parse(rel):
    text, name = read(rel)
    return PARSERS[KINDS[rel]][1](text, name)


def all_shared_files():
    if not EXTERNAL.is_dir():
        return []
    return sorted(p for p in EXTERNAL.rglob("*") if p.is_file() and p.name != "MANIFEST.md")


@needs_files
def test_every_erasure_file_is_listed_here():
    on_disk = {str(p.relative_to(ERASURE)) for p in ERASURE.rglob("*") if p.is_file()}
    assert on_disk == set(KINDS)


@needs_files
@pytest.mark.parametrize("rel", sorted(KINDS))
def test_each_file_is_sniffed_as_its_own_kind_only(rel):
    text, name = read(rel)
    claimed = [kind for kind, sniff, _ in erasure.PARSERS if sniff(text, name)]
    expected = [] if rel.startswith("devicehub-teal/") else [KINDS[rel]]
    assert claimed == expected


@needs_files
@pytest.mark.parametrize("rel", sorted(KINDS))
def test_each_file_parses_to_json_with_known_values(rel):
    found = parse(rel)
    json.dumps(found)
    assert set(found) <= {"device", "media", "erasures", "warnings"}
    for entry in found.get("erasures", []):
        assert entry.get("result", "pass") in ("pass", "fail", "aborted")
        assert entry.get("level", "clear") in ("clear", "purge", "destroy")
        assert entry.get("serial") is None or entry["serial"] == erasure.real_serial(entry["serial"])
    for medium in found.get("media", []):
        assert medium.get("type", "hdd") in ("hdd", "sata-ssd", "nvme", "emmc", "removable", "embedded")
        assert isinstance(medium.get("size_bytes", 0), int)
    assert all(isinstance(w, str) and "\n" not in w for w in found.get("warnings", []))


# ------------------------------------------------------------------------------ nwipe, complete runs


@needs_files
def test_nwipe_zero_verify_last_complete_run():
    found = parse("nwipe-local-debian/nwipe_log_zero_verifylast.txt")
    assert found["erasures"] == [
        {
            "path": "/dev/loop0",
            "method": "Fill With Zeros",
            "passes": 1,
            "verification": "last",
            "start": "2026-11-27T07:53:16",
            "result": "pass",
            "end": "2026-11-27T07:53:17",
            "level": "clear",
        }
    ]
    # S/N=XXXXXXXXXXXXXXX is a placeholder: no serial anywhere, and a warning says to match by hand
    assert found["media"] == [{"model": "Loopback device", "size_bytes": 50331648, "path": "/dev/loop0"}]
    assert any("no drive serial" in w and "/dev/loop0" in w for w in found["warnings"])


@needs_files
def test_nwipe_dodshort_two_drives_verify_all():
    found = parse("nwipe-local-debian/nwipe_log_dodshort_verifyall.txt")
    assert [e["path"] for e in found["erasures"]] == ["/dev/loop1", "/dev/loop2"]
    for entry in found["erasures"]:
        assert entry["method"] == "DoD Short"
        assert entry["passes"] == 3
        assert entry["verification"] == "all"
        assert entry["result"] == "pass"
        assert entry["start"] == "2026-11-27T07:53:19"
        assert entry["end"] == "2026-11-27T07:53:21"
        assert "serial" not in entry
    assert [m["size_bytes"] for m in found["media"]] == [50331648, 50331648]


# ----------------------------------------------------------------------------------- nwipe fragments


@needs_files
def test_nwipe_old_014_format_fragment_has_no_result():
    found = parse("nwipe-github-issues/nwipe-issue21-v0.14-2016.fragment.log")
    assert found["media"] == [{"size_bytes": 600127266816, "path": "/dev/sdb"}]
    [entry] = found["erasures"]
    assert entry["method"] == "PRNG Stream"
    assert entry["passes"] == 1
    assert entry["start"] == "2016-08-18T15:41:48"
    assert "result" not in entry  # ends at "Blanking device": never a pass
    assert any("/dev/sdb" in w and "no result" in w for w in found["warnings"])


@needs_files
def test_nwipe_three_drive_fragment_without_status_rows():
    found = parse("nwipe-github-issues/nwipe-issue444-3drives-summary.fragment.log")
    assert sorted(e["path"] for e in found["erasures"]) == ["/dev/sda", "/dev/sdb", "/dev/sdc"]
    assert all("result" not in e and e["passes"] == 1 for e in found["erasures"])
    assert "media" not in found  # "bytes written" is not a capacity


@needs_files
def test_nwipe_80_column_header_drops_cut_serial_and_placeholder_system_serial():
    found = parse("nwipe-github-issues/nwipe-pr223-smbios-header-80col.fragment.log")
    assert found["device"] == {"make": "MEDION", "model": "X681X"}
    assert found["media"] == [{"model": "WDC WD1600AAJS-2", "path": "/dev/sdc"}]
    assert "erasures" not in found
    assert any("serial number cut off" in w for w in found["warnings"])


@needs_files
def test_nwipe_summary_fragment_with_status_row_is_a_pass():
    found = parse("nwipe-github-issues/nwipe-pr325-loop44-summary.fragment.log")
    [entry] = found["erasures"]
    assert entry["path"] == "/dev/loop44"
    assert entry["result"] == "pass"
    assert entry["passes"] == 1
    assert entry["start"] == "2021-06-04T21:41:12"
    assert entry["end"] == "2021-06-04T21:41:13"


@needs_files
def test_nwipe_040dev_fragment_takes_size_from_geometry_lines():
    found = parse("nwipe-github-issues/nwipe-pr722-prng-sdb-v0.40dev.fragment.log")
    assert found["media"] == [{"size_bytes": 256060514304, "path": "/dev/sdb"}]
    [entry] = found["erasures"]
    assert entry["method"] == "PRNG Stream"
    assert "result" not in entry


# Variants derived from the real Debian log: the outcomes nwipe prints in its Drive Status table.
def _debian_variant(old, new):
    text, _ = read("nwipe-local-debian/nwipe_log_zero_verifylast.txt")
    assert old in text
    return erasure.parse_nwipe(text.replace(old, new), "variant.txt")


@needs_files
def test_nwipe_user_abort_is_aborted():
    found = _debian_variant("| Erased |", "| UABORTED |")
    assert found["erasures"][0]["result"] == "aborted"


@needs_files
def test_nwipe_failed_status_is_fail():
    found = _debian_variant("| Erased |", "| -FAILED- |")
    assert found["erasures"][0]["result"] == "fail"


@needs_files
def test_nwipe_error_counts_turn_erased_into_fail():
    found = _debian_variant(
        "     loop0 |           0 |                    0 |",
        "     loop0 |           2 |                    0 |",
    )
    assert found["erasures"][0]["result"] == "fail"
    assert any("2 pass/verification/sync errors" in w for w in found["warnings"])


@needs_files
def test_nwipe_real_serial_is_used():
    found = _debian_variant("S/N=XXXXXXXXXXXXXXX", "S/N=WD-WCAV29008961")
    # "has serial number XXXXXXXXXXXXXXX" (placeholder) must not override the real one
    assert found["erasures"][0]["serial"] == "WD-WCAV29008961"
    assert found["media"][0]["serial"] == "WD-WCAV29008961"


@needs_files
def test_nwipe_verify_only_method_reaches_no_level():
    found = _debian_variant("'Fill With Zeros'", "'Verify Zeros'")
    entry = found["erasures"][0]
    assert entry["method"] == "Verify Zeros"
    assert "level" not in entry
    assert any("nothing was erased" in w for w in found["warnings"])


def test_nwipe_aborted_run_without_summary():
    text = (
        "[2024/01/02 10:00:00]  notice: Invoking method 'Fill With Zeros' on /dev/sdb\n"
        "[2024/01/02 10:00:00]  notice: Starting pass 1/1, round 1/1, on /dev/sdb\n"
        "[2024/01/02 10:05:00]   info: Nwipe was aborted by the user. Check the summary table for the drive status.\n"
    )
    assert erasure.sniff_nwipe(text, "x.log")
    [entry] = erasure.parse_nwipe(text, "x.log")["erasures"]
    assert entry["result"] == "aborted"
    assert entry["end"] == "2024-01-02T10:05:00"


def test_nwipe_without_log_lines_is_a_value_error():
    with pytest.raises(ValueError):
        erasure.parse_nwipe("hello\nworld\n", "x.log")


# ---------------------------------------------------------------------------- nvme, hdparm, usody, eReuse


@needs_files
def test_nvme_sanitize_in_progress_crypto_erase_has_no_result():
    found = parse("nvme-cli-github-issues/nvme-sanitize-log-nvme-cli-1784-SSDPEKNW512G8.txt")
    assert found["erasures"] == [{"method": "nvme sanitize crypto erase", "level": "purge"}]
    assert any("in progress (1.0 %)" in w for w in found["warnings"])


@needs_files
@pytest.mark.parametrize(("sstat", "result"), [("0x101", "pass"), ("0x3", "fail")])
def test_nvme_sanitize_status_codes(sstat, result):
    text, _ = read("nvme-cli-github-issues/nvme-sanitize-log-nvme-cli-1784-SSDPEKNW512G8.txt")
    found = erasure.parse_nvme_sanitize(text.replace(":  0x2", ":  " + sstat), "x.txt")
    assert found["erasures"][0]["result"] == result


def test_nvme_sanitize_json_output():
    text = json.dumps({"nvme0n1": {"sprog": 65535, "sstat": 1, "cdw10_info": 2}})
    assert erasure.sniff_nvme_sanitize(text, "s.json")
    found = erasure.parse_nvme_sanitize(text, "s.json")
    assert found["erasures"] == [{"method": "nvme sanitize block erase", "level": "purge", "result": "pass"}]


@needs_files
def test_hdparm_security_section_warns_frozen_and_records_no_erasure():
    found = parse("hdparm-github-issues/hdparm-I-security-section-TKperf-29.fragment.txt")
    assert "erasures" not in found and "media" not in found
    assert any("frozen" in w for w in found["warnings"])


def test_hdparm_identity_and_failed_enhanced_erase():
    text = (
        "/dev/sdb:\n\nATA device, with non-removable media\n\tModel Number:       Samsung SSD 850 EVO 250GB\n"
        "\tSerial Number:      S21PNXAG441016B\n\tLBA48  user addressable sectors:   488397168\n"
        "\tLogical  Sector size:                   512 bytes\n\tNominal Media Rotation Rate: Solid State Device\n"
        "Security: \n\t\tsupported\n\tnot\tenabled\n\tnot\tlocked\n\tnot\tfrozen\n"
        'Issuing SECURITY_ERASE_ENHANCED command, password="p", user=user\n'
        "SECURITY_ERASE: Input/output error\n"
    )
    assert erasure.sniff_hdparm(text, "h.txt")
    found = erasure.parse_hdparm(text, "h.txt")
    assert found["media"] == [
        {
            "serial": "S21PNXAG441016B",
            "model": "Samsung SSD 850 EVO 250GB",
            "type": "sata-ssd",
            "size_bytes": 250059350016,
        }
    ]
    assert found["erasures"] == [
        {
            "serial": "S21PNXAG441016B",
            "method": "ATA enhanced security erase",
            "level": "purge",
            "result": "fail",
        }
    ]
    assert not any("frozen" in w for w in found.get("warnings", []))


@needs_files
def test_usody_sanitize_report():
    found = parse("usody-sanitize/2023-07-22_120312E2M3121K00UN6S.json")
    assert found["media"] == [
        {
            "serial": "120312E2M3121K00UN6S",
            "model": "Hitachi HTS543232A7A384",
            "type": "hdd",  # behind an ASMT USB bridge, but smartctl read the inner drive
            "size_bytes": 320072933376,
            "health": {"smart_passed": True, "power_on_hours": 7964},
        }
    ]
    [entry] = found["erasures"]
    assert entry["serial"] == "120312E2M3121K00UN6S"
    assert entry["result"] == "pass"
    assert entry["passes"] == 1
    assert entry["level"] == "clear"
    assert entry["start"] == "2023-07-21T21:48:59Z"
    assert entry["end"] == "2023-07-22T01:03:09Z"
    # its "validation" sampled sectors before the wipe, never after: not a verification
    assert "no read-back" in entry["verification"]
    assert any("before the wipe only" in w for w in found["warnings"])


@needs_files
def test_usody_failed_result():
    text, _ = read("usody-sanitize/2023-07-22_120312E2M3121K00UN6S.json")
    doc = json.loads(text)
    doc["result"] = False
    doc["steps"][0]["success"] = False
    assert erasure.parse_usody(json.dumps(doc), "x.json")["erasures"][0]["result"] == "fail"


@needs_files
def test_ereuse_snapshot_erase_actions_per_drive():
    found = parse("devicehub-teal/erase-sectors-2-hdd.snapshot.yaml")
    assert [(e["serial"], e["result"], e["passes"], e["level"]) for e in found["erasures"]] == [
        ("WD-WCAV29008961", "pass", 1, "clear"),
        ("WD-WCAV27984668", "pass", 1, "clear"),
    ]
    assert found["erasures"][0]["start"] == "2018-07-13T10:52:45.092612+00:00"
    assert found["erasures"][1]["end"] == "2018-07-13T12:55:47.331586+00:00"
    health = {m["serial"]: m["health"] for m in found["media"]}
    assert health == {
        "WD-WCAV29008961": {"smart_passed": False, "power_on_hours": 24658},
        "WD-WCAV27984668": {"smart_passed": True, "power_on_hours": 21979},
    }


def test_standalone_ereuse_erase_action_is_sniffed_and_error_severity_fails():
    text = json.dumps(
        {
            "type": "EraseSectors",
            "severity": "Error",
            "device": {"serialNumber": "S3Z9NX0K"},
            "startTime": "2022-01-13T09:34:39+00:00",
            "steps": [{"type": "StepZero", "severity": "Info"}, {"type": "StepRandom", "severity": "Error"}],
        }
    )
    assert [k for k, sniff, _ in erasure.PARSERS if sniff(text, "e.json")] == ["ereuse-erasure"]
    [entry] = erasure.parse_ereuse_erasure(text, "e.json")["erasures"]
    assert (entry["serial"], entry["result"], entry["passes"]) == ("S3Z9NX0K", "fail", 2)


@pytest.mark.parametrize("kind", ["usody-sanitize", "ereuse-erasure", "nvme-sanitize-log"])
def test_broken_json_is_a_value_error(kind):
    with pytest.raises(ValueError):
        PARSERS[kind][1]('{"sprog": 1, "sstat": "device_info", "steps": [', "x.json")


# ------------------------------------------------------------------------------- every shared file


@pytest.mark.skipif(not EXTERNAL.is_dir(), reason="../shared/external not present")
@pytest.mark.parametrize("path", all_shared_files(), ids=lambda p: str(p.relative_to(EXTERNAL)))
def test_other_kinds_are_not_claimed_and_nothing_crashes(path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    for kind, sniff, parse_ in erasure.PARSERS:
        if sniff(text, path.name):
            assert path.is_relative_to(ERASURE), f"{kind} claims {path}"
            parse_(text, path.name)
        else:
            try:
                parse_(text, path.name)
            except ValueError:
                pass
    if OTHER_MODULES:
        from refurb.evidence import parse_file

        result = parse_file(path)
        assert result["file"] == str(path)


@pytest.mark.skipif(not OTHER_MODULES, reason="hardware.py/smart.py not written yet")
@needs_files
@pytest.mark.parametrize("rel", sorted(k for k, v in KINDS.items() if v != "ereuse-erasure"))
def test_parse_file_detects_erasure_kinds(rel):
    result = __import__("refurb.evidence", fromlist=["parse_file"]).parse_file(ERASURE / rel)
    assert result["kind"] == KINDS[rel]
    assert "error" not in result


# ------------------------------------------------------------------------------------------ fuzzing


def _fragments():
    texts = []
    for rel in KINDS:
        if (ERASURE / rel).exists():
            texts.append((ERASURE / rel).read_text(encoding="utf-8", errors="replace"))
    return texts or ["[2024/01/02 10:00:00]  notice: Starting pass 1/1, round 1/1, on /dev/sdb\n"]


FRAGMENTS = _fragments()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=400),
        st.builds(
            lambda i, a, b, junk: FRAGMENTS[i % len(FRAGMENTS)][a:b] + junk,
            st.integers(0, 50),
            st.integers(0, 4000),
            st.integers(0, 70000),
            st.text(max_size=40),
        ),
    )
)
def test_random_and_truncated_text_only_raises_value_error(text):
    for _kind, sniff, parse_ in erasure.PARSERS:
        assert sniff(text, "f") in (True, False)
        try:
            found = parse_(text, "f")
        except ValueError:
            continue
        json.dumps(found)


@pytest.mark.skipif(not OTHER_MODULES, reason="hardware.py/smart.py not written yet")
@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(0, 4000), st.integers(0, 70000))
def test_truncated_files_never_crash_parse_file(tmp_path_factory, i, a, b):
    from refurb.evidence import parse_file

    path = tmp_path_factory.mktemp("fuzz") / "f.log"
    path.write_text(FRAGMENTS[i % len(FRAGMENTS)][a:b], encoding="utf-8")
    result = parse_file(path)
    assert "kind" in result or "error" in result


@pytest.mark.skipif(not OTHER_MODULES, reason="hardware.py/smart.py not written yet")
@needs_files
def test_snapshot_parser_reports_the_same_erasures_as_this_module():
    from refurb.evidence import parse_file

    rel = "devicehub-teal/erase-sectors-2-hdd.snapshot.yaml"
    via_snapshot = parse_file(ERASURE / rel)["erasures"]
    here = parse(rel)["erasures"]
    keys = ("serial", "result", "passes", "level", "start", "end")
    assert [tuple(e.get(k) for k in keys) for e in via_snapshot] == [
        tuple(e.get(k) for k in keys) for e in here
    ]


@pytest.mark.skipif(not OTHER_MODULES, reason="hardware.py/smart.py not written yet")
@needs_files
def test_workbench_11a3_drive_size_is_not_off_by_mib():
    from refurb.evidence import parse_file

    media = parse_file(ERASURE / "devicehub-teal/erase-sectors-2-hdd.snapshot.yaml")["media"]
    for medium in media:
        size = medium.get("size_bytes")
        assert size is None or abs(size - 320072933376) / 320072933376 < 0.001
