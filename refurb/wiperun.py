"""The engine of `refurb wipe run` (SPEC §5; issue 4 item 5): one wipe profile's tool on one disk.

Before anything is written, `run` refuses: a profile refurb does not drive, a path that is not a whole
disk, the disk the system runs from, a disk in use (mounted, swap, held by LVM/dm/md), a disk whose serial
is not the medium's (or cannot be read, unless the serial check is waived) and a failed preflight check
(read-only, frozen, HPA/DCO, USB bridge, no sanitize support).  Then it plants canary blocks carrying a
per-run marker and remembers random sample blocks, runs the profile's commands, imports the tool's log
and reads the disk back: a run passes only when the tool succeeded, its log says so, no canary survived
and every sample holds what the method leaves.

It knows nothing of the database or the terminal: it returns a dict for the caller to record.  Record
data (reasons, preflight details, the verification text) is English, like the evidence parsers'
warnings; errors and progress messages are translated.  Stdlib only; Linux only (sysfs, /proc).
"""

import errno
import fcntl
import hashlib
import json
import mmap
import os
import re
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from refurb.errors import HardwareUnavailable, InvalidConfig, NotAllowed, UsageProblem
from refurb.evidence import real_serial
from refurb.evidence.erasure import parse_hdparm, parse_nvme_sanitize, parse_nwipe
from refurb.i18n import _

BLOCK = 4096  # bytes per canary or sample block (a multiple of every logical block size)
CANARIES = 8  # the first block, the last block and random ones between
SAMPLES = 64
MARKER = b"REFURB-CANARY:"
SYSTEM_MOUNTS = ("/", "/boot", "/boot/efi", "/usr", "/var")
POLL_SECONDS = 10  # between two status queries of a sanitize that runs inside the drive
HELPER_TIMEOUT = 120  # seconds for commands that only ask (versions, identify, status)
BLKFLSBUF = 0x1261  # ioctl: flush the block device's buffers, so a read-back reaches the medium
# Debian packages of the executables a profile or a check may call.
PACKAGES = {"nwipe": "nwipe", "hdparm": "hdparm", "smartctl": "smartmontools", "nvme": "nvme-cli"}
# Commands that only gather evidence: smartctl's exit status is a bit mask that also reports the disk's
# health, so it cannot decide whether a wipe worked.
EVIDENCE_ONLY = ("smartctl",)
# ATA sanitize flags of hdparm and the `hdparm -I` feature line that says the drive offers them.
HDPARM_SANITIZE = {
    "--sanitize-block-erase": "BLOCK_ERASE_EXT command",
    "--sanitize-overwrite": "OVERWRITE_EXT command",
    "--sanitize-crypto-scramble": "CRYPTO_SCRAMBLE_EXT command",
}
# NVMe sanitize action (--sanact) and its bit in the controller's SANICAP field.
NVME_SANICAP = {2: (0x2, "block erase"), 3: (0x4, "overwrite"), 4: (0x1, "crypto erase")}


@dataclass(frozen=True)
class Runner:
    """A tool refurb drives: its executable, how to ask its version, and whether the drive erases itself."""

    executable: str
    version: tuple[str, ...]
    sanitize: bool


RUNNERS = {
    "nwipe": Runner("nwipe", ("nwipe", "--version"), sanitize=False),
    "hdparm": Runner("hdparm", ("hdparm", "-V"), sanitize=True),
    "nvme-cli": Runner("nvme", ("nvme", "version"), sanitize=True),
}


@dataclass
class Disk:
    """A whole disk as the kernel shows it, with the output of the read-only commands asked about it."""

    path: str  # /dev/sdb, resolved from what the operator typed
    name: str  # sdb
    sysfs: Path  # /sys/devices/…/block/sdb
    kind: str  # loop, nvme, mmc, usb, ata, virtio, other
    size: int  # bytes
    outputs: dict = field(default_factory=dict)

    def ask(self, *argv):
        """(exit status, stdout, stderr) of a command that only reads, run once per run."""
        if argv not in self.outputs:
            self.outputs[argv] = _ask(argv)
        return self.outputs[argv]


@dataclass(frozen=True)
class Check:
    """One preflight check; a failed one carries the translated error to raise."""

    check: str
    status: str  # ok, not-applicable, failed
    detail: str
    message: str = ""
    hint: str = ""
    code: str = ""

    def record(self):
        return {"check": self.check, "status": self.status, "detail": self.detail}


def run(profile, device, *, medium_serial, medium_type, serial_check=True, workdir, progress=None):
    """Wipe `device` with `profile` (a refurb.catalog.WipeProfile) and check the result; see the module
    docstring.  Refusals raise before anything is written; a wipe that ran returns its record, pass or
    fail.  `progress(str)` hears each stage."""
    say = progress or (lambda message: None)
    runner = _runner(profile)
    level = _level(profile, medium_type)
    disk = inspect_disk(device)
    say(_("checking that {device} is free to wipe").format(device=disk.path))
    refuse_busy(disk, runner)
    serial_read, serial_checked = check_serial(disk, medium_serial, serial_check)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    base = workdir / f"wipe-{disk.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    log_path = Path(f"{base}.log")
    argvs = _commands(profile, disk, medium_serial, log_path)
    say(_("preflight checks on {device}").format(device=disk.path))
    preflight = run_preflight(profile, runner, disk, argvs)
    tool_version = _version(runner)

    started = _now()
    try:
        plan = plant_canaries(disk)
    except OSError as exc:
        raise HardwareUnavailable(
            _("cannot write the canary blocks to {device}: {reason}").format(
                device=disk.path, reason=exc.strerror
            ),
            hint=_("the disk may be failing: check smartctl -a {device}, or destroy it").format(
                device=disk.path
            ),
            code="write-failed",
        ) from None
    say(_("{count} canary blocks written to {device}").format(count=len(plan.canaries), device=disk.path))
    executed, interrupted = _execute(argvs, base, say)
    log_path = _log_file(runner, executed, log_path)
    erasure, log_warnings, reasons = _import_log(runner, disk, executed, log_path)
    leaves = _leaves(runner, argvs)
    say(
        _("reading back {canaries} canaries and {samples} sample blocks").format(
            canaries=len(plan.canaries), samples=len(plan.samples)
        )
    )
    try:
        found, bad = read_back(disk, plan, leaves)
    except OSError as exc:  # a disk that cannot be read back proves nothing
        found, bad = list(plan.canaries), len(plan.samples)
        reasons.append(f"the disk could not be read back: {exc.strerror}")
    ended = _now()

    failed = [c for c in executed if c["exit_code"] != 0 and not c["evidence_only"]]
    reasons = [f"exit status {c['exit_code']}: {c['command']}" for c in failed] + reasons
    if interrupted:
        reasons.insert(0, "interrupted by the operator")
    if found:
        reasons.append(f"{len(found)} of {len(plan.canaries)} canaries still readable (offsets {found})")
    if bad:
        reasons.append(
            f"{bad} of {len(plan.samples)} sampled blocks do not hold what the method leaves ({leaves})"
        )
    verified = not found and not bad
    result = "fail" if reasons else "pass"
    say(_("result: {result}").format(result=result))
    return {
        "device": disk.path,
        "device_kind": disk.kind,
        "size_bytes": disk.size,
        "profile": profile.id,
        "profile_version": profile.version,
        "medium_serial": medium_serial,
        "medium_type": medium_type,
        "serial_read": serial_read,
        "serial_checked": serial_checked,
        "tool": profile.tool,
        "tool_version": tool_version,
        "commands": executed,
        "exit_code": failed[0]["exit_code"] if failed else 0,
        "interrupted": interrupted,
        "log_path": str(log_path) if log_path.is_file() else None,
        "log_sha256": _sha256_file(log_path),
        "erasure": erasure,
        "log_warnings": log_warnings,
        "preflight": preflight,
        "canaries": {
            "written": len(plan.canaries),
            "found_after": len(found),
            "marker": plan.marker.decode(),
        },
        "samples": {"checked": len(plan.samples), "bad": bad, "expected": leaves},
        "result": result,
        "reasons": reasons,
        "verified": verified,
        "verification": _verification_text(runner, erasure, plan, found, bad),
        "started": started,
        "ended": ended,
        "method": profile.method,
        "passes": (erasure or {}).get("passes"),
        "level": level,
    }


# ------------------------------------------------------------------------------------------ profile


def _runner(profile):
    """The tool that runs `profile`; refuses profiles refurb leaves to a person, and an nwipe command
    without an explicit device (nwipe --autonuke would wipe every disk it finds)."""
    runner = RUNNERS.get(profile.tool)
    if runner is None or not profile.commands:
        raise UsageProblem(
            _("refurb does not run wipe profile {profile} ({tool}) itself").format(
                profile=profile.id, tool=profile.tool
            ),
            hint=_("wipe with the profile's own tool, then record it: refurb wipe record"),
            code="not-runnable",
        )
    for command in profile.commands:
        argv = shlex.split(command)
        if argv[0] == "nwipe" and not {"--autonuke", "--nogui", "{device}"} <= set(argv):
            raise InvalidConfig(
                _("{file}: an nwipe command needs --nogui, --autonuke and {{device}}").format(
                    file=profile.source
                ),
                hint=_("without an explicit device, nwipe --autonuke wipes every disk it finds"),
                code="unsafe-command",
            )
    return runner


def _level(profile, medium_type):
    level = profile.levels.get(medium_type)
    if level is None:
        raise UsageProblem(
            _("wipe profile {profile} does not apply to {type} media").format(
                profile=profile.id, type=medium_type
            ),
            hint=_("it applies to: {media}").format(media=", ".join(profile.media)),
            code="profile-mismatch",
        )
    return level


def _commands(profile, disk, serial, log_path):
    """The profile's commands as argument lists, placeholders filled; HardwareUnavailable when one's
    executable is missing."""
    values = {"device": disk.path, "serial": serial or "", "log": str(log_path)}
    argvs = [[part.format(**values) for part in shlex.split(command)] for command in profile.commands]
    for executable in dict.fromkeys(argv[0] for argv in argvs):
        _need(executable)
    return argvs


def _need(executable):
    if shutil.which(executable) is None:
        package = PACKAGES.get(executable, executable)
        raise HardwareUnavailable(
            _("{tool} is not installed").format(tool=executable),
            hint=_("install it: sudo apt-get install {package}").format(package=package),
            code="tool-missing",
        )


def _version(runner):
    _code, out, err = _ask(runner.version)
    return (out or err).strip().splitlines()[0] if (out or err).strip() else None


# ------------------------------------------------------------------------------------- the disk


def inspect_disk(device):
    """The whole disk at path `device`; UsageProblem when it is no block device, a partition or a
    stacked device (LVM, dm-crypt, md)."""
    path = os.path.realpath(device)
    try:
        info = os.stat(path)
    except OSError:
        raise UsageProblem(_("{device}: no such device").format(device=device), code="no-device") from None
    if not stat.S_ISBLK(info.st_mode):
        raise UsageProblem(
            _("{device} is not a block device").format(device=device),
            hint=_("give the whole disk, e.g. /dev/sdb or /dev/nvme0n1 (lsblk lists them)"),
            code="not-a-block-device",
        )
    node = Path(f"/sys/dev/block/{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}").resolve()
    name = node.name
    if (node / "partition").exists():
        raise UsageProblem(
            _("{device} is a partition; a wipe takes the whole disk").format(device=device),
            hint=_("give the disk it belongs to: /dev/{disk}").format(disk=node.parent.name),
            code="partition",
        )
    if _entries(node / "slaves"):
        raise UsageProblem(
            _("{device} is built on other disks ({disks}), not a disk itself").format(
                device=device, disks=", ".join(_entries(node / "slaves"))
            ),
            hint=_("give the physical disk instead"),
            code="stacked-device",
        )
    return Disk(
        path=path,
        name=name,
        sysfs=node,
        kind=_kind(name, node),
        size=int(_read(node / "size") or 0) * 512,  # sysfs counts 512-byte sectors, whatever the disk's
    )


def _kind(name, node):
    """How the disk is attached, from its name and its place in sysfs."""
    where = str(node)
    if name.startswith("loop"):
        return "loop"
    if name.startswith("nvme"):
        return "nvme"
    if name.startswith("mmcblk"):
        return "mmc"
    if "/usb" in where:
        return "usb"
    if "/ata" in where:
        return "ata"
    if "/virtio" in where:
        return "virtio"
    return "other"


def refuse_busy(disk, runner):
    """NotAllowed when the system runs from the disk or anything uses it.  For an NVMe sanitize, every
    namespace of the controller counts: the drive erases them all."""
    names = {disk.name}
    if runner.sanitize and disk.kind == "nvme":
        names |= {p.name for p in disk.sysfs.parent.glob(f"{disk.sysfs.parent.name}n*")}
    system, used = set(), []
    for point, disks in _mounted():
        if disks & names:
            if point in SYSTEM_MOUNTS:
                system.add(point)
            used.append(_("mounted on {point}").format(point=point))
    for swap, disks in _swaps():
        if disks & names:
            used.append(_("swap {swap}").format(swap=swap))
    if system:
        raise NotAllowed(
            _("{device} is the disk the system runs from ({points})").format(
                device=disk.path, points=", ".join(sorted(system))
            ),
            hint=_("boot the workbench from another disk or a live USB stick to wipe this one"),
            code="system-disk",
        )
    for name in sorted(names):
        node = disk.sysfs.parent / name if name != disk.name else disk.sysfs
        for part in [node, *(p for p in node.iterdir() if (p / "partition").exists())]:
            for holder in _entries(part / "holders"):
                used.append(
                    _("{part} is held by {holder} (LVM, dm-crypt or md)").format(
                        part=part.name, holder=holder
                    )
                )
    if not used and not _exclusive(disk.path):
        used.append(_("the kernel reports it busy"))
    if used:
        used = list(dict.fromkeys(used))
        raise NotAllowed(
            _("{device} is in use: {uses}").format(device=disk.path, uses="; ".join(used)),
            hint=_(
                "unmount it, swapoff, and stop LVM/dm-crypt/md on it (vgchange -an, cryptsetup close, "
                "mdadm --stop), then try again"
            ),
            code="disk-in-use",
        )


def _mounted():
    """(mount point, whole disks beneath it) for every mounted filesystem, from /proc/self/mountinfo."""
    root = os.stat("/").st_dev
    yield "/", _disks_beneath(f"{os.major(root)}:{os.minor(root)}")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _sep, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        disks = _disks_beneath(fields[2])
        if not disks and len(rest) > 1 and rest[1].startswith("/dev/"):
            disks = _disks_beneath(_devno(rest[1]))
        yield _unescape(fields[4]), disks


def _swaps():
    for line in Path("/proc/swaps").read_text().splitlines()[1:]:
        name = _unescape(line.split()[0]) if line.split() else ""
        yield name, _disks_beneath(_devno(name))


def _devno(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}" if stat.S_ISBLK(info.st_mode) else None


def _disks_beneath(devno):
    """Names of the whole disks a block device `maj:min` lives on, through partitions and dm/md."""
    if not devno:
        return set()
    node = Path(f"/sys/dev/block/{devno}")
    if not node.exists():
        return set()
    node = node.resolve()
    slaves = _entries(node / "slaves")
    if slaves:
        return set().union(*(_disks_beneath(_read(node / "slaves" / s / "dev")) for s in slaves))
    return {node.parent.name if (node / "partition").exists() else node.name}


def _exclusive(path):
    """False when the kernel refuses an exclusive open: something (a filesystem, dm, md) claims it."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_EXCL))
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        raise HardwareUnavailable(
            _("cannot open {device}: {reason}").format(device=path, reason=exc.strerror), code="no-access"
        ) from None
    return True


# ------------------------------------------------------------------------------------------ serial


def check_serial(disk, medium_serial, serial_check=True):
    """(serial read, whether it was compared and matched).  A readable serial is always compared; a
    mismatch refuses even when the check is waived, for the waiver is for disks that report none."""
    wanted = _normal(medium_serial)
    first = None
    for serial in _serials(disk):
        if _normal(serial) == wanted and wanted:
            return serial, True
        first = first or serial
    if first:
        raise NotAllowed(
            _("{device} reports serial {read}, not {medium}").format(
                device=disk.path, read=first, medium=medium_serial
            ),
            hint=_("check --device (lsblk -o NAME,SERIAL lists the disks) and --medium"),
            code="serial-mismatch",
            data={"serial_read": first, "medium_serial": medium_serial},
        )
    if serial_check:
        raise NotAllowed(
            _("{device} reports no serial: refurb cannot tell that it is medium {medium}").format(
                device=disk.path, medium=medium_serial
            ),
            hint=_(
                "if you have checked the disk by hand, run again with --no-serial-check; the "
                "certificate will say so"
            ),
            code="serial-unreadable",
        )
    return None, False


def _normal(serial):
    return "".join(str(serial or "").split()).upper()


def _serials(disk):
    """Serials the disk reports, cheapest source first: sysfs, lsblk (udev), smartctl.  Placeholders
    ("0000…", "To be filled by O.E.M.") do not count."""
    yield from filter(None, [real_serial(_read(disk.sysfs / "device" / "serial"))])
    _code, out, _err = _ask(("lsblk", "-dno", "SERIAL", disk.path))
    yield from filter(None, [real_serial(out.strip())])
    if shutil.which("smartctl"):
        _code, out, _err = _ask(("smartctl", "-i", "--json", disk.path))
        try:
            found = json.loads(out).get("serial_number")
        except (ValueError, AttributeError):
            found = None
        yield from filter(None, [real_serial(found)])


# --------------------------------------------------------------------------------------- preflight


def run_preflight(profile, runner, disk, argvs):
    """[{check, status, detail}] for the write test, the profile's checks and, for a sanitize, the
    drive's support of it; raises HardwareUnavailable on the first failure, before anything is written."""
    checks = [_writable(disk)]
    for name, wanted in profile.preflight.items():
        if wanted:
            checks.append(_PREFLIGHT[name](disk))
    if runner.executable == "hdparm":
        checks.append(_ata_sanitize(disk, argvs))
    elif runner.executable == "nvme":
        checks.append(_nvme_sanitize(disk, argvs))
    records = [c.record() for c in checks]
    for check in checks:
        if check.status == "failed":
            raise HardwareUnavailable(
                check.message, hint=check.hint or None, code=check.code, data={"preflight": records}
            )
    return records


def _na(check, detail):
    return Check(check, "not-applicable", detail)


def _writable(disk):
    if _read(disk.sysfs / "ro") == "1":
        return Check(
            "writable",
            "failed",
            "the kernel marks the disk read-only",
            _("{device} is read-only").format(device=disk.path),
            _("check the write-protect switch, or: blockdev --setrw {device}").format(device=disk.path),
            "read-only",
        )
    return Check("writable", "ok", "writable")


def _not_ata(check, disk):
    """The not-applicable record for an ATA check on a disk that speaks no ATA, else None."""
    if disk.kind == "loop":
        return _na(check, "loop device: no drive firmware")
    if disk.kind not in ("ata", "usb"):
        return _na(check, f"{disk.kind} device: not an ATA drive")
    return None


def _hdparm(disk, check, *args):
    """hdparm's output, or the Check to record when it cannot ask the drive (a USB bridge may not pass
    ATA commands: not applicable; a SATA drive that does not answer: failed)."""
    _need("hdparm")
    code, out, err = disk.ask("hdparm", *args, disk.path)
    if code == 0:
        return out, None
    reason = (err or out).strip().splitlines()[-1] if (err or out).strip() else f"exit status {code}"
    if disk.kind == "usb":
        return None, _na(check, f"the USB bridge does not pass hdparm {' '.join(args)}: {reason}")
    return None, Check(
        check,
        "failed",
        f"hdparm {' '.join(args)} failed: {reason}",
        _("{device}: hdparm {args} failed: {reason}").format(
            device=disk.path, args=" ".join(args), reason=reason
        ),
        _("check the drive's cable and power, then try again"),
        "preflight-failed",
    )


def ata_frozen(text):
    """True/False from the Security section of `hdparm -I`; None when the drive has none."""
    security = text.split("Security:", 1)[1] if "Security:" in text else ""
    security = re.split(r"^\S", security, maxsplit=1, flags=re.MULTILINE)[0]
    if re.search(r"^\s*not\s+frozen\b", security, re.MULTILINE):
        return False
    if re.search(r"^\s+frozen\b", security, re.MULTILINE):
        return True
    return None


def _frozen(disk):
    skip = _not_ata("frozen", disk)
    if skip:
        return skip
    text, problem = _hdparm(disk, "frozen", "-I")
    if problem:
        return problem
    frozen = ata_frozen(text)
    if frozen:
        return Check(
            "frozen",
            "failed",
            "the drive is frozen",
            _("{device} is frozen: it refuses sanitize and security commands until it is unfrozen").format(
                device=disk.path
            ),
            _(
                "suspend and resume the machine (systemctl suspend), or replug the drive's power, "
                "then try again"
            ),
            "drive-frozen",
        )
    return Check("frozen", "ok", "not frozen" if frozen is False else "no ATA security feature set")


def hidden_sectors(hpa_text, dco_text):
    """(visible, native, dco_max) sector counts from `hdparm -N` and `hdparm --dco-identify` output;
    a count the output does not show is None."""
    m = re.search(r"max sectors\s*=\s*(\d+)/(\d+)", hpa_text or "")
    d = re.search(r"Real max sectors:\s*(\d+)", dco_text or "")
    visible, native = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    return visible, native, int(d.group(1)) if d else None


def _hpa_dco(disk):
    skip = _not_ata("hpa_dco", disk)
    if skip:
        return skip
    hpa, problem = _hdparm(disk, "hpa_dco", "-N")
    if problem:
        return problem
    _code, dco, _err = disk.ask("hdparm", "--dco-identify", disk.path)
    visible, native, dco_max = hidden_sectors(hpa, dco)
    if visible is None:
        return Check(
            "hpa_dco",
            "failed",
            "hdparm -N shows no sector counts",
            _("{device}: hdparm -N shows no sector counts").format(device=disk.path),
            _("check the drive's cable and power, then try again"),
            "preflight-failed",
        )
    if visible < native:
        return Check(
            "hpa_dco",
            "failed",
            f"HPA hides {native - visible} sectors ({visible}/{native})",
            _(
                "{device} hides {count} sectors in a Host Protected Area: an overwrite cannot reach them"
            ).format(device=disk.path, count=native - visible),
            _(
                "remove it first: hdparm --yes-i-know-what-i-am-doing -N p{native} {device}, then "
                "power-cycle the drive"
            ).format(native=native, device=disk.path),
            "hidden-area",
        )
    if dco_max is not None and dco_max > native:
        return Check(
            "hpa_dco",
            "failed",
            f"DCO hides {dco_max - native} sectors ({native}/{dco_max})",
            _("{device} hides {count} sectors with a Device Configuration Overlay").format(
                device=disk.path, count=dco_max - native
            ),
            _("restore it first: hdparm --yes-i-know-what-i-am-doing --dco-restore {device}").format(
                device=disk.path
            ),
            "hidden-area",
        )
    return Check(
        "hpa_dco",
        "ok",
        f"{visible} sectors visible of {native}; "
        + ("no DCO restriction" if dco_max is not None else "no DCO reported"),
    )


def _usb_bridge(disk):
    if disk.kind == "loop":
        return _na("usb_bridge", "loop device: no bridge")
    if disk.kind == "usb":
        return Check(
            "usb_bridge",
            "failed",
            "connected through USB",
            _(
                "{device} is connected through a USB bridge, which may swallow or fake the drive's commands"
            ).format(device=disk.path),
            _("connect the drive to an internal SATA or NVMe port"),
            "usb-bridge",
        )
    return Check("usb_bridge", "ok", f"connected as {disk.kind}")


_PREFLIGHT = {"frozen": _frozen, "hpa_dco": _hpa_dco, "usb_bridge": _usb_bridge}


def _no_sanitize(detail, message, hint):
    return Check("sanitize", "failed", detail, message, hint, "no-sanitize")


def _ata_sanitize(disk, argvs):
    if disk.kind != "ata":
        return _no_sanitize(
            f"{disk.kind} device: not a SATA drive",
            _("{device} is not a SATA drive ({kind}): hdparm cannot sanitize it").format(
                device=disk.path, kind=disk.kind
            ),
            _("choose an overwrite profile, or connect the drive to an internal SATA port"),
        )
    text, problem = _hdparm(disk, "sanitize", "-I")
    if problem:
        return problem
    wanted = [HDPARM_SANITIZE[a] for argv in argvs for a in argv if a in HDPARM_SANITIZE]
    missing = [feature for feature in wanted if feature not in text]
    if missing:
        return _no_sanitize(
            f"not offered: {', '.join(missing)}",
            _("{device} does not offer {feature}").format(device=disk.path, feature=missing[0]),
            _("choose an overwrite profile, or the destroy profile"),
        )
    return Check("sanitize", "ok", f"offers {', '.join(wanted)}")


def _nvme_sanitize(disk, argvs):
    if disk.kind != "nvme":
        return _no_sanitize(
            f"{disk.kind} device: not an NVMe drive",
            _("{device} is not an NVMe drive ({kind}): nvme-cli cannot sanitize it").format(
                device=disk.path, kind=disk.kind
            ),
            _("choose a profile for this kind of medium"),
        )
    _need("nvme")
    _code, out, _err = disk.ask("nvme", "id-ctrl", "-o", "json", disk.path)
    try:
        sanicap = int(json.loads(out).get("sanicap"))
    except (ValueError, TypeError, AttributeError):
        sanicap = 0
    actions = [int(m.group(1)) for argv in argvs for a in argv if (m := re.match(r"--sanact=(\d)$", a))]
    for action in actions:
        bit, label = NVME_SANICAP.get(action, (0, f"action {action}"))
        if not sanicap & bit:
            return _no_sanitize(
                f"SANICAP 0x{sanicap:x} lacks {label}",
                _("{device} does not offer sanitize {action}").format(device=disk.path, action=label),
                _("choose another profile, or the destroy profile"),
            )
    return Check("sanitize", "ok", f"SANICAP 0x{sanicap:x}")


# ---------------------------------------------------------------------------------------- canaries


@dataclass(frozen=True)
class Plan:
    marker: bytes  # MARKER + a random token: unique to this run
    canaries: tuple[int, ...]  # byte offsets
    samples: dict  # byte offset -> (sha256 of the content before, whether that content was one byte repeated)


def plant_canaries(disk, canaries=CANARIES, samples=SAMPLES):
    """Remember random sample blocks, then write canary blocks (the first, the last, random ones) and
    flush them to the medium."""
    rng = secrets.SystemRandom()
    marker = MARKER + secrets.token_hex(12).encode()
    inner = range(1, max(1, disk.size // BLOCK - 1))  # a range: a 4 TB disk has 10⁹ blocks
    picked = rng.sample(inner, min(len(inner), canaries - 2 + samples))
    offsets = [0, disk.size - BLOCK, *(i * BLOCK for i in picked[: canaries - 2])]
    sampled = [i * BLOCK for i in picked[canaries - 2 :]]
    before = {}
    for offset, data in _read_blocks(disk.path, sampled):
        before[offset] = (hashlib.sha256(data).hexdigest(), len(set(data)) == 1)
    fd = os.open(disk.path, os.O_WRONLY)
    try:
        for offset in offsets:
            stamp = marker + b"@%d;" % offset
            os.pwrite(fd, (stamp * (BLOCK // len(stamp) + 1))[:BLOCK], offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    return Plan(marker=marker, canaries=tuple(offsets), samples=before)


def read_back(disk, plan, leaves):
    """(offsets of canaries still readable, number of sample blocks that do not hold what the method
    leaves), read past the page cache."""
    found = [offset for offset, data in _read_blocks(disk.path, plan.canaries) if plan.marker in data]
    bad = 0
    for offset, data in _read_blocks(disk.path, list(plan.samples)):
        old, uniform = plan.samples[offset]
        changed = hashlib.sha256(data).hexdigest() != old
        good = {
            "zeros": data == bytes(BLOCK),
            "ones": data == b"\xff" * BLOCK,
            "changed": changed,
            "unknown": changed or uniform,
        }[leaves]
        bad += not good
    return found, bad


def _read_blocks(path, offsets):
    """(offset, BLOCK bytes) for each offset, after flushing the device's buffers; O_DIRECT where the
    device allows it, so the bytes come from the medium."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.ioctl(fd, BLKFLSBUF)
        except OSError:
            pass  # not allowed (no CAP_SYS_ADMIN): the fadvise below still drops clean pages
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    try:
        fd, direct = os.open(path, os.O_RDONLY | os.O_DIRECT), True
    except OSError:
        fd, direct = os.open(path, os.O_RDONLY), False
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT wants
    try:
        for offset in offsets:
            if direct:
                count = os.preadv(fd, [buffer], offset)
                yield offset, bytes(buffer[:count])
            else:
                yield offset, os.pread(fd, BLOCK, offset)
    finally:
        os.close(fd)
        buffer.close()


def _leaves(runner, argvs):
    """What the method leaves on every block: zeros, ones, changed (fresh random data) or unknown (a
    drive's own sanitize: vendor-defined)."""
    if runner.executable != "nwipe":
        return "unknown"
    argv = next(a for a in argvs if a[0] == "nwipe")
    if "--noblank" not in argv:
        return "zeros"  # nwipe ends with a blanking pass unless told not to
    method = "dodshort"
    for i, arg in enumerate(argv):
        if arg.startswith("--method="):
            method = arg.split("=", 1)[1]
        elif arg in ("-m", "--method") and i + 1 < len(argv):
            method = argv[i + 1]
    return {"zero": "zeros", "quick": "zeros", "one": "ones"}.get(method, "changed")


# ----------------------------------------------------------------------------------------- the tool


_NWIPE_NEWS = re.compile(
    r"(Starting|Finished|Blanking|Verifying|SUCCESS|bytes (written|read)|error|fatal|completed)",
    re.IGNORECASE,
)
_NWIPE_PREFIX = re.compile(r"^\[[^\]]*\]\s*(?:\w+:\s*)?")


def _execute(argvs, base, say):
    """Run the commands in order, stopping at the first that fails (evidence-only ones excepted) or at
    Ctrl-C; ([{command, exit_code, seconds, stdout, stderr, evidence_only, polls}], interrupted)."""
    executed = []
    for i, argv in enumerate(argvs, 1):
        command = shlex.join(argv)
        say(_("running: {command}").format(command=command))
        out, err = Path(f"{base}-{i}.out"), Path(f"{base}-{i}.err")
        start = time.monotonic()
        polls = 0
        code, interrupted = _stream(argv, out, err, say)
        while not interrupted and code == 0 and _in_progress(argv, out.read_text(errors="replace")):
            polls += 1
            say(_("the drive is still erasing; asking again in {seconds} s").format(seconds=POLL_SECONDS))
            try:
                time.sleep(POLL_SECONDS)
            except KeyboardInterrupt:
                interrupted = True
                break
            code, interrupted = _stream(argv, out, err, say)
        executed.append(
            {
                "command": command,
                "exit_code": code,
                "seconds": round(time.monotonic() - start, 1),
                "stdout": str(out),
                "stderr": str(err),
                "evidence_only": argv[0] in EVIDENCE_ONLY,
                "polls": polls,
            }
        )
        if interrupted:
            return executed, True
        if code != 0 and argv[0] not in EVIDENCE_ONLY:
            break
    return executed, False


def _stream(argv, out, err, say):
    """(exit status, interrupted) of one command run without a terminal, its stdout copied to `out` and
    nwipe's news passed to `say`.  On Ctrl-C the tool is sent SIGINT too (when it is not in our process
    group it would not get it) and given time to stop and log the abort."""
    with out.open("w", encoding="utf-8") as sink, err.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            errors="replace",
            env=_env(),
        )
        try:
            for line in process.stdout:
                sink.write(line)
                if argv[0] == "nwipe" and _NWIPE_NEWS.search(line) and line.startswith("["):
                    say(_NWIPE_PREFIX.sub("", line).strip())
            return process.wait(), False
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                sink.write(process.communicate(timeout=30)[0] or "")
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return process.returncode, True


def _in_progress(argv, stdout):
    """True while a sanitize status query says the drive is still erasing."""
    if "--sanitize-status" in argv:
        return "In Process" in stdout
    if argv[:2] == ["nvme", "sanitize-log"]:
        m = re.search(r"\(SSTAT\)\s*:\s*(\S+)", stdout)
        return bool(m) and int(m.group(1), 0) & 0x7 == 2
    return False


def _transcript(executed, path):
    """One log of every command's output, for tools that write no log of their own (hdparm, nvme)."""
    with path.open("w", encoding="utf-8") as log:
        for entry in executed:
            log.write(f"$ {entry['command']}\n")
            log.write(Path(entry["stdout"]).read_text(errors="replace"))
            log.write(Path(entry["stderr"]).read_text(errors="replace"))
            log.write(f"[exit status {entry['exit_code']}]\n")
    return path


def _log_file(runner, executed, log_path):
    """The log to import and keep: nwipe's --logfile, else (a profile without one) nwipe's stdout; for
    hdparm and nvme, which write no log, a transcript of every command."""
    if runner.executable != "nwipe":
        return _transcript(executed, log_path)
    if log_path.is_file():
        return log_path
    return next((Path(e["stdout"]) for e in executed if e["command"].startswith("nwipe")), log_path)


def _import_log(runner, disk, executed, log_path):
    """(erasure entry for this disk or None, the parser's warnings, reasons the log gives to fail)."""
    if runner.executable == "nwipe":
        text, parse = (log_path.read_text(errors="replace") if log_path.is_file() else ""), parse_nwipe
    elif runner.executable == "nvme":
        logs = [e for e in executed if e["command"].startswith("nvme sanitize-log")]
        text, parse = (
            (Path(logs[-1]["stdout"]).read_text(errors="replace") if logs else ""),
            parse_nvme_sanitize,
        )
    else:
        text, parse = log_path.read_text(errors="replace"), parse_hdparm
    try:
        parsed = parse(text, log_path.name)
    except ValueError as exc:
        return None, [], [f"the log cannot be read: {exc}"]
    warnings = parsed.get("warnings", [])
    erasures = [e for e in parsed.get("erasures", []) if e.get("path") in (None, disk.path)]
    if not erasures:
        return None, warnings, [f"the log shows no erasure of {disk.path}"]
    erasure = dict(erasures[-1])
    if runner.executable == "hdparm" and "result" not in erasure:
        erasure["result"] = _hdparm_status(text)
    if erasure.get("result") != "pass":
        return erasure, warnings, [f"the log reports {erasure.get('result') or 'no result'}"]
    return erasure, warnings, []


def _hdparm_status(text):
    """pass/fail from `hdparm --sanitize-status` (hdparm prints nothing when the sanitize starts)."""
    if "Last Sanitize Operation Completed Without Error" in text:
        return "pass"
    if "SD3 Sanitize Operation Failed" in text or "completed unsuccessfully" in text:
        return "fail"
    return None


def _verification_text(runner, erasure, plan, found, bad):
    parts = []
    if runner.executable == "nwipe" and erasure and erasure.get("verification"):
        parts.append(f"nwipe verify={erasure['verification']}")
    total = len(plan.canaries)
    parts.append(
        f"{total} canaries gone" if not found else f"{len(found)} of {total} canaries still readable"
    )
    parts.append(f"{len(plan.samples)} sampled blocks checked" + (f", {bad} wrong" if bad else ""))
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------- helpers


def _ask(argv):
    """(exit status, stdout, stderr) of a command that only reads; a missing executable is status 127."""
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=HELPER_TIMEOUT,
            env=_env(),
        )
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: no answer in {HELPER_TIMEOUT} s"
    return done.returncode, done.stdout, done.stderr


def _env():
    """The environment for tools whose output we parse: the C locale."""
    return {**os.environ, "LC_ALL": "C", "LANG": "C"}


def _read(path):
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


def _entries(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _unescape(text):
    """/proc/mounts and /proc/swaps write a space as \\040."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _sha256_file(path):
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _now():
    return datetime.now(UTC).isoformat(timespec="seconds")
