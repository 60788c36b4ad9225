"""What a machine says about itself: `lshw -json`, `dmidecode` text and `upower -i` (issue 4, item 2).

Each parser returns as found: `device` {make, model, serial, kind}, `media` [...], `battery` {...},
`specs` {cpu, ram_gb, …, facts} (lshw and dmidecode; see specs.py) and `warnings`.  Nothing is guessed: a value the file does not give is left out, a placeholder serial
("To be filled by O.E.M.") counts as missing.  Warnings and errors are plain English on purpose: they are
part of the JSON, which is the same in every language.
"""

import json
import re

from . import PLACEHOLDER_NAMES as _PLACEHOLDER_NAMES
from . import first_battery, real_serial
from .specs import combine, dmidecode_specs, lshw_specs

# SMBIOS chassis types (dmidecode spelling) and lshw's `configuration.chassis` words -> refurb's kind.
_CHASSIS_KIND = {
    **dict.fromkeys(
        ("portable", "laptop", "notebook", "sub notebook", "sub-notebook", "subnotebook", "convertible"), "laptop"
    ),
    **dict.fromkeys(("tablet", "detachable"), "tablet"),
    **dict.fromkeys(("handset", "phone", "smartphone"), "phone"),
    **dict.fromkeys(
        (
            "desktop", "low profile desktop", "lowprofile", "low-profile", "pizza box", "pizzabox", "mini tower",
            "mini-tower", "minitower", "tower", "all in one", "all-in-one", "allinone", "space-saving",
            "space saving", "lunch box", "lunchbox", "mini pc", "mini", "stick pc", "stick", "sealed-case pc",
            "sealed-case", "main server chassis", "server",
        ),
        "desktop",
    ),
    **dict.fromkeys(
        (
            "other", "hand held", "handheld", "docking station", "expansion chassis", "sub chassis",
            "bus expansion chassis", "peripheral chassis", "raid chassis", "rack mount chassis", "rackmount",
            "multi-system", "multi-system chassis", "compact pci", "advancedtca", "blade", "blade enclosure",
            "iot gateway", "embedded pc", "embedded",
        ),
        "other",
    ),
}
# Detachables whose firmware says "Laptop": the product line is a tablet with a keyboard cover.
_TABLET_PRODUCTS = re.compile(r"\bSurface (Go|Pro)\b", re.IGNORECASE)
_MAX_SIZE = 2**63  # lshw prints an unsigned overflow (18446744073709549568) for some volumes


def _name(value):
    """A make/model string, or None when it is empty or a firmware placeholder."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = " ".join(str(value).split())
    if not text or text.lower() in _PLACEHOLDER_NAMES:
        return None
    return text


def _serial(value):
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    serial = real_serial(" ".join(str(value).split()))
    if serial is None or serial.lower() in _PLACEHOLDER_NAMES:
        return None
    return serial


def _kind(chassis, model, warnings):
    """refurb's device kind from a chassis word, or None when the file does not say."""
    if not isinstance(chassis, str) or not chassis.strip():
        return None
    word = chassis.strip().lower()
    kind = _CHASSIS_KIND.get(word)
    if kind is None:
        if word not in ("unknown", "<out of spec>"):
            warnings.append(f"unknown chassis type {chassis.strip()!r}")
        return None
    if kind == "laptop" and model and _TABLET_PRODUCTS.search(model):
        warnings.append(f"chassis says {chassis.strip()!r} but {model} is a tablet: kind set to tablet")
        return "tablet"
    return kind


def _device(make, model, serial, kind, extra=()):
    device = {"make": make, "model": model, "serial": serial, "kind": kind, **dict(extra)}
    return {key: value for key, value in device.items() if value is not None}


def _lenovo_model(make, product, version):
    """Lenovo puts the machine type in Product Name ("81AX") and the model name in Version."""
    if make and make.lower().startswith("lenovo") and version and re.search(r"[A-Za-z].*\d|\d.*[A-Za-z]", version):
        return version, product
    return product, None


def _wh(value, units):
    """mWh/Wh number -> Wh (float), None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    units = (units or "").strip().lower()
    if units == "mwh":
        return round(value / 1000, 3)
    if units == "wh":
        return round(float(value), 3)
    return None


# ---------------------------------------------------------------------------------------------- lshw


def sniff_lshw(text, name):
    head = text[:2000].lstrip("\ufeff \t\r\n")
    return bool(re.match(r'\[?\s*\{\s*"(id|class)"\s*:\s*"', head)) and bool(re.search(r'"class"\s*:', head))


def lshw_nodes(root):
    """(node, ancestors) for every dict in the lshw tree, depth first, without recursion."""
    stack = [(root, ())]
    while stack:
        node, ancestors = stack.pop()
        if not isinstance(node, dict):
            continue
        yield node, ancestors
        children = node.get("children")
        if isinstance(children, list):
            stack.extend((child, (*ancestors, node)) for child in reversed(children))


def _text(node, key):
    value = node.get(key)
    return value if isinstance(value, str) else None


def _logicalnames(node):
    value = node.get("logicalname")
    names = value if isinstance(value, list) else [value]
    return [name for name in names if isinstance(name, str)]


def _bytes(node):
    size = node.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size >= _MAX_SIZE:
        return None
    if (_text(node, "units") or "bytes") != "bytes":
        return None
    return size


def _is_optical(node):
    caps = node.get("capabilities")
    caps = caps if isinstance(caps, dict) else {}
    description = (_text(node, "description") or "").lower()
    node_id = (_text(node, "id") or "").lower()
    return (
        node_id.startswith("cdrom")
        or any(cap in caps for cap in ("dvd", "cd-r", "audio", "bd"))
        or bool(re.search(r"\b(cd|dvd|blu-?ray|bd)(-|\b)", description))
        or any(re.match(r"/dev/(sr|cdrom|dvd)", name) for name in _logicalnames(node))
    )


def _lshw_medium(node, ancestors, warnings):
    """One storage medium from an lshw `disk` node, or None for optical drives and empty card slots."""
    if _is_optical(node) or (_text(node, "id") or "").startswith("medium"):
        return None
    parent = ancestors[-1] if ancestors else {}
    names = _logicalnames(node)
    businfo = _text(node, "businfo") or ""
    bus_chain = [businfo, *(_text(a, "businfo") or "" for a in ancestors)]
    drivers = [n["configuration"].get("driver") for n in (*ancestors, node) if isinstance(n.get("configuration"), dict)]
    caps = node.get("capabilities") if isinstance(node.get("capabilities"), dict) else {}
    size = _bytes(node)
    if size is None:
        for child in node.get("children") or []:
            if isinstance(child, dict) and (_text(child, "id") or "").startswith("medium"):
                size = _bytes(child)
                break
    serial, model = _serial(node.get("serial")), _name(node.get("product"))
    if businfo.startswith("nvme@") or any(n.startswith("/dev/nvme") for n in names) or "nvme" in drivers:
        kind = "nvme"
        if isinstance(parent, dict) and parent.get("class") == "storage":  # the namespace: identity is on the controller
            serial = serial or _serial(parent.get("serial"))
            model = model or _name(parent.get("product"))
    elif any(bus.startswith("usb@") for bus in bus_chain):
        kind = "removable"
    elif businfo.startswith("mmc@") or any(n.startswith("/dev/mmcblk") for n in names):
        kind = "removable" if "removable" in caps else "emmc"
    else:
        kind = None  # an ATA/SCSI disk: lshw cannot tell a spinning disk from an SSD
    if size is None and "removable" in caps:
        label = model or "removable drive"
        warnings.append(f"no medium in {label} ({', '.join(names) or businfo or 'no device name'}): skipped")
        return None
    medium = {"serial": serial, "model": model, "type": kind, "size_bytes": size}
    if serial is None:
        warnings.append(f"storage {model or ', '.join(names) or businfo or '?'} has no serial number")
    if names:
        medium["device"] = names[0]
    return {key: value for key, value in medium.items() if value is not None}


def _lshw_battery(node, warnings):
    label = " ".join(filter(None, (_text(node, k) for k in ("id", "description", "product")))).lower()
    if "battery" not in label:
        return None  # a power supply (DMI type 39), not a battery
    vendor = _text(node, "vendor") or ""
    if "virtual" in vendor.lower() or "fake" in vendor.lower():
        warnings.append(f"battery entry {_text(node, 'product') or ''!r} is a firmware template, not a battery")
        return None
    capacity = _wh(node.get("capacity"), _text(node, "units"))
    if capacity is None:  # BIOS templates ("Intel Corp." "Smart Battery", serial "1.0") give no capacity
        warnings.append(f"battery entry {_text(node, 'product') or ''!r} gives no design capacity: not shown")
        return None
    battery = {
        "make": _name(vendor),
        "model": _name(node.get("product")),
        "serial": _serial(node.get("serial")),
        "design_capacity_wh": capacity,
    }
    return {key: value for key, value in battery.items() if value is not None}


def parse_lshw(text, name):
    """Device, storage media, battery and specs from `lshw -json` (object or list form)."""
    warnings = []
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except RecursionError as exc:
        raise ValueError("lshw JSON nested too deeply") from exc
    except json.JSONDecodeError as exc:
        data = _repair_lshw(text.lstrip("\ufeff"))
        if data is None:
            raise ValueError(f"not valid lshw JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
        warnings.append(f"lshw wrote broken JSON ({exc.msg} at line {exc.lineno}): read after repairing it")
    roots = data if isinstance(data, list) else [data]
    roots = [root for root in roots if isinstance(root, dict)]
    if not roots or not any("class" in root for root in roots):
        raise ValueError("not lshw output: no hardware node with a class")
    media, batteries, device, nodes = [], [], None, []
    for root in roots:
        for node, ancestors in lshw_nodes(root):
            nodes.append(node)
            cls = node.get("class")
            if cls == "system" and not ancestors and device is None:
                device = _lshw_device(node, warnings)
            elif cls == "disk":
                medium = _lshw_medium(node, ancestors, warnings)
                if medium is not None:
                    media.append(medium)
            elif cls == "storage" and _lshw_bare_nvme(node):
                medium = _lshw_medium(node, ancestors, warnings)
                if medium is not None:
                    media.append(medium)
            elif cls == "power":
                battery = _lshw_battery(node, warnings)
                if battery:
                    batteries.append(battery)
    found = {}
    if device:
        found["device"] = device
    if media or device:
        found["media"] = media
    first_battery(found, batteries, warnings)
    specs = combine([lshw_specs(nodes)], media)
    if specs:
        found["specs"] = specs
    found["warnings"] = warnings
    return found


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+|\s+')


def _repair_lshw(text):
    """Some lshw releases print a node's children straight after its last key, without `"children" : [`,
    `]` or the commas between them, and leave a trailing comma; put them back.  None when that fails."""
    out, stack, last = [], [], None  # stack: "obj", "arr" or "kids" (the children list lshw forgot)
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token.isspace():
            continue
        if token == "{":
            if last in ("}", "value") and stack and stack[-1] == "obj":
                out.append(', "children" : [')
                stack.append("kids")
            elif last == "}" and stack and stack[-1] in ("kids", "arr"):
                out.append(",")
            stack.append("obj")
        elif token in ("}", "]"):
            if last == ",":
                out.pop()
            if token == "}" and stack and stack[-1] == "kids":
                out.append("]")
                stack.pop()
            while token == "]" and "arr" in stack and stack[-1] != "arr":  # it also forgets closing braces
                out.append("]" if stack.pop() == "kids" else "}")
            if not stack:
                return None
            stack.pop()
        elif token == "[":
            stack.append("arr")
        out.append(token)
        last = token if token in "{}[],:" else "value"
    if stack:  # a cut-off file is not repaired: what is missing may be a disk
        return None
    try:
        return json.loads("".join(out))
    except (ValueError, RecursionError):
        return None


def _lshw_bare_nvme(node):
    """An NVMe controller that older lshw versions list without a namespace disk under it."""
    config = node.get("configuration") if isinstance(node.get("configuration"), dict) else {}
    children = node.get("children") if isinstance(node.get("children"), list) else []
    return config.get("driver") == "nvme" and not any(
        isinstance(child, dict) and child.get("class") == "disk" for child in children
    )


def _lshw_device(node, warnings):
    config = node.get("configuration") if isinstance(node.get("configuration"), dict) else {}
    make = _name(node.get("vendor"))
    product = _text(node, "product") or ""
    sku = config.get("sku") if isinstance(config.get("sku"), str) else None
    if sku and product.endswith(f" ({sku})"):  # lshw appends the SKU to the product name
        product = product[: -len(sku) - 3]
    model, machine_type = _lenovo_model(make, _name(product), _name(node.get("version")))
    serial = _serial(node.get("serial"))
    if serial is None:
        said = node.get("serial")
        warnings.append(f"no system serial number (firmware says {said!r})" if said else "no system serial number")
    kind = _kind(config.get("chassis"), model, warnings)
    return _device(make, model, serial, kind, {"machine_type": machine_type})


# ------------------------------------------------------------------------------------------ dmidecode

_DMI_HANDLE = re.compile(r"^Handle 0x[0-9A-Fa-f]+, DMI type (\d+)", re.MULTILINE)


def sniff_dmidecode(text, name):
    head = text[:8000]
    if head.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        return False
    return bool(
        _DMI_HANDLE.search(head)
        or re.search(r"^# dmidecode \d", head, re.MULTILINE)
        or re.search(r"^SMBIOS \d+(\.\d+)* present", head, re.MULTILINE)
    )


def dmi_records(text):
    """[(type, title, {key: value}, {key: [item, …]})]: the top-level `Key: Value` lines of each record, and
    the items of its lists (a key with no value followed by deeper lines, e.g. "Characteristics:")."""
    records = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        match = _DMI_HANDLE.match(lines[i])
        if not match:
            i += 1
            continue
        dmi_type = int(match.group(1))
        title = lines[i + 1].strip() if i + 1 < len(lines) else ""
        body, i = [], i + 2
        while i < len(lines) and lines[i].strip() and not _DMI_HANDLE.match(lines[i]):
            if lines[i][:1] in (" ", "\t"):
                body.append(lines[i])
            i += 1
        fields, lists, items = {}, {}, None
        if body:
            indent = min(len(line) - len(line.lstrip()) for line in body)
            for line in body:
                if len(line) - len(line.lstrip()) > indent:
                    if items is not None:
                        items.append(line.strip())
                    continue
                items = None
                if ":" in line:
                    key, _sep, value = line.strip().partition(":")
                    fields.setdefault(key.strip(), value.strip())
                    if not value.strip():
                        items = lists.setdefault(key.strip(), [])
        records.append((dmi_type, title, fields, lists))
    return records


def parse_dmidecode(text, name):
    """Device (make, model, serial, kind), battery design capacity and specs (CPU, RAM, UEFI, TPM) from
    `dmidecode` text."""
    records = dmi_records(text)
    if not records:
        reason = next((line.strip() for line in text.splitlines() if "no smbios" in line.lower()), "")
        raise ValueError(reason or "no DMI records in this dmidecode output")
    warnings = []
    first = {}
    for dmi_type, _title, fields, _lists in records:
        first.setdefault(dmi_type, fields)
    system, chassis = first.get(1), first.get(3, {})
    found = {}
    if system is None:
        warnings.append("no System Information record (DMI type 1)")
    else:
        make = _name(system.get("Manufacturer"))
        model, machine_type = _lenovo_model(make, _name(system.get("Product Name")), _name(system.get("Version")))
        serial = _serial(system.get("Serial Number"))
        if serial is None:
            chassis_serial = _serial(chassis.get("Serial Number"))
            warnings.append(f"no system serial number (firmware says {system.get('Serial Number')!r})")
            if chassis_serial:
                serial = chassis_serial
                warnings.append(f"serial taken from the chassis record: {chassis_serial}")
        kind = _kind(chassis.get("Type"), model, warnings)
        found["device"] = _device(make, model, serial, kind, {"machine_type": machine_type})
    batteries = [_dmi_battery(fields, warnings) for dmi_type, _t, fields, _l in records if dmi_type == 22]
    first_battery(found, [battery for battery in batteries if battery], warnings)
    specs = combine([dmidecode_specs(records)])
    if specs:
        found["specs"] = specs
    found["warnings"] = warnings
    return found


def _dmi_battery(fields, warnings):
    make = fields.get("Manufacturer", "")
    if fields.get("Location", "").lower() == "fake" or "virtual" in make.lower():
        warnings.append(f"battery entry {fields.get('Name', '')!r} is a firmware template, not a battery")
        return None
    capacity = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(mWh|Wh)", fields.get("Design Capacity", ""))
    if not capacity:  # BIOS templates ("Intel Corp." "Smart Battery", serial "1.0") give no capacity
        warnings.append(f"battery entry {fields.get('Name', '')!r} gives no design capacity: not shown")
        return None
    battery = {
        "make": _name(make),
        "model": _name(fields.get("Name")),
        "serial": _serial(fields.get("Serial Number") or fields.get("SBDS Serial Number")),
        "design_capacity_wh": _wh(float(capacity.group(1)), capacity.group(2)),
    }
    return {key: value for key, value in battery.items() if value is not None}


# --------------------------------------------------------------------------------------------- upower

_UPOWER_PATH = re.compile(r"^/org/freedesktop/UPower/devices/\S+$")


def sniff_upower(text, name):
    head = text[:4000].lstrip("\ufeff")
    if re.match(r"\s*native-path:\s", head) and re.search(r"^\s*(power supply|updated|model|vendor):", head, re.M):
        return True
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    return bool(lines) and all(_UPOWER_PATH.match(line) for line in lines)


def _number(value):
    """'45,2 Wh' / '45.2 Wh' / '88.2222%' -> float; None when it is not a number."""
    match = re.match(r"\s*(-?\d+(?:[.,]\d+)?)", value or "")
    return float(match.group(1).replace(",", ".")) if match else None


def parse_upower(text, name):
    """Battery design/full capacity and health from `upower -i` (decimal commas too)."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if not re.match(r"\s*native-path:", lines[0]):
        paths = [line.strip() for line in lines if _UPOWER_PATH.match(line.strip())]
        batteries = [path for path in paths if "/battery_" in path]
        return {"warnings": [
            f"upower --enumerate lists {len(paths)} devices ({len(batteries)} batteries) but no capacities:"
            " run `upower -i` on the battery"
        ]}
    fields, device_type = {}, None
    for line in lines:
        if re.match(r"\s*History \(", line):
            break
        key, sep, value = line.strip().partition(":")
        if sep and key:
            fields.setdefault(key.strip(), value.strip())
        elif not sep and re.fullmatch(r"[a-z][a-z-]*", line.strip()) and device_type is None:
            device_type = line.strip()
    warnings = []
    design = _number(fields.get("energy-full-design"))
    full = _number(fields.get("energy-full"))
    power_supply = fields.get("power supply")
    if device_type != "battery" or power_supply == "no":
        warnings.append(
            f"upower device {fields.get('model') or fields.get('native-path')!r} is a {device_type or 'device'}"
            f" (power supply: {power_supply or '?'}), not the computer's battery"
        )
        return {"warnings": warnings}
    battery = {
        "make": _name(fields.get("vendor")),
        "model": _name(fields.get("model")),
        "serial": _serial(fields.get("serial")),
        "design_capacity_wh": design if design and design > 0 else None,
        "full_capacity_wh": full if full is not None and full >= 0 else None,
    }
    cycles = fields.get("charge-cycles", "")
    if cycles.isdigit():
        battery["charge_cycles"] = int(cycles)
    if battery["design_capacity_wh"] and battery["full_capacity_wh"] is not None:
        health = round(battery["full_capacity_wh"] / battery["design_capacity_wh"] * 100, 1)
        battery["health_percent"] = health
        reported = _number(fields.get("capacity"))
        if reported is not None and abs(reported - health) > 1:
            warnings.append(f"upower reports capacity {reported:g}%, energy-full/design gives {health:g}%")
    elif fields.get("energy-full-design") is not None:
        warnings.append(f"unreadable capacities: energy-full-design {fields.get('energy-full-design')!r}")
    return {"battery": {key: value for key, value in battery.items() if value is not None}, "warnings": warnings}


PARSERS = [
    ("lshw", sniff_lshw, parse_lshw),
    ("dmidecode", sniff_dmidecode, parse_dmidecode),
    ("upower", sniff_upower, parse_upower),
]
