"""What a machine is, and whether Windows 11 may go on it (issue 4, item 3).

The parsers of lshw, dmidecode and eReuse snapshots hand their parsed data to the functions here and put
what comes back under `specs`:

    {"cpu": "Intel Core i5-8250U", "cpu_vendor": "intel", "cores": 4, "arch": "x86-64", "ram_gb": 8.0,
     "storage_gb": 256.1, "screen_inches": 15.6, "firmware": "uefi", "tpm": "2.0",
     "facts": {"x86-64": True, "uefi": True, "secure-boot": True, "tpm2": True, "cpu-win11": True}}

Only what the file says: a key the file does not give is left out, and a fact is never set to True on a
hunch.  The fact names are the hardware requirements of refurb/images.toml (catalog.REQUIREMENTS), so
`specs["facts"]` can go straight into catalog.image_problems().  Stdlib only.
"""

import json
import math
import re

from refurb.i18n import N_, _

GIB = 2**30
HALF_GIB = 2**29
WIN11_MIN_RAM_GB = 4
WIN11_MIN_STORAGE_GB = 64
# The order in which windows11() lists its checks; the first five are catalog.REQUIREMENTS.
WIN11_CHECKS = ("x86-64", "uefi", "secure-boot", "tpm2", "cpu-win11", "ram", "storage")

# ----------------------------------------------------------------------------------------- CPU names

_MARKS = re.compile(r"\((?:R|TM|C)\)|®|™", re.IGNORECASE)
_BRAND = re.compile(
    r"\b(Intel|AMD|Core|Pentium|Celeron|Xeon|Atom|Ryzen|Athlon|EPYC|Opteron|Phenom|Sempron|Turion|Duron"
    r"|VIA|Zhaoxin|Snapdragon|Qualcomm|Apple)\b",
    re.IGNORECASE,
)
_NOISE = (
    re.compile(r"\s*@\s*[\d.]+\s*[GM]Hz.*$", re.IGNORECASE),  # "CPU @ 2.30GHz"
    re.compile(r"\s+(?:with|w/)\s+Radeon.*$", re.IGNORECASE),  # "with Radeon Vega Mobile Gfx"
    re.compile(r"\s+Radeon\s+R\d.*$", re.IGNORECASE),  # "A6-9220 RADEON R4, 5 COMPUTE CORES 2C+3G"
    re.compile(r",?\s+\d+\s+Compute\s+Cores.*$", re.IGNORECASE),
    re.compile(r"^\d+(?:st|nd|rd|th)\s+Gen\s+", re.IGNORECASE),  # "11th Gen Intel Core i5-1135G7"
    re.compile(r"\bCPU\b"),
    re.compile(r"\bProcessor\b(?!\s+[NU]\d)", re.IGNORECASE),  # but "Intel Processor N100" is the name
    re.compile(r"\s+\w+-Core$", re.IGNORECASE),  # "Ryzen 9 3900X 12-Core", not "Pentium Dual-Core T4300"
)


def cpu_name(raw):
    """The processor's model name without trademarks and clock ("Intel Core i5-8250U"); None when the
    text names no processor ("To Be Filled By O.E.M.", QEMU's "pc-i440fx-5.2")."""
    if not isinstance(raw, str):
        return None
    text = " ".join(_MARKS.sub(" ", raw).split())
    for noise in _NOISE:
        text = " ".join(noise.sub(" ", text).split())
    return text if _BRAND.search(text) else None


def cpu_vendor(*texts):
    """"intel", "amd", … from a model name or a manufacturer field, whichever says it first."""
    for text in texts:
        if not isinstance(text, str):
            continue
        for vendor, pattern in (
            ("intel", r"\bIntel\b|GenuineIntel|\b(Core|Pentium|Celeron|Xeon|Atom)\b"),
            ("amd", r"\bAMD\b|AuthenticAMD|Advanced Micro|\b(Ryzen|Athlon|EPYC|Opteron|Phenom|Sempron)\b"),
            ("via", r"\bVIA\b|Centaur"),
            ("zhaoxin", r"Zhaoxin"),
            ("qualcomm", r"Qualcomm|Snapdragon"),
            ("apple", r"\bApple\b"),
        ):
            if re.search(pattern, _MARKS.sub(" ", text), re.IGNORECASE):
                return vendor
    return None


# ------------------------------------------------------------------------- Windows 11 processor rule
#
# Source: Microsoft's lists of processors supported by Windows 11 ("Windows 11 supported Intel processors",
# "... AMD processors", learn.microsoft.com/windows-hardware/design/minimum/supported/), as mirrored in
# rcmaehl/WhyNotWin11 includes/SupportedProcessors{Intel,AMD}.txt, and the setup appraiser's blocks
# (BlockAMDRaven: family 23 model 17, BlockAMDSummitRidge: model 1, i.e. Zen 1).  In short:
#   Intel Core i3/i5/i7/i9 8th generation and newer (i5-8250U, i7-10510U, i5-1135G7, i7-1255U …), Core Ultra
#     and Core 3/5/7 (Series 1/2), Core m3-8100Y, the Skylake-X i7-78xxX/i9-79xxX; i7-7820HQ only on a few
#     devices (unknown here); i3-8121U (Cannon Lake) is not on the list (unknown here).
#   Pentium Gold 4417U/4425Y/5405U/6405U/6500Y/7505/8505, Gold G5xxx/G64xx–G66xx/G7xxx, Silver N5xxx/J5xxx/
#     N6xxx, Pentium 6805/J6426/N6415; Celeron N4xxx/N5xxx/N6xxx, J4xxx/J6xxx, G49xx/G59xx/G69xx, 3867U,
#     4205U/4305U/5205U/5305U/6305/7305, 7300; Intel N50/N97/N100/N200 and Core i3-N300/N305; Atom x6000E.
#     Both brands are closed lines (replaced by "Intel Processor" in 2023): any other one is older.
#   Xeon E-2xxx, W-xxxx, Bronze/Silver/Gold/Platinum; older Xeons (E3-/E5-, X5xxx …) are not.
#   AMD Ryzen 3000 and newer (incl. Zen+ Picasso 3x00U and Dali 3250U), Ryzen 2000 desktop Zen+ (2600, 2700X,
#     2300X, 2600E …) and Threadripper 2000+; NOT the Zen 1 parts sold as 2000 (Raven Ridge 2200U, 2300U,
#     2500U, 2700U, 2600H, 2800H, 2200G, 2400G, 2200GE …) nor any Ryzen 1000; Athlon Gold/Silver, Athlon
#     300U/300GE/320GE/3000G/PRO 3045B, 7120U/7220U, AMD 3015e/3020e, EPYC 2nd generation and newer.
#     Athlon 200GE/220GE/240GE (Zen 1) and the older A-, E-, FX, Phenom, Athlon II/64 lines are not.
# Anything else this rule cannot place is unknown (None), never True.

_INTEL_CORE = re.compile(r"\bCore\s*i([3579])\s*-?\s*(?:M\s*)?(\d{3,5})([A-Z]{0,2}\d?[A-Z]?)\b",
                         re.IGNORECASE)
_INTEL_CORE_M = re.compile(r"\bCore\s*M\d?\s*-?\s*(?:(\d{4})Y|(\d)Y\d\d)", re.IGNORECASE)
_INTEL_OK = re.compile(
    r"\bCore\s+Ultra\s+[3579]\b|\bCore\s+[3579]\s+\d{3}[A-Z]{0,2}\b|\bCore\s*i3-N3\d\d\b|\bCore\s*i[35]-L1\d"
    r"|\bIntel\s+(?:Processor\s+)?(?:N\d{2,3}|U300E?)\b",
    re.IGNORECASE,
)
_INTEL_OLD = re.compile(r"\bCore\s*2\b|\bCore\s+(?:Duo|Solo)\b|\bCore2\b", re.IGNORECASE)
_PENTIUM_OK = re.compile(
    r"\bPentium\s+(?:(?:Gold|Silver)\s+)?(?:4417U|4425Y|[5-8]\d0[05][UY]|7505|8505|8500|6805|G5\d{3}|G6[4-6]\d\d"
    r"|G7\d{3}|[NJ][56]\d{3}|J6426|N6415)",
    re.IGNORECASE,
)
_CELERON_OK = re.compile(
    r"\bCeleron\s+(?:N[456]\d{3}|J[46]\d{3}|G[456]9\d\d|3867U|[4-7]\d05|7300)", re.IGNORECASE
)
_ATOM_OK = re.compile(r"\bAtom\s+x6\d{3}", re.IGNORECASE)
_XEON_OK = re.compile(
    r"\bXeon\s+(?:E-2\d{3}|W-\d{4,5}|w[3579]-\d{4}|(?:Bronze|Silver|Gold|Platinum)\s+\d{4})", re.IGNORECASE
)
_XEON_OLD = re.compile(r"\bXeon\s+(?:E[357]-\d{4}|[EXLW]\d{4}|\d{4})\b", re.IGNORECASE)
_RYZEN = re.compile(r"\bRyzen\s+[3579]\s+(?:PRO\s+)?(\d)\d{3}([A-Z]*)", re.IGNORECASE)
_RYZEN_OTHER = re.compile(
    r"\bRyzen\s+(?:(AI|Z\d)\b|Threadripper\s+(?:PRO\s+)?(\d)\d{3}|Embedded\s+[RV](\d)\d{3})", re.IGNORECASE
)
_AMD_OK = re.compile(
    r"\bAthlon\s+(?:Gold|Silver)\b|\bAthlon\s+(?:PRO\s+)?(?:3\d\d(?:U|GE)|3000G|3045B|7\d20[UCe])\b"
    r"|\bAMD\s+30[12][05]C?e\b",
    re.IGNORECASE,
)
_AMD_OLD = re.compile(
    r"\b(?:Athlon|Phenom|Sempron|Turion|Opteron|Duron|Geode|FX|A\d{1,2}(?:-\d|\s+PRO)|E\d?-\d|C-\d)",
    re.IGNORECASE,
)
_EPYC = re.compile(r"\bEPYC\s+[\dA-Z]{3}(\d)", re.IGNORECASE)


def cpu_supports_windows11(name):
    """True when Microsoft lists the processor for Windows 11, False when it is older or excluded, None when
    the name cannot be placed (see the rule above)."""
    if not isinstance(name, str) or not name.strip():
        return None
    text = cpu_name(name) or " ".join(_MARKS.sub(" ", name).split())
    for rule in (_intel_core, _intel_value, _xeon, _amd_ryzen, _amd_other):
        verdict = rule(text)
        if verdict is not _NOT_PLACED:
            return verdict
    return None


_NOT_PLACED = object()  # a rule's answer for a name outside its family


def _intel_core(text):
    match = _INTEL_CORE.search(text)
    if match:
        number, suffix = match.group(2), match.group(3).upper()
        model = f"i{match.group(1)}-{number}{suffix}"
        if model in ("i7-7820HQ", "i3-8121U"):
            return None  # supported on a few devices only / 8th generation but missing from the list
        generation = _core_generation(number)
        if generation == 7 and suffix.startswith("X") and int(number) >= 7800:
            return True  # Skylake-X, sold as 7th generation
        return generation >= 8
    match = _INTEL_CORE_M.search(text)
    if match:  # m3-8100Y is listed; M-5Y71, m3-6Y30, m3-7Y30 are older
        return bool(match.group(1)) and int(match.group(1)[0]) >= 8
    if _INTEL_OK.search(text):
        return True
    if _INTEL_OLD.search(text):
        return False
    return _NOT_PLACED


def _core_generation(number):
    """i7-920 -> 1, i5-8250U -> 8, i5-1135G7 -> 11, i7-10510U -> 10: four-digit numbers starting with 1 are
    10th–13th generation (no 1st-generation Core has four digits)."""
    if len(number) == 3:
        return 1
    return int(number[:2]) if len(number) == 5 or number[0] == "1" else int(number[0])


def _intel_value(text):
    """Pentium, Celeron and Atom: only the listed models; these lines are closed, so any other is older."""
    if re.search(r"\bAtom\s+x7\d{3}", text, re.IGNORECASE):
        return None  # the 2024 x7000E series: not placed
    for brand, listed in (("Pentium", _PENTIUM_OK), ("Celeron", _CELERON_OK), ("Atom", _ATOM_OK)):
        if re.search(rf"\b{brand}\b", text, re.IGNORECASE):
            return bool(listed.search(text))
    return _NOT_PLACED


def _xeon(text):
    if _XEON_OK.search(text):
        return True
    if _XEON_OLD.search(text):
        return False
    return _NOT_PLACED


def _amd_ryzen(text):
    match = _RYZEN.search(text)
    if match:
        series, suffix = int(match.group(1)), match.group(2).upper()
        if series >= 3:
            return True
        if series == 2 and suffix in ("", "X", "E"):
            return True  # Zen+ desktop (Pinnacle Ridge)
        if series == 2 and suffix not in ("U", "H", "G", "GE"):
            return None
        return False  # Ryzen 1000, and the Zen 1 Raven Ridge APUs numbered 2000
    match = _RYZEN_OTHER.search(text)
    if match:  # Ryzen AI / Z1 yes; Threadripper and Embedded from their 2nd generation
        return True if match.group(1) else int(match.group(2) or match.group(3)) >= 2
    return _NOT_PLACED


def _amd_other(text):
    match = _EPYC.search(text)
    if match:
        return match.group(1) != "1"  # EPYC 7xx1 / 3xx1 are Zen 1
    if _AMD_OK.search(text):
        return True
    if _AMD_OLD.search(text):
        return False
    return _NOT_PLACED


# ----------------------------------------------------------------------------------------- helpers


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _gib(total_bytes, exact=True):
    """Installed memory in GiB.  `exact` sizes (the sum of the modules) are kept to two decimals; a total
    the OS counted (what is left after firmware reservations, e.g. 15.87 GiB) is rounded up to whole GiB
    unless it is a multiple of 512 MiB already."""
    if not total_bytes or total_bytes <= 0:
        return None
    if exact or total_bytes % HALF_GIB == 0:
        return round(total_bytes / GIB, 2)
    return float(math.ceil(total_bytes / GIB))


# Marketed panel diagonals: an EDID size in whole millimetres lands within a tenth of an inch of them.
_PANELS = (
    10.1, 11.6, 12.0, 12.1, 12.5, 13.0, 13.3, 13.4, 13.5, 14.0, 15.0, 15.4, 15.6, 16.0, 16.1, 17.0, 17.3, 18.4
)


def _inches(diagonal_inches):
    if not diagonal_inches or not 5 <= diagonal_inches <= 25:
        return None
    nearest = min(_PANELS, key=lambda size: abs(size - diagonal_inches))
    return nearest if abs(nearest - diagonal_inches) <= 0.1 else round(diagonal_inches, 1)


def _from_mm(width, height):
    return _inches(math.hypot(width, height) / 25.4)


# ------------------------------------------------------------------------------------ lshw -json


def lshw_specs(nodes):
    """Specs from the nodes of an lshw tree (any order): CPU, cores, 64-bit, UEFI and installed RAM."""
    part, facts = {}, {}
    nodes = [node for node in nodes if isinstance(node, dict)]
    cpus = [
        node for node in nodes
        if node.get("class") == "processor" and node.get("disabled") is not True
        and (isinstance(node.get("product"), str) or "cores" in _dict(node.get("configuration")))
    ]
    for node in cpus:
        name = cpu_name(node.get("product"))
        if name and "cpu" not in part:
            part["cpu"] = name
            part["cpu_vendor"] = cpu_vendor(name, node.get("vendor"))
        caps = _dict(node.get("capabilities"))
        if "x86-64" in caps or "lm" in caps:
            facts["x86-64"] = True
        elif "fpu" in caps:  # the CPU flags are listed, and "lm" (long mode) is not among them
            facts.setdefault("x86-64", False)
    cores = [_int(_dict(node.get("configuration")).get("cores")) for node in cpus]
    if cores and all(isinstance(count, int) and count > 0 for count in cores):
        part["cores"] = sum(cores)
    for node in nodes:
        if node.get("id") == "firmware" or node.get("description") == "BIOS":
            if "uefi" in _dict(node.get("capabilities")):
                facts["uefi"] = True
            elif "seabios" in str(node.get("vendor") or "").lower():
                facts["uefi"] = False  # QEMU's legacy BIOS
    ram = _lshw_ram(nodes)
    if ram:
        part["ram_gb"] = ram
    if facts:
        part["facts"] = facts
    return {key: value for key, value in part.items() if value is not None}


def _lshw_ram(nodes):
    banks_total, os_total = 0, 0
    for node in nodes:
        if node.get("class") != "memory" or str(node.get("description") or "").lower() != "system memory":
            continue
        banks = [child for child in _list(node.get("children")) if isinstance(child, dict)]
        sizes = [_int(bank.get("size")) for bank in banks if (bank.get("units") or "bytes") == "bytes"]
        sizes = [size for size in sizes if size and size > 0]
        if sizes:
            banks_total += sum(sizes)
        elif (_int(node.get("size")) or 0) > 0 and (node.get("units") or "bytes") == "bytes":
            os_total += _int(node.get("size"))  # lshw fell back to the kernel's count (RAM it cannot see)
    if banks_total:
        return _gib(banks_total + os_total)
    return _gib(os_total, exact=False)


# --------------------------------------------------------------------------------------- dmidecode

_DMI_SIZE = re.compile(r"(\d+)\s*(kB|KB|MB|GB|TB)\b")
_DMI_UNITS = {"kB": 2**10, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def dmidecode_specs(records):
    """Specs from dmidecode records [(type, title, fields, lists)]: CPU (Version, else Family), cores,
    64-bit, UEFI, installed RAM (memory devices) and the TPM (type 43, SMBIOS 3.1+)."""
    part, facts = {}, {}
    cpus = [
        (fields, lists) for dmi_type, _title, fields, lists in records
        if dmi_type == 4 and not fields.get("Status", "").startswith("Unpopulated")
        and fields.get("Type", "Central Processor") == "Central Processor"
    ]
    for fields, lists in cpus:
        name = cpu_name(fields.get("Version"))
        vendor = cpu_vendor(name, fields.get("Manufacturer"))
        if name and "cpu" not in part:
            part["cpu"], part["cpu_vendor"] = name, vendor
        family = cpu_name(fields.get("Family"))  # "Pentium M": used when no part names the model
        if name is None and family and vendor in ("intel", "amd"):
            part.setdefault("cpu_family", f"{'Intel' if vendor == 'intel' else 'AMD'} {family}")
            part.setdefault("cpu_vendor", vendor)
        if "64-bit capable" in lists.get("Characteristics", []):
            facts["x86-64"] = True
    cores = [_int(fields.get("Core Count")) for fields, _lists in cpus]
    if cores and all(isinstance(count, int) and count > 0 for count in cores):
        part["cores"] = sum(cores)
    for dmi_type, _title, fields, lists in records:
        if dmi_type == 0:
            if "UEFI is supported" in lists.get("Characteristics", []):
                facts["uefi"] = True
            elif "seabios" in fields.get("Vendor", "").lower():
                facts["uefi"] = False
        elif dmi_type == 43:
            _dmi_tpm(fields, lists, part, facts)
    ram = _dmi_ram(records)
    if ram:
        part["ram_gb"] = ram
    if facts:
        part["facts"] = facts
    return {key: value for key, value in part.items() if value is not None}


def _dmi_tpm(fields, lists, part, facts):
    """TPM Device (type 43).  Some dmidecode releases forget a newline there, hence the search."""
    version = re.match(r"\s*(\d+)\.(\d+)", fields.get("Specification Version", ""))
    if not version or "tpm" in part:
        return
    part["tpm"] = f"{version.group(1)}.{version.group(2)}"
    if int(version.group(1)) >= 2:
        facts["tpm2"] = True
    elif "Family configurable via firmware update" not in lists.get("Characteristics", []):
        facts["tpm2"] = False  # a TPM 1.2 that a firmware update cannot turn into 2.0


def _dmi_size(text):
    match = _DMI_SIZE.match(text or "")
    return int(match.group(1)) * _DMI_UNITS[match.group(2)] if match else None


def _dmi_ram(records):
    devices = [_dmi_size(fields.get("Size")) for dmi_type, _t, fields, _l in records if dmi_type == 17]
    if not any(devices):  # SMBIOS 2.0 machines describe memory modules (type 6) instead
        devices = [_dmi_size(fields.get("Installed Size")) for kind, _t, fields, _l in records if kind == 6]
    return _gib(sum(size for size in devices if size))


# ------------------------------------------------------------------------------ snapshot extras


def hwinfo_screen(text):
    """The built-in panel's diagonal from `hwinfo` monitor entries, or None.

    A laptop panel is the monitor without an EDID range-limits block ("Driver Info") and without a serial
    number; external monitors have both.  When that does not single out one monitor, nothing is said."""
    if not isinstance(text, str):
        return None
    panels = []
    for block in re.split(r"\n\s*\n", text):
        if "Hardware Class: monitor" not in block:
            continue
        size = re.search(r"^\s*Size:\s*(\d+)x(\d+)\s*mm", block, re.MULTILINE)
        serial = re.search(r'^\s*Serial ID:\s*"([^"]*)"', block, re.MULTILINE)
        if size and "Driver Info" not in block and (serial is None or serial.group(1).strip() in ("", "0")):
            panels.append(_from_mm(int(size.group(1)), int(size.group(2))))
    return panels[0] if len(panels) == 1 else None


def inxi_specs(text):
    """Specs from `inxi --output json` (workbench-script 0.0.1): CPU, cores, 64-bit, RAM modules, UEFI boot
    and the built-in panel (eDP/LVDS/DSI connector)."""
    try:
        sections = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return {}
    entries = {}
    for section in _list(sections):
        for title, items in _dict(section).items():
            name = str(title).split("#")[-1]
            entries[name] = [  # keys like "003#0#2#bits": the name is after the last #
                {str(key).split("#")[-1]: value for key, value in _dict(item).items()}
                for item in _list(items)
            ]
    part, facts = {}, {}
    cpu = next((item for item in entries.get("CPU", []) if "model" in item), {})
    name = cpu_name(cpu.get("model"))
    if name:
        part["cpu"], part["cpu_vendor"] = name, cpu_vendor(name)
    if _int(cpu.get("bits")) == 64:
        facts["x86-64"] = True
    cores = [_int(item.get("cores")) for item in entries.get("CPU", [])]
    part["cores"] = next((count for count in cores if count), None)
    modules = [item.get("size") for item in entries.get("Memory", []) if "Device" in item]
    sizes = [_inxi_bytes(size) for size in modules]
    if sizes and all(sizes):
        part["ram_gb"] = _gib(sum(sizes))
    if any(key.startswith("UEFI") for item in entries.get("Machine", []) for key in item):
        facts["uefi"] = True  # inxi says "UEFI" when the machine booted through UEFI firmware
    for item in entries.get("Graphics", []):
        connector = str(item.get("Monitor") or "")
        diagonal = re.match(r"\s*(\d+)\s*mm", str(item.get("diag") or ""))
        if re.match(r"(eDP|LVDS|DSI)\b", connector) and diagonal:
            part["screen_inches"] = _inches(int(diagonal.group(1)) / 25.4)
            break
    if facts:
        part["facts"] = facts
    return {key: value for key, value in part.items() if value is not None}


def _inxi_bytes(text):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(MiB|GiB|TiB)\s*", str(text or ""))
    if not match:
        return None
    return int(float(match.group(1)) * {"MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[match.group(2)])


def wb11_specs(components, laptop):
    """Specs from Workbench 11 components: Processor, RamModule (sizes in MiB) and, on a laptop, Display."""
    part, facts = {}, {}
    components = [component for component in _list(components) if isinstance(component, dict)]
    cpus = [component for component in components if component.get("type") == "Processor"]
    for component in cpus:
        name = cpu_name(component.get("model"))
        if name and "cpu" not in part:
            part["cpu"], part["cpu_vendor"] = name, cpu_vendor(name, component.get("manufacturer"))
        if _int(component.get("address")) == 64:
            facts["x86-64"] = True
    cores = [_int(component.get("cores")) for component in cpus]
    if cores and all(isinstance(count, int) and count > 0 for count in cores):
        part["cores"] = sum(cores)
    modules = [component.get("size") for component in components if component.get("type") == "RamModule"]
    if modules and all(isinstance(size, int | float) and not isinstance(size, bool) and 0 < size < 2**24
                       for size in modules):
        part["ram_gb"] = _gib(int(sum(modules) * 2**20))
    displays = [component.get("size") for component in components if component.get("type") == "Display"]
    if laptop and len(displays) == 1 and type(displays[0]) in (int, float):
        part["screen_inches"] = _inches(displays[0])
    if facts:
        part["facts"] = facts
    return {key: value for key, value in part.items() if value is not None}


# ------------------------------------------------------------------------------------ together


def combine(parts, media=(), screen_inches=None):
    """One `specs` dict from the parts of one machine, best source first (a later part only fills gaps),
    plus the storage total of `media`, the CPU verdict and the derived arch/firmware.  {} when nothing."""
    merged, facts = {}, {}
    for part in parts:
        for key, value in part.items():
            if key == "facts":
                for fact, known in value.items():
                    facts.setdefault(fact, known)
            else:
                merged.setdefault(key, value)
    merged.setdefault("cpu", merged.get("cpu_family"))
    if screen_inches:
        merged.setdefault("screen_inches", screen_inches)
    storage = storage_gb(media)
    if storage:
        merged["storage_gb"] = storage
    verdict = cpu_supports_windows11(merged.get("cpu"))
    if verdict is not None:
        facts["cpu-win11"] = verdict
    if "x86-64" in facts:
        merged["arch"] = "x86-64" if facts["x86-64"] else "x86"
    if "uefi" in facts:
        merged["firmware"] = "uefi" if facts["uefi"] else "bios"
    order = ("cpu", "cpu_vendor", "cores", "arch", "ram_gb", "storage_gb", "screen_inches", "firmware", "tpm")
    specs = {key: merged[key] for key in order if merged.get(key) is not None}
    if facts:
        specs["facts"] = {key: facts[key] for key in WIN11_CHECKS if key in facts}
    return specs


def _internal_sizes(media):
    """Sizes in bytes of the media that belong to the machine (USB sticks and card readers do not)."""
    return [
        medium["size_bytes"] for medium in media
        if isinstance(medium, dict) and medium.get("type") != "removable"
        and isinstance(medium.get("size_bytes"), int) and medium["size_bytes"] > 0
    ]


def storage_gb(media):
    """Total of the machine's own storage media in decimal GB (one decimal), None when no size is known."""
    sizes = _internal_sizes(media or [])
    return round(sum(sizes) / 1e9, 1) if sizes else None


# ------------------------------------------------------------------------------------ Windows 11


def windows11(found):
    """Whether Windows 11 may go on the machine `found` describes (a parse_file() result).

    {"eligible": True|False|None, "checks": [{"requirement", "ok", "detail"}, …]}, one check per
    WIN11_CHECKS entry.  eligible is False when a check fails, True only when every check is known and
    passes, None otherwise.  Storage is the largest of the machine's own drives (Windows goes on one)."""
    specs = found.get("specs") or {}
    facts = specs.get("facts") or {}
    values = {"cpu": specs.get("cpu") or _("the processor"), "tpm": specs.get("tpm") or "2.0"}
    checks = [_check(requirement, facts.get(requirement), values) for requirement in WIN11_CHECKS[:5]]
    if facts.get("tpm2") is None and specs.get("tpm"):
        checks[3]["detail"] = _(_TPM_UPDATABLE).format(**values)
    sizes = _internal_sizes(found.get("media") or [])
    largest = round(max(sizes) / 1e9, 1) if sizes else specs.get("storage_gb")
    for requirement, have, need in (("ram", specs.get("ram_gb"), WIN11_MIN_RAM_GB),
                                    ("storage", largest, WIN11_MIN_STORAGE_GB)):
        ok = None if have is None else have >= need
        checks.append(_check(requirement, ok, {"have": f"{have or 0:g}", "need": need}))
    oks = [check["ok"] for check in checks]
    eligible = False if False in oks else True if all(ok is True for ok in oks) else None
    return {"eligible": eligible, "checks": checks}


# requirement -> (passes, fails, unknown), in the user's language when shown
_DETAILS = {
    "x86-64": (N_("64-bit x86 processor"), N_("not a 64-bit x86 processor"),
               N_("not known whether the processor is 64-bit")),
    "uefi": (N_("UEFI firmware"), N_("legacy BIOS firmware, no UEFI"),
             N_("firmware type not known: check for UEFI in the firmware setup")),
    "secure-boot": (N_("Secure Boot capable"), N_("no Secure Boot"),
                    N_("Secure Boot not known: check in the firmware setup")),
    "tpm2": (N_("TPM {tpm}"), N_("TPM {tpm}: Windows 11 needs TPM 2.0"),
             N_("TPM 2.0 not known: check in the firmware setup (it may be switched off)")),
    "cpu-win11": (N_("{cpu} is supported by Windows 11"), N_("{cpu} is not supported by Windows 11"),
                  N_("not known whether Windows 11 supports {cpu}")),
    "ram": (N_("{have} GB RAM"), N_("{have} GB RAM: Windows 11 needs {need} GB"), N_("RAM not known")),
    "storage": (N_("{have} GB drive"), N_("largest drive {have} GB: Windows 11 needs {need} GB"),
                N_("storage not known")),
}
_TPM_UPDATABLE = N_("TPM {tpm}: a firmware update may make it TPM 2.0")


def _check(requirement, ok, values):
    passes, fails, unknown = _DETAILS[requirement]
    detail = passes if ok is True else fails if ok is False else unknown
    return {"requirement": requirement, "ok": ok, "detail": _(detail).format(**values)}
