"""Specs and the Windows 11 verdict from hardware snapshots (issue 4 item 3): refurb/evidence/specs.py.

Expected specs were read by hand from the real files in ../shared/external: the CPU from lshw's processor
`product` / dmidecode's Processor `Version` (or `Family`), cores from `configuration.cores` / `Core Count`,
RAM from the memory banks / Memory Device sizes, storage from the drives' byte counts, UEFI from lshw's
`uefi` capability / dmidecode's "UEFI is supported", the panel from hwinfo's "Size: 344x194 mm" (laptops).
None of these files says anything about a TPM or Secure Boot, and every CPU in them predates Windows 11.
"""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refurb import catalog
from refurb.evidence import hardware, parse_file, specs
from refurb.evidence.specs import cpu_name, cpu_supports_windows11, windows11

EXTERNAL = Path(__file__).resolve().parents[1].parent / "shared" / "external"
needs_external = pytest.mark.skipif(not EXTERNAL.is_dir(), reason=f"shared files not found at {EXTERNAL}")

OLD = {"x86-64": True, "cpu-win11": False}
UEFI = {"x86-64": True, "uefi": True, "cpu-win11": False}
I3_7020U = {"cpu": "Intel Core i3-7020U", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64"}
I3_M370 = {"cpu": "Intel Core i3 M 370", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 6.0}
I3_3220 = {"cpu": "Intel Core i3-3220", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 4.0}
I7_4600U = {"cpu": "Intel Core i7-4600U", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 16.0}
I7_7500U = {"cpu": "Intel Core i7-7500U", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 16.0}
CORE2_6420 = {"cpu": "Intel Core 2 6420", "cpu_vendor": "intel", "ram_gb": 2.5}  # lshw/SMBIOS 2.4: no cores

DJANGO, TEAL = "devicehub-django/", "devicehub-teal/"
G560, ACER, HP4300, V330 = ("7aa682aa-77c5-43a5-91e4-1ef9a2736156", "8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d",
                            "946fd30b-68f7-425f-aca4-1ae39a86d353", "9868c6d4-a96c-4ae6-b2bd-1ec72a1891a4")
X1, QEMU, AMD = ("2022-03-31_17h18m51s_ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot",
                 "2022-04-01_05h49m25s_O88RXQ27ZW7YJV3JPM79O0MOLWJQ3_snapshot", "desktop-amd-bug-no-sn")
E7240 = "snapshot_workbench-script_legacy"
WB11_ERASURE = "erasure/devicehub-teal/erase-sectors-2-hdd.snapshot.yaml"

EXPECTED = {
    # ---- lshw: storage is the sum of the drives (USB sticks and empty card readers left out)
    # SMBIOS 2.6 has no UEFI bit: UEFI unknown
    f"lshw/{DJANGO}{G560}.lshw.json": {**I3_M370, "storage_gb": 275.1, "facts": OLD},
    f"lshw/{DJANGO}{ACER}.lshw.json": {**I3_7020U, "ram_gb": 8.0, "storage_gb": 240.1, "firmware": "uefi",
                                       "facts": UEFI},
    f"lshw/{DJANGO}{HP4300}.lshw.json": {**I3_3220, "storage_gb": 500.1, "firmware": "uefi", "facts": UEFI},
    # a 2018 Lenovo whose firmware does not set the UEFI bit: UEFI stays unknown, it is not "bios"
    f"lshw/{DJANGO}{V330}.lshw.json": {**I3_7020U, "ram_gb": 12.0, "storage_gb": 240.1, "facts": OLD},
    f"lshw/{DJANGO}{E7240}.lshw.json": {**I7_4600U, "storage_gb": 756.2, "firmware": "uefi", "facts": UEFI},
    # soldered LPDDR3 shows as "[empty]" banks; lshw's kernel count 17045651456 B = 15.875 GiB -> 16
    f"lshw/{TEAL}{X1}.lshw.json": {**I7_7500U, "storage_gb": 1024.2, "firmware": "uefi", "facts": UEFI},
    # a QEMU VM: the host's CPU name, one vCPU, SeaBIOS
    f"lshw/{TEAL}{QEMU}.lshw.json": {"cpu": "Intel Core i7-7500U", "cpu_vendor": "intel", "cores": 1,
                                     "arch": "x86-64", "ram_gb": 4.0, "storage_gb": 42.9, "firmware": "bios",
                                     "facts": {"x86-64": True, "uefi": False, "cpu-win11": False}},
    f"lshw/{TEAL}{AMD}.lshw.json": {**CORE2_6420, "arch": "x86-64", "storage_gb": 200.0, "facts": OLD},
    # ---- dmidecode: no drives, so no storage
    f"dmidecode/{DJANGO}{G560}.dmidecode.txt": {**I3_M370, "facts": OLD},
    f"dmidecode/{DJANGO}{ACER}.dmidecode.txt": {**I3_7020U, "ram_gb": 8.0, "firmware": "uefi", "facts": UEFI},
    f"dmidecode/{DJANGO}{HP4300}.dmidecode.txt": {**I3_3220, "firmware": "uefi", "facts": UEFI},
    f"dmidecode/{DJANGO}{V330}.dmidecode.txt": {**I3_7020U, "ram_gb": 12.0, "facts": OLD},
    f"dmidecode/{DJANGO}{E7240}.dmidecode.txt": {**I7_4600U, "firmware": "uefi", "facts": UEFI},
    f"dmidecode/{TEAL}{X1}.dmidecode.txt": {**I7_7500U, "firmware": "uefi", "facts": UEFI},  # 2 x 8192 MB
    # QEMU: Processor Version "pc-i440fx-5.2" names no CPU; "Characteristics: None" says nothing of 64-bit
    f"dmidecode/{TEAL}{QEMU}.dmidecode.txt": {"cores": 1, "ram_gb": 4.0, "firmware": "bios",
                                              "facts": {"uefi": False}},
    f"dmidecode/{TEAL}{AMD}.dmidecode.txt": {**CORE2_6420, "facts": {"cpu-win11": False}},
    "dmidecode/glpi-agent/batteries-upower-dmidecode_2.txt": {
        "cpu": "Intel Core i5-6200U", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 8.0,
        "firmware": "uefi", "facts": UEFI},
    "dmidecode/glpi-agent/lenovo-thinkpad.txt": {
        "cpu": "Intel Core i5-2450M", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 8.0,
        "facts": OLD},
    # "Version: Not Specified": the Family names the CPU
    "dmidecode/glpi-agent/linux-2.6.txt": {"cpu": "Intel Pentium M", "cpu_vendor": "intel", "ram_gb": 2.0,
                                           "facts": {"cpu-win11": False}},
    "dmidecode/glpi-agent/surface-go-2.txt": None,  # a partial dump: BIOS, system and chassis only
    "dmidecode/glpi-agent/windows-xp.txt": {"cpu": "Intel Core 2 Duo", "cpu_vendor": "intel", "cores": 2,
                                            "arch": "x86-64", "ram_gb": 4.0, "facts": OLD},
    # ---- eReuse snapshots: dmidecode + lshw + inxi, drives from smartctl, the built-in panel from hwinfo
    f"ereuse-snapshots/{DJANGO}{G560}.json": {**I3_M370, "storage_gb": 275.1, "screen_inches": 15.6,
                                              "facts": OLD},
    f"ereuse-snapshots/{DJANGO}{ACER}.json": {**I3_7020U, "ram_gb": 8.0, "storage_gb": 240.1,
                                              "screen_inches": 15.6, "firmware": "uefi", "facts": UEFI},
    # a desktop: its monitor (a Lenovo LT2024wA) is not part of it
    f"ereuse-snapshots/{DJANGO}{HP4300}.json": {**I3_3220, "storage_gb": 500.1, "firmware": "uefi",
                                                "facts": UEFI},
    f"ereuse-snapshots/{DJANGO}{V330}.json": {**I3_7020U, "ram_gb": 12.0, "storage_gb": 240.1,
                                              "screen_inches": 15.6, "facts": OLD},  # panel 344x193 mm
    # an external HP 27mq is plugged in; the built-in BOE panel is 277x156 mm = 12.5"
    f"ereuse-snapshots/{DJANGO}{E7240}.json": {**I7_4600U, "storage_gb": 756.2, "screen_inches": 12.5,
                                               "firmware": "uefi", "facts": UEFI},
    # workbench-script 0.0.1: dmidecode + inxi (eDP-1 diag 318 mm, "UEFI: Dell", 2 x 8 GiB), no lshw
    f"ereuse-snapshots/{DJANGO}snapshot_workbench-script.json": {
        **I7_4600U, "storage_gb": 756.2, "screen_inches": 12.5, "firmware": "uefi", "facts": UEFI},
    # Workbench 11: Processor/RamModule/Display components, UEFI from the lshw kept under debug
    f"ereuse-snapshots/{DJANGO}hp_probook_450.json": {
        "cpu": "Intel Core i5-4210U", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 8.0,
        "storage_gb": 500.1, "screen_inches": 15.6, "firmware": "uefi", "facts": UEFI},
    # a Samsung LC27T55 is plugged in as well; the built-in AUO panel is 309x174 mm
    f"ereuse-snapshots/{TEAL}{X1}.json": {**I7_7500U, "storage_gb": 1024.2, "screen_inches": 14.0,
                                          "firmware": "uefi", "facts": UEFI},
    # its lshw is broken JSON (the snapshot parser does not repair it); dmidecode names no CPU
    f"ereuse-snapshots/{TEAL}{QEMU}.json": {"cores": 1, "ram_gb": 4.0, "storage_gb": 42.9, "firmware": "bios",
                                            "facts": {"uefi": False}},
    f"ereuse-snapshots/{TEAL}{AMD}.json": {**CORE2_6420, "arch": "x86-64", "storage_gb": 200.0, "facts": OLD},
    # a Workbench 11.0a3 snapshot filed with the erasure logs; sizes in MiB (2 x 305245 MiB, 4096 MiB RAM)
    WB11_ERASURE: {"cpu": "Intel Core i3-2100", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64",
                   "ram_gb": 4.0, "storage_gb": 640.1, "facts": OLD},
}


def shared(*kinds):
    if not EXTERNAL.is_dir():
        return []
    return sorted(
        path.relative_to(EXTERNAL).as_posix() for kind in kinds for path in (EXTERNAL / kind).rglob("*")
        if path.is_file() and path.name != "MANIFEST.md"
    )


@needs_external
def test_every_hardware_file_has_expected_specs():
    assert set(shared("lshw", "dmidecode", "ereuse-snapshots")) | {WB11_ERASURE} == set(EXPECTED)


@needs_external
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_specs_of_real_file(rel):
    found = parse_file(EXTERNAL / rel)
    assert "error" not in found
    assert found.get("specs") == EXPECTED[rel]
    json.dumps(found)


@needs_external
@pytest.mark.parametrize("rel", [r for r in shared("smartctl", "upower", "erasure") if r != WB11_ERASURE])
def test_files_about_one_part_give_no_specs(rel):
    assert "specs" not in parse_file(EXTERNAL / rel)


# ------------------------------------------------------------------------------ the processor rule

# (brand string as /proc/cpuinfo, lshw or dmidecode print it, verdict); each boundary from both sides.
CPUS = [
    # Intel Core: 8th generation and newer
    ("Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz", False),
    ("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", True),
    ("Intel(R) Core(TM) i7-7700HQ CPU @ 2.80GHz", False),
    ("Intel(R) Core(TM) i7-8750H CPU @ 2.20GHz", True),
    ("Intel(R) Core(TM) i3-7020U CPU @ 2.30GHz", False),
    ("Intel(R) Core(TM) i3-8130U CPU @ 2.20GHz", True),
    ("Intel(R) Core(TM) i7-7820HQ CPU @ 2.90GHz", None),  # listed for a few devices only
    ("Intel(R) Core(TM) i3-8121U CPU @ 2.20GHz", None),  # Cannon Lake: 8th generation, not on the list
    ("Intel(R) Core(TM) i9-7900X CPU @ 3.30GHz", True),  # Skylake-X
    ("Intel(R) Core(TM) i7-7740X CPU @ 4.30GHz", False),  # Kaby Lake-X
    ("Intel(R) Core(TM) i5-9300H CPU @ 2.40GHz", True),
    ("Intel(R) Core(TM) i3-10110U CPU @ 2.10GHz", True),
    ("Intel(R) Core(TM) i3-1005G1 CPU @ 1.20GHz", True),
    ("11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz", True),
    ("12th Gen Intel(R) Core(TM) i7-1255U", True),
    ("13th Gen Intel(R) Core(TM) i5-1335U", True),
    ("Intel(R) Core(TM) i7-14700HX", True),
    ("Intel(R) Core(TM) Ultra 7 155H", True),
    ("Intel(R) Core(TM) 5 120U", True),
    ("Intel(R) Core(TM) i5-L16G7 CPU @ 1.40GHz", True),
    ("Intel(R) Core(TM) i3-N305", True),
    ("Intel(R) Core(TM) i3 CPU       M 370  @ 2.40GHz", False),
    ("Intel(R) Core(TM) i7 CPU         920  @ 2.67GHz", False),
    ("Intel(R) Core(TM) i5-2450M CPU @ 2.50GHz", False),
    ("Intel(R) Core(TM)2 Duo CPU     T7300  @ 2.00GHz", False),
    ("Intel(R) Core(TM)2 CPU          6420  @ 2.13GHz", False),
    ("Intel(R) Core(TM) m3-7Y30 CPU @ 1.00GHz", False),
    ("Intel(R) Core(TM) m3-8100Y CPU @ 1.10GHz", True),
    ("Intel(R) Core(TM) M-5Y71 CPU @ 1.20GHz", False),
    # Pentium and Celeron: the listed models only
    ("Intel(R) Pentium(R) CPU 4415U @ 2.30GHz", False),
    ("Intel(R) Pentium(R) Gold 4417U CPU @ 2.30GHz", True),
    ("Intel(R) Pentium(R) CPU 5405U @ 2.30GHz", True),
    ("Intel(R) Pentium(R) Silver N5000 CPU @ 1.10GHz", True),
    ("Intel(R) Pentium(R) CPU N4200 @ 1.10GHz", False),
    ("Intel(R) Pentium(R) CPU N3710 @ 1.60GHz", False),
    ("Intel(R) Pentium(R) Gold G5400 CPU @ 3.70GHz", True),
    ("Intel(R) Pentium(R) CPU G4560 @ 3.50GHz", False),
    ("Intel(R) Pentium(R) CPU G6950 @ 2.80GHz", False),  # 2010 Clarkdale, not the 2020 Gold G6400
    ("Intel(R) Pentium(R) Gold G6400 CPU @ 4.00GHz", True),
    ("Intel(R) Pentium(R) Dual-Core CPU T4300 @ 2.10GHz", False),
    ("Intel(R) Pentium(R) M processor 1.73GHz", False),
    ("Intel(R) Pentium(R) 4 CPU 3.00GHz", False),
    ("Intel(R) Celeron(R) CPU N3350 @ 1.10GHz", False),
    ("Intel(R) Celeron(R) N4000 CPU @ 1.10GHz", True),
    ("Intel(R) Celeron(R) N4020 CPU @ 1.10GHz", True),
    ("Intel(R) Celeron(R) CPU 3865U @ 1.80GHz", False),
    ("Intel(R) Celeron(R) CPU 3867U @ 1.80GHz", True),
    ("Intel(R) Celeron(R) CPU 4205U @ 1.80GHz", True),
    ("Intel(R) Celeron(R) CPU 1007U @ 1.50GHz", False),
    ("Intel(R) Celeron(R) CPU J3455 @ 1.50GHz", False),
    ("Intel(R) Celeron(R) J4125 CPU @ 2.00GHz", True),
    ("Intel(R) Celeron(R) CPU G3900 @ 2.80GHz", False),
    ("Intel(R) Celeron(R) G4900 CPU @ 3.10GHz", True),
    ("Intel(R) N100", True),
    ("Intel(R) Atom(TM) x5-Z8350  CPU @ 1.44GHz", False),
    ("Intel(R) Atom(TM) CPU N270   @ 1.60GHz", False),
    ("Intel(R) Atom(TM) x6425E CPU @ 2.00GHz", True),
    # Xeon
    ("Intel(R) Xeon(R) CPU E3-1505M v5 @ 2.80GHz", False),
    ("Intel(R) Xeon(R) E-2176M  CPU @ 2.70GHz", True),
    ("Intel(R) Xeon(R) W-10855M CPU @ 2.80GHz", True),
    ("Intel(R) Xeon(R) CPU           X5650  @ 2.67GHz", False),
    ("Intel(R) Xeon(R) Silver 4110 CPU @ 2.10GHz", True),
    ("Intel(R) Xeon(R) CPU D-1541 @ 2.10GHz", None),
    ("Genuine Intel(R) CPU           T2400  @ 1.83GHz", None),  # no family name to go on
    # AMD Ryzen: 2000 desktop (Zen+) yes, 2000 APUs (Zen 1 Raven Ridge) and 1000 no, 3000+ yes
    ("AMD Ryzen 3 2200U with Radeon Vega Mobile Gfx", False),
    ("AMD Ryzen 3 2300U with Radeon Vega Mobile Gfx", False),
    ("AMD Ryzen 5 2500U with Radeon Vega Mobile Gfx", False),
    ("AMD Ryzen 7 PRO 2700U w/ Radeon Vega Mobile Gfx", False),
    ("AMD Ryzen 5 2400G with Radeon Vega Graphics", False),
    ("AMD Ryzen 7 1700 Eight-Core Processor", False),
    ("AMD Ryzen 5 2600 Six-Core Processor", True),
    ("AMD Ryzen 7 2700X Eight-Core Processor", True),
    ("AMD Ryzen 5 3500U with Radeon Vega Mobile Gfx", True),
    ("AMD Ryzen 3 3250U with Radeon Graphics", True),
    ("AMD Ryzen 7 5800H with Radeon Graphics", True),
    ("AMD Ryzen 5 7530U with Radeon Graphics", True),
    ("AMD Ryzen AI 9 HX 370 w/ Radeon 890M", True),
    ("AMD Ryzen Threadripper 1950X 16-Core Processor", False),
    ("AMD Ryzen Threadripper 2950X 16-Core Processor", True),
    # AMD others
    ("AMD Athlon 200GE with Radeon Vega Graphics", False),
    ("AMD Athlon 300U with Radeon Vega Mobile Gfx", True),
    ("AMD Athlon Silver 3050U with Radeon Graphics", True),
    ("AMD Athlon 3000G with Radeon Vega Graphics", True),
    ("AMD 3020e with Radeon Graphics", True),
    ("AMD Athlon(tm) II X2 250 Processor", False),
    ("AMD Athlon(tm) 64 X2 Dual Core Processor 4200+", False),
    ("AMD Athlon(tm) 7750 Dual-Core Processor", False),
    ("AMD A6-9220 RADEON R4, 5 COMPUTE CORES 2C+3G", False),
    ("AMD E-350 Processor", False),
    ("AMD FX(tm)-8350 Eight-Core Processor", False),
    ("AMD EPYC 7551 32-Core Processor", False),
    ("AMD EPYC 7302 16-Core Processor", True),
    # not placeable
    ("QEMU Virtual CPU version 2.5+", None),
    ("Snapdragon (TM) 8cx @ 2.84 GHz", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("raw", "verdict"), CPUS)
def test_windows11_processor_rule(raw, verdict):
    assert cpu_supports_windows11(raw) is verdict
    assert cpu_supports_windows11(cpu_name(raw)) is verdict  # the cleaned name gives the same answer


@pytest.mark.parametrize(("raw", "name"), [
    ("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", "Intel Core i5-8250U"),
    ("Intel(R) Core(TM) i3 CPU       M 370  @ 2.40GHz", "Intel Core i3 M 370"),
    ("Intel(R) Core(TM)2 CPU          6420  @ 2.13GHz", "Intel Core 2 6420"),
    ("11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz", "Intel Core i5-1135G7"),
    ("Intel(R) Pentium(R) Dual-Core CPU T4300 @ 2.10GHz", "Intel Pentium Dual-Core T4300"),
    ("Intel(R) N100", "Intel N100"),
    ("AMD Ryzen 5 3500U with Radeon Vega Mobile Gfx", "AMD Ryzen 5 3500U"),
    ("AMD Ryzen 9 3900X 12-Core Processor", "AMD Ryzen 9 3900X"),
    ("AMD A6-9220 RADEON R4, 5 COMPUTE CORES 2C+3G", "AMD A6-9220"),
    ("AMD Athlon(tm) II X2 250 Processor", "AMD Athlon II X2 250"),
    ("pc-i440fx-5.2", None),
    ("To Be Filled By O.E.M.", None),
])
def test_cpu_name_keeps_the_model(raw, name):
    assert cpu_name(raw) == name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_cpu_rule_and_name_never_crash(text):
    assert cpu_supports_windows11(text) in (True, False, None)
    assert cpu_name(text) is None or isinstance(cpu_name(text), str)


# ------------------------------------------------------------------------------ TPM (dmidecode type 43)

TPM_RECORD = (  # dmidecode 3.x wording; some releases drop the newline after the version (kept below)
    "# dmidecode 3.4\nSMBIOS 3.2.0 present.\n\nHandle 0x0039, DMI type 43, 31 bytes\nTPM Device\n"
    "\tVendor ID: CTNI\n\tSpecification Version: {version}\tFirmware Revision: 11.1\n"
    "\tDescription: INTEL\n\tCharacteristics:\n\t\t{characteristic}\n\tOEM-specific Information: 0x00000000\n"
)


@pytest.mark.parametrize(("version", "characteristic", "tpm2"), [
    ("2.0", "Family configurable via platform software support", True),
    ("1.2", "Family configurable via platform software support", False),
    ("1.2", "Family configurable via firmware update", None),  # an update may make it a TPM 2.0
])
def test_tpm_from_dmidecode(version, characteristic, tpm2):
    text = TPM_RECORD.format(version=version, characteristic=characteristic)
    found = hardware.parse_dmidecode(text, "d.txt")
    assert found["specs"]["tpm"] == version
    assert found["specs"].get("facts", {}).get("tpm2") is tpm2
    check = next(c for c in windows11(found)["checks"] if c["requirement"] == "tpm2")
    assert check["ok"] is tpm2 and version in check["detail"]


def test_uefi_bit_and_64_bit_from_dmidecode_lists():
    text = (
        "Handle 0x0000, DMI type 0, 26 bytes\nBIOS Information\n\tVendor: ACME\n\tCharacteristics:\n"
        "\t\tPCI is supported\n\t\tUEFI is supported\n\tBIOS Revision: 1.2\n\n"
        "Handle 0x0004, DMI type 4, 48 bytes\nProcessor Information\n\tType: Central Processor\n"
        "\tManufacturer: Intel(R) Corporation\n\tVersion: Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz\n"
        "\tStatus: Populated, Enabled\n\tCore Count: 4\n\tCharacteristics:\n\t\t64-bit capable\n\n"
        "Handle 0x0011, DMI type 17, 40 bytes\nMemory Device\n\tSize: 8192 MB\n\n"
        "Handle 0x0012, DMI type 17, 40 bytes\nMemory Device\n\tSize: No Module Installed\n"
    )
    assert hardware.parse_dmidecode(text, "d.txt")["specs"] == {
        "cpu": "Intel Core i5-8250U", "cpu_vendor": "intel", "cores": 4, "arch": "x86-64", "ram_gb": 8.0,
        "firmware": "uefi", "facts": {"x86-64": True, "uefi": True, "cpu-win11": True},
    }


def test_a_model_name_beats_the_processor_family():
    family_only = hardware.dmi_records(
        "Handle 0x0004, DMI type 4, 40 bytes\nProcessor Information\n\tFamily: Core 2 Duo\n"
        "\tManufacturer: Intel\n\tVersion: Not Specified\n\tStatus: Populated, Enabled\n"
    )
    lshw = [{"class": "processor", "product": "Intel(R) Core(TM)2 Duo CPU T9400 @ 2.53GHz"}]
    assert specs.combine([specs.dmidecode_specs(family_only)])["cpu"] == "Intel Core 2 Duo"
    both = specs.combine([specs.dmidecode_specs(family_only), specs.lshw_specs(lshw)])
    assert both["cpu"] == "Intel Core 2 Duo T9400" and both["facts"] == {"cpu-win11": False}


HWINFO_PANEL = (
    '31: None 00.0: 10002 LCD Monitor\n  Hardware Class: monitor\n  Model: "AUO LCD Monitor"\n'
    "  Resolution: 1920x1080@60Hz\n  Size: {size} mm\n"
)


@pytest.mark.parametrize(("sizes", "inches"), [
    (["344x194"], 15.6), (["277x156"], 12.5), (["309x174"], 14.0),
    (["300x200"], 14.2),  # no marketed size within a tenth of an inch: rounded
    (["344x194", "309x174"], None),  # two panels: which one is built in is not known
    ([], None),
])
def test_built_in_panel_from_hwinfo(sizes, inches):
    assert specs.hwinfo_screen("\n\n".join(HWINFO_PANEL.format(size=size) for size in sizes)) == inches


# ------------------------------------------------------------------------------ the Windows 11 verdict


def machine(facts, ram_gb=8.0, sizes=(256_060_514_304,), tpm="2.0", cpu="Intel Core i5-8250U"):
    specs = {"cpu": cpu, "ram_gb": ram_gb, "tpm": tpm, "facts": facts}
    media = [{"serial": f"S{i}", "type": "nvme", "size_bytes": size} for i, size in enumerate(sizes)]
    return {"specs": {k: v for k, v in specs.items() if v is not None}, "media": media}


ALL_KNOWN = {"x86-64": True, "uefi": True, "secure-boot": True, "tpm2": True, "cpu-win11": True}


def verdicts(found):
    return {check["requirement"]: check["ok"] for check in windows11(found)["checks"]}


def test_eligible_only_when_every_check_is_known_and_passes():
    result = windows11(machine(ALL_KNOWN))
    assert result["eligible"] is True
    assert [c["requirement"] for c in result["checks"]] == list(specs.WIN11_CHECKS)
    assert all(c["ok"] is True and c["detail"] for c in result["checks"])


def test_unknown_secure_boot_makes_the_verdict_unknown():
    facts = {key: value for key, value in ALL_KNOWN.items() if key != "secure-boot"}
    result = windows11(machine(facts))
    assert result["eligible"] is None
    assert verdicts(machine(facts))["secure-boot"] is None


@pytest.mark.parametrize(("change", "requirement"), [
    ({"facts": {**ALL_KNOWN, "tpm2": False}, "tpm": "1.2"}, "tpm2"),
    ({"facts": {**ALL_KNOWN, "cpu-win11": False}}, "cpu-win11"),
    ({"facts": {**ALL_KNOWN, "uefi": False}}, "uefi"),
    ({"facts": ALL_KNOWN, "ram_gb": 3.9}, "ram"),
    ({"facts": ALL_KNOWN, "sizes": (32_017_047_552, 32_017_047_552)}, "storage"),  # 2 x 32 GB: no 64 GB drive
])
def test_one_failing_check_makes_it_ineligible(change, requirement):
    found = machine(**change)
    result = windows11(found)
    assert result["eligible"] is False
    assert [c["requirement"] for c in result["checks"] if c["ok"] is False] == [requirement]


def test_boundaries_of_ram_and_storage():
    assert verdicts(machine(ALL_KNOWN, ram_gb=4.0))["ram"] is True
    assert verdicts(machine(ALL_KNOWN, sizes=(64_023_257_088,)))["storage"] is True
    assert verdicts(machine(ALL_KNOWN, sizes=(62_537_072_640,)))["storage"] is False  # a "64 GB" eMMC
    assert verdicts(machine(ALL_KNOWN, sizes=()))["storage"] is None


def test_a_usb_stick_is_not_the_machines_storage():
    found = machine(ALL_KNOWN, sizes=(32_017_047_552,))
    found["media"].append({"serial": "U1", "type": "removable", "size_bytes": 128_035_676_160})
    assert verdicts(found)["storage"] is False


def test_the_package_offers_the_verdict():
    from refurb import evidence

    assert evidence.windows11(machine(ALL_KNOWN)) == windows11(machine(ALL_KNOWN))


def test_nothing_known_is_unknown_not_ineligible():
    result = windows11({"file": "x", "kind": "upower"})
    assert result["eligible"] is None
    assert {c["ok"] for c in result["checks"]} == {None}


@needs_external
@pytest.mark.parametrize("rel", sorted(rel for rel, expected in EXPECTED.items() if expected))
def test_verdict_on_real_files(rel):
    found = parse_file(EXTERNAL / rel)
    result = windows11(found)
    json.dumps(result)
    oks = verdicts(found)
    assert oks["secure-boot"] is None and oks["tpm2"] is None  # no file says
    assert oks["cpu-win11"] is EXPECTED[rel].get("facts", {}).get("cpu-win11")
    assert result["eligible"] is (False if False in oks.values() else None)


@needs_external
def test_verdict_of_the_acer():
    found = parse_file(EXTERNAL / f"ereuse-snapshots/{DJANGO}{ACER}.json")
    result = windows11(found)
    assert result["eligible"] is False
    assert verdicts(found) == {"x86-64": True, "uefi": True, "secure-boot": None, "tpm2": None,
                               "cpu-win11": False, "ram": True, "storage": True}
    assert result["checks"][4]["detail"] == "Intel Core i3-7020U is not supported by Windows 11"


# ------------------------------------------------------------------------------ agreement with the catalogue


def test_fact_names_are_the_catalogue_requirements():
    windows = catalog.load_images()["windows-11"]
    assert set(specs.WIN11_CHECKS[:5]) == set(catalog.REQUIREMENTS) == set(windows.requires)
    assert specs.WIN11_MIN_RAM_GB == windows.min_ram_gb
    assert specs.WIN11_MIN_STORAGE_GB == windows.min_storage_gb


@needs_external
def test_specs_feed_image_problems():
    found = parse_file(EXTERNAL / f"lshw/{DJANGO}{ACER}.lshw.json")
    s = found["specs"]
    images = catalog.load_images()

    def problems(image):
        return catalog.image_problems(images[image], "laptop", s["ram_gb"], s["storage_gb"], s["facts"])

    assert problems("windows-11") == [
        "windows-11 needs a processor supported by Windows 11, which this device lacks"
    ]
    assert problems("linux-mint") == []


# ------------------------------------------------------------------------------ odd input


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["class", "id", "product", "vendor", "capabilities", "configuration", "cores",
                         "size", "units", "description", "children", "type", "model", "address", "x86-64",
                         "lm", "uefi", "fpu", "disabled"]),
        children | st.sampled_from(["processor", "memory", "System Memory", "firmware", "Processor",
                                    "RamModule", "Display", "bytes", "BIOS"]),
        max_size=6),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=6), json_values, st.booleans())
def test_spec_readers_never_crash_on_odd_values(nodes, components, laptop):
    for part in (specs.lshw_specs(nodes), specs.wb11_specs(components, laptop),
                 specs.inxi_specs(json.dumps([{"002#1#0#CPU": nodes}, {"001#1#0#Memory": nodes}]))):
        found = {"specs": specs.combine([part], nodes), "media": nodes}
        result = windows11(found)
        assert result["eligible"] in (True, False, None)
        json.dumps(found)
        json.dumps(result)
