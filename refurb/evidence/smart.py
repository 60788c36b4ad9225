"""smartctl --json output and eReuse Workbench snapshots (issue 4, item 2).

smartctl: ATA/SAT, NVMe, SCSI/SAS, drives behind USB bridges, and the error-only outputs smartctl writes
when it cannot open or identify a device.  eReuse snapshots come in three generations in the wild:
workbench-script / Workbench 2022 (`data` holds raw lshw, dmidecode and smartctl outputs), workbench-script
0.0.1 (`data.smartctl` is a JSON string) and Workbench 11 (already parsed `device` + `components`, with
erase and test actions).  Snapshots also give the machine's `specs` (specs.py), from their dmidecode, lshw,
inxi and hwinfo outputs or Workbench 11's components.  Stdlib only.
"""

import json
import re

from . import PLACEHOLDER_NAMES as _PLACEHOLDER_NAMES
from . import real_serial
from .hardware import dmi_records, lshw_nodes
from .specs import combine, dmidecode_specs, hwinfo_screen, inxi_specs, lshw_specs, wb11_specs

_USB_BRIDGES = ("usb", "snt")  # smartctl -d usbjmicron, usbcypress, usbsunplus, sntjmicron, sntasmedia …
_HDD_FAMILIES = re.compile(
    r"\b(deskstar|travelstar|ultrastar|barracuda|momentus|caviar|spinpoint|scorpio|constellation|ironwolf"
    r"|skyhawk|exos|hdd)\b"
)
_LAPTOP = {"notebook", "laptop", "portable", "sub notebook", "subnotebook", "netbook", "convertible"}
_TABLET = {"tablet", "detachable"}
_DESKTOP = {
    "desktop", "low profile desktop", "tower", "mini tower", "all in one", "all-in-one", "mini pc",
    "space-saving", "lunch box", "pizza box", "stick pc", "main server chassis", "rack mount chassis",
    "sealed-case pc", "mini", "server", "computer",
}
_PHONE = {"smartphone", "cellphone", "phone", "hand held", "handheld"}


_serial = real_serial  # "REDACTED" (exporter test data) is among the placeholders


def _name(value):
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return None if text.lower() in _PLACEHOLDER_NAMES else text


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e30:
        return int(value)
    return None


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _chassis_kind(value):
    text = str(value or "").strip().lower()
    if not text:
        return None
    for kind, names in (("laptop", _LAPTOP), ("tablet", _TABLET), ("desktop", _DESKTOP), ("phone", _PHONE)):
        if text in names:
            return kind
    return "other"


def _load_object(text):
    start = text.lstrip("\ufeff \t\r\n")
    if not start.startswith("{"):
        return None
    try:
        found = json.loads(start)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


# --- smartctl --json ---------------------------------------------------------------------------------

def _is_smartctl(doc):
    return isinstance(doc, dict) and "json_format_version" in doc and isinstance(doc.get("smartctl"), dict)


def sniff_smartctl(text, name):
    if '"json_format_version"' not in text or not text.lstrip("\ufeff \t\r\n").startswith("{"):
        return False
    return _is_smartctl(_load_object(text))


def _attributes(doc):
    table = _list(_dict(doc.get("ata_smart_attributes")).get("table"))
    return {a.get("id"): a for a in table if isinstance(a, dict)}


def _raw(attribute):
    return _int(_dict(_dict(attribute).get("raw")).get("value"))


def _endurance_used(doc):
    for page in _list(_dict(doc.get("ata_device_statistics")).get("pages")):
        for entry in _list(_dict(page).get("table")):
            entry = _dict(entry)
            if entry.get("name") == "Percentage Used Endurance Indicator" and _int(entry.get("value")) is not None:
                return _int(entry["value"])
    return None


def _wear(doc, attributes, media_type):
    nvme = _int(_dict(doc.get("nvme_smart_health_information_log")).get("percentage_used"))
    if nvme is not None:
        return max(0, min(100, nvme))
    scsi = _int(doc.get("scsi_percentage_used_endurance_indicator"))
    if scsi is not None:
        return max(0, min(100, scsi))
    if media_type == "hdd":
        return None
    used = _endurance_used(doc)
    if used is not None:
        return max(0, min(100, used))
    # Normalised SSD life attributes count down from 100 (Samsung 177, Kingston/Phison 231, Intel 233,
    # Crucial 202); these ids mean other things on spinning disks, hence the media check above.
    for attr_id in (177, 231, 233, 202):
        value = _int(_dict(attributes.get(attr_id)).get("value"))
        if value is not None and 0 <= value <= 100:
            return 100 - value
    return None


def _media_type(doc, model, family):
    device = _dict(doc.get("device"))
    protocol = str(device.get("protocol") or "").lower()
    dtype = str(device.get("type") or "").lower()
    rotation = _int(doc.get("rotation_rate"))
    if protocol == "nvme" or dtype == "nvme" or "nvme_smart_health_information_log" in doc:
        return "nvme"
    if rotation is not None and rotation > 0:
        return "hdd"
    text = f"{model or ''} {family or ''}".lower()
    form_factor = str(_dict(doc.get("form_factor")).get("name") or "").lower()
    if rotation == 0 or re.search(r"\bssd", text) or form_factor in ("msata", "m.2"):
        return "sata-ssd"
    if _HDD_FAMILIES.search(text):
        return "hdd"  # old drives omit the rotation rate; smartctl's drive database still names the family
    if dtype.startswith(_USB_BRIDGES) or "[usb" in str(device.get("info_name") or "").lower():
        return "removable"
    return None


def _smartctl_medium(doc):
    """(medium dict or None, warnings) for one smartctl JSON object."""
    warnings = []
    device = _dict(doc.get("device"))
    messages = [
        str(_dict(m).get("string")) for m in _list(_dict(doc.get("smartctl")).get("messages"))
        if _dict(m).get("severity") == "error" and _dict(m).get("string")
    ]
    model = _name(doc.get("model_name")) or _name(doc.get("scsi_model_name"))
    if not model:
        model = _name(" ".join(str(doc.get(k) or "") for k in ("scsi_vendor", "scsi_product")))
    family = _name(doc.get("model_family"))
    serial = _serial(doc.get("serial_number"))
    if not device and not model and not serial:
        for message in messages:
            warnings.append(f"smartctl read no drive: {message}")
        if not messages:
            warnings.append("smartctl output without drive data")
        return None, warnings
    for message in messages:
        warnings.append(f"smartctl: {message}")
    medium = {}
    if serial:
        medium["serial"] = serial
    elif doc.get("serial_number") is not None:
        warnings.append(f"placeholder serial {str(doc['serial_number']).strip()!r} ignored")
    if model:
        medium["model"] = model
    media_type = _media_type(doc, model, family)
    if media_type:
        medium["type"] = media_type
    size = _int(_dict(doc.get("user_capacity")).get("bytes")) or _int(doc.get("nvme_total_capacity"))
    if not size:
        namespaces = _list(doc.get("nvme_namespaces"))
        size = _int(_dict(_dict(namespaces[0] if namespaces else {}).get("size")).get("bytes"))
    if size and size > 0:
        medium["size_bytes"] = size
    dtype = str(device.get("type") or "").lower()
    if dtype.startswith(_USB_BRIDGES):
        warnings.append(f"{model or 'drive'} read through a USB bridge ({dtype})")
    health = {}
    status = _dict(doc.get("smart_status"))
    if isinstance(status.get("passed"), bool):
        health["smart_passed"] = status["passed"]
        if not status["passed"]:
            warnings.append(f"{serial or model or 'drive'}: SMART overall health FAILED")
    attributes = _attributes(doc)
    nvme_log = _dict(doc.get("nvme_smart_health_information_log"))
    hours = _int(_dict(doc.get("power_on_time")).get("hours"))
    if hours is None:
        hours = _int(nvme_log.get("power_on_hours"))
    if hours is None and 9 in attributes:
        hours = _raw(attributes[9])
    if hours is not None and hours >= 0:
        health["power_on_hours"] = hours
    wear = _wear(doc, attributes, media_type)
    if wear is not None:
        health["wear_percent"] = wear
    if health:
        medium["health"] = health
    label = serial or model or "drive"
    for attr_id, what in ((5, "reallocated sectors"), (197, "pending sectors"), (198, "offline uncorrectable")):
        count = _raw(attributes.get(attr_id)) if media_type == "hdd" else None
        if count:
            warnings.append(f"{label}: {count} {what}")
    defects = _int(doc.get("scsi_grown_defect_list"))
    if defects:
        warnings.append(f"{label}: {defects} grown defects")
    critical = _int(nvme_log.get("critical_warning"))
    if critical:
        warnings.append(f"{label}: NVMe critical warning {critical:#04x}")
    return medium, warnings


def parse_smartctl(text, name):
    doc = _load_object(text)
    if not _is_smartctl(doc):
        raise ValueError("not smartctl --json output (no json_format_version/smartctl object)")
    medium, warnings = _smartctl_medium(doc)
    found = {"media": [medium] if medium else []}
    if warnings:
        found["warnings"] = warnings
    return found


# --- eReuse Workbench snapshots ----------------------------------------------------------------------

_SNAPSHOT_TYPE = re.compile(r'"type"\s*:\s*"Snapshot"')


def _is_snapshot(doc):
    if not isinstance(doc, dict) or doc.get("type") != "Snapshot":
        return False
    return isinstance(doc.get("data"), dict) or (isinstance(doc.get("device"), dict) and "components" in doc)


def sniff_snapshot(text, name):
    if not _SNAPSHOT_TYPE.search(text) or not text.lstrip("\ufeff \t\r\n").startswith("{"):
        return False
    return _is_snapshot(_load_object(text))


def _dmi_sections(text):
    """{section title: [ {key: value} … ]} from dmidecode text (tab- or space-indented)."""
    sections, current = {}, None
    for line in text.replace("\r", "").split("\n"):
        if not line.strip():
            current = None
            continue
        if line.startswith("Handle "):
            current = None
            continue
        if not line[0].isspace():
            current = {}
            sections.setdefault(line.strip(), []).append(current)
            continue
        if current is not None and ":" in line:
            key, _, value = line.strip().partition(":")
            current.setdefault(key.strip(), value.strip())
    return sections


def _dmi_device(text):
    sections = _dmi_sections(text)
    system = (sections.get("System Information") or [{}])[0]
    chassis = (sections.get("Chassis Information") or [{}])[0]
    device = {}
    make = _name(system.get("Manufacturer"))
    model = _name(system.get("Product Name"))
    version = _name(system.get("Version"))
    if make and make.lower().startswith("lenovo") and version and version.lower() not in ("none", "lenovo"):
        model = version  # Lenovo puts the machine type in Product Name and the model name in Version
    serial = _serial(system.get("Serial Number")) or _serial(chassis.get("Serial Number"))
    kind = _chassis_kind(chassis.get("Type"))
    for key, value in (("make", make), ("model", model), ("serial", serial), ("kind", kind)):
        if value:
            device[key] = value
    battery = {}
    for entry in sections.get("Portable Battery") or []:
        match = re.fullmatch(r"(\d+)\s*mWh", entry.get("Design Capacity", ""))
        if match and int(match.group(1)) > 0:
            battery["design_capacity_wh"] = round(int(match.group(1)) / 1000, 1)
            break
    return device, battery


def _lshw_device(lshw):
    device = {}
    make = _name(lshw.get("vendor"))
    product = _name(lshw.get("product"))
    model = re.sub(r"\s*\(.*\)$", "", product) if product else None
    version = _name(lshw.get("version"))
    if make and make.lower().startswith("lenovo") and version:
        model = version
    serial = _serial(lshw.get("serial"))
    kind = _chassis_kind(_dict(lshw.get("configuration")).get("chassis"))
    for key, value in (("make", make), ("model", _name(model)), ("serial", serial), ("kind", kind)):
        if value:
            device[key] = value
    return device


def _lshw_battery(lshw):
    stack = [lshw]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        is_battery = str(node.get("id", "")).startswith("battery")  # id "power" is a PSU
        if is_battery and node.get("class") == "power" and str(node.get("units", "")).lower() == "mwh":
            capacity = _int(node.get("capacity"))
            if capacity and capacity > 0:
                return {"design_capacity_wh": round(capacity / 1000, 1)}
        stack.extend(_list(node.get("children")))
    return {}


def _smart_entries(data):
    entries = data.get("smart")
    if entries is None and isinstance(data.get("smartctl"), str):
        try:
            entries = json.loads(data["smartctl"])
        except ValueError:
            return None
    if isinstance(entries, dict):
        entries = [entries]
    return entries if isinstance(entries, list) else None


def _parse_data_snapshot(doc):
    data = doc["data"]
    warnings, parts = [], []
    device, battery = {}, {}
    if isinstance(data.get("dmidecode"), str):
        device, battery = _dmi_device(data["dmidecode"])
        parts.append(dmidecode_specs(dmi_records(data["dmidecode"])))
    lshw = data.get("lshw")
    if isinstance(lshw, str) and lshw.strip():
        try:
            lshw = json.loads(lshw)
        except ValueError:
            warnings.append("lshw output in the snapshot is not valid JSON")
            lshw = None
    if isinstance(lshw, list):
        lshw = lshw[0] if lshw else None
    if isinstance(lshw, dict):
        for key, value in _lshw_device(lshw).items():
            device.setdefault(key, value)
        if not battery:
            battery = _lshw_battery(lshw)
        parts.append(lshw_specs(node for node, _ancestors in lshw_nodes(lshw)))
    parts.append(inxi_specs(data.get("inxi")))
    media = []
    entries = _smart_entries(data)
    if entries is None:
        warnings.append("no readable smartctl data in the snapshot")
        entries = []
    for entry in entries:
        if isinstance(entry, str):
            try:
                entry = json.loads(entry)
            except ValueError:
                warnings.append("a smartctl entry in the snapshot is not valid JSON")
                continue
        if not isinstance(entry, dict):
            continue
        medium, entry_warnings = _smartctl_medium(entry)
        if medium:
            media.append(medium)
        warnings.extend(entry_warnings)
    screen = hwinfo_screen(data.get("hwinfo")) if device.get("kind") in ("laptop", "tablet") else None
    return device, media, battery, [], combine(parts, media, screen), warnings


_WB11_STORAGE = {"HardDrive": "hdd", "SolidStateDrive": "sata-ssd", "DataStorage": None}
_WB11_ERASE = {"EraseBasic": "clear", "EraseSectors": "clear", "EraseCrypto": "purge"}


def _wb11_medium(component, warnings, version=""):
    medium = {}
    serial = _serial(component.get("serialNumber"))
    model = _name(component.get("model"))
    if serial:
        medium["serial"] = serial
    if model:
        medium["model"] = model
    interface = str(component.get("interface") or "").lower()
    media_type = "nvme" if interface == "nvme" else _WB11_STORAGE.get(component.get("type"))
    if interface == "usb":
        media_type = "removable"
    if media_type:
        medium["type"] = media_type
    size = component.get("size")
    if isinstance(size, (int, float)) and not isinstance(size, bool) and 0 < size < 1e12:
        # Workbench 11 sizes are in MB, but its alpha releases (11.0a*) wrote MiB
        medium["size_bytes"] = round(size * (1_048_576 if str(version).startswith("11.0a") else 1_000_000))
    health = {}
    erasures = []
    for action in _list(component.get("actions")):
        action = _dict(action)
        kind = action.get("type")
        if kind == "TestDataStorage":
            if isinstance(action.get("assessment"), bool):
                health["smart_passed"] = action["assessment"]
            hours = _int(action.get("lifetime"))
            if hours is not None and hours >= 0:
                health["power_on_hours"] = hours
            status = action.get("status")
            if isinstance(status, str) and status != "Completed without error":
                warnings.append(f"{serial or model or 'drive'}: self-test {status}")
        elif kind in _WB11_ERASE:
            steps = [
                str(_dict(s).get("type", "")).removeprefix("Step").lower() for s in _list(action.get("steps"))
            ]
            erasure = {"method": f"{kind} ({'+'.join(steps)})" if steps else kind, "passes": len(steps)}
            if serial:
                erasure = {"serial": serial, **erasure}
            severity = [action.get("severity")] + [_dict(s).get("severity") for s in _list(action.get("steps"))]
            erasure["result"] = "fail" if "Error" in severity else "pass"
            for key, field in (("start", "startTime"), ("end", "endTime")):
                if isinstance(action.get(field), str):
                    erasure[key] = action[field]
            erasure["level"] = _WB11_ERASE[kind]  # overwriting is Clear, a crypto erase Purge (NIST SP 800-88)
            erasures.append(erasure)
    if health:
        medium["health"] = health
    return medium, erasures


def _parse_wb11_snapshot(doc):
    warnings = []
    raw = doc["device"]
    device = {}
    for key, field in (("make", "manufacturer"), ("model", "model")):
        if _name(raw.get(field)):
            device[key] = _name(raw[field])
    if _serial(raw.get("serialNumber")):
        device["serial"] = _serial(raw["serialNumber"])
    kind = _chassis_kind(raw.get("type")) if raw.get("type") else _chassis_kind(raw.get("chassis"))
    if kind == "other" and raw.get("chassis"):
        kind = _chassis_kind(raw.get("chassis"))
    if kind:
        device["kind"] = kind
    media, erasures, battery = [], [], {}
    for component in _list(doc.get("components")):
        component = _dict(component)
        if component.get("type") in _WB11_STORAGE:
            medium, found = _wb11_medium(component, warnings, doc.get("version", ""))
            if medium:
                media.append(medium)
            erasures.extend(found)
    laptop = device.get("kind") in ("laptop", "tablet")
    parts = [wb11_specs(doc.get("components"), laptop)]
    debug = _dict(doc.get("debug"))
    if isinstance(debug.get("lshw"), dict):  # the raw lshw Workbench 11 kept: it tells UEFI
        parts.append(lshw_specs(node for node, _ancestors in lshw_nodes(debug["lshw"])))
    screen = hwinfo_screen(debug.get("hwinfo")) if laptop else None
    return device, media, battery, erasures, combine(parts, media, screen), warnings


def parse_snapshot(text, name):
    doc = _load_object(text)
    if not _is_snapshot(doc):
        raise ValueError("not an eReuse Workbench snapshot (no type Snapshot with data or device)")
    if isinstance(doc.get("data"), dict):
        device, media, battery, erasures, specs, warnings = _parse_data_snapshot(doc)
    else:
        device, media, battery, erasures, specs, warnings = _parse_wb11_snapshot(doc)
    found = {}
    if device:
        found["device"] = device
    found["media"] = media
    if battery:
        found["battery"] = battery
    if erasures:
        found["erasures"] = erasures
    if specs:
        found["specs"] = specs
    if warnings:
        found["warnings"] = warnings
    return found


PARSERS = [
    ("ereuse-snapshot", sniff_snapshot, parse_snapshot),
    ("smartctl", sniff_smartctl, parse_smartctl),
]
