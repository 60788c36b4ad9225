"""The engine of `refurb wipe run`, for real: Debian's nwipe on loop devices, the refusals before anything
is written, and a read-back that catches a tool which erased nothing.

Needs root, losetup and nwipe (scripts/system-deps.sh installs them).  Without them: a skip, but in CI
(CI=true) a failure, as for PostgreSQL.
"""

import hashlib
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from conftest import PATTERN, SIZE, require

from refurb import catalog, wiperun
from refurb.errors import HardwareUnavailable, InvalidConfig, NotAllowed, UsageProblem

HDPARM_FRAGMENT = (
    Path(__file__).resolve().parents[2]
    / "shared/external/erasure/hdparm-github-issues/hdparm-I-security-section-TKperf-29.fragment.txt"
)
NWIPE_PROFILE = """\
id = "{id}"
version = 1
name = "test profile"
standard = "NIST SP 800-88 Rev.1"
method = "{method}"
media = ["hdd"]
verification = "full"
evidence = ["nwipe log"]

[levels]
hdd = "clear"

[tool]
name = "nwipe"
commands = ["{command}"]
"""


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def profiles():
    return catalog.load_profiles()


def own_profile(
    tmp_path, id, method, options, command="nwipe --nogui --autonuke {options} --logfile={{log}} {{device}}"
):
    folder = tmp_path / "profiles"
    folder.mkdir(exist_ok=True)
    command = command.format(options=options)
    (folder / f"{id}.toml").write_text(NWIPE_PROFILE.format(id=id, method=method, command=command))
    return catalog.load_profiles([folder])[id]


def wipe(profile, device, tmp_path, medium_type="hdd", **options):
    options.setdefault("serial_check", False)
    return wiperun.run(
        profile,
        device,
        medium_serial="WD-TEST123",
        medium_type=medium_type,
        workdir=tmp_path / "work",
        **options,
    )


def refused(exception, call, device):
    """The exception `call` raises, after checking that the device was left exactly as it was."""
    before = hashlib.sha256(Path(device).read_bytes()).hexdigest()
    with pytest.raises(exception) as caught:
        call()
    assert hashlib.sha256(Path(device).read_bytes()).hexdigest() == before
    return caught.value


def test_nwipe_wipes_a_loop_device_and_no_canary_or_old_data_is_left(loop, nwipe, profiles, tmp_path):
    heard = []
    record = wipe(profiles["hdd-overwrite"], loop, tmp_path, progress=heard.append)

    content = Path(loop).read_bytes()  # an independent read of the whole device
    assert wiperun.MARKER not in content and record["canaries"]["marker"].encode() not in content
    assert PATTERN not in content
    assert content == bytes(SIZE)  # nwipe's blanking pass leaves zeros

    assert record["result"] == "pass", record["reasons"]
    assert (record["reasons"], record["verified"], record["exit_code"]) == ([], True, 0)
    assert record["canaries"]["written"] == 8 and record["canaries"]["found_after"] == 0
    assert record["samples"] == {"checked": 64, "bad": 0, "expected": "zeros"}
    assert record["verification"] == "nwipe verify=last; 8 canaries gone; 64 sampled blocks checked"
    assert (record["device"], record["device_kind"], record["size_bytes"]) == (loop, "loop", SIZE)
    assert (record["serial_read"], record["serial_checked"]) == (None, False)
    assert record["tool_version"].startswith("nwipe version ")
    assert (record["method"], record["passes"], record["level"]) == ("overwrite-prng", 1, "clear")
    erasure = record["erasure"]
    assert (erasure["path"], erasure["method"], erasure["verification"], erasure["result"]) == (
        loop,
        "PRNG Stream",
        "last",
        "pass",
    )
    assert record["log_sha256"] == sha256(record["log_path"])
    assert "Blanked device " + loop in Path(record["log_path"]).read_text()
    assert [c["command"].split()[0] for c in record["commands"]] == ["smartctl", "nwipe"]
    assert record["commands"][0]["evidence_only"] and record["commands"][1]["exit_code"] == 0
    assert [(p["check"], p["status"]) for p in record["preflight"]] == [
        ("writable", "ok"),
        ("hpa_dco", "not-applicable"),
        ("usb_bridge", "not-applicable"),
    ]
    started, ended = datetime.fromisoformat(record["started"]), datetime.fromisoformat(record["ended"])
    assert started.utcoffset().total_seconds() == 0 and started <= ended
    assert any("canary" in m for m in heard) and any(m.startswith("Blanking device") for m in heard)


def test_a_tool_that_erases_nothing_fails_on_every_check(loop, nwipe, tmp_path):
    reads_only = own_profile(tmp_path, "verify-only", "verify-zero", "--method=verify_zero")
    record = wipe(reads_only, loop, tmp_path)
    assert record["result"] == "fail" and record["verified"] is False
    assert record["canaries"]["found_after"] == 8
    assert record["samples"]["bad"] == 64
    assert record["exit_code"] == 1 and record["erasure"]["result"] == "fail"
    assert record["reasons"][0].startswith("exit status 1: nwipe ")
    assert "the log reports fail" in record["reasons"]
    assert any(r.startswith("8 of 8 canaries still readable") for r in record["reasons"])
    assert record["verification"].endswith(
        "8 of 8 canaries still readable; 64 sampled blocks checked, 64 wrong"
    )
    assert record["canaries"]["marker"].encode() in Path(loop).read_bytes()


def test_random_data_without_blanking_is_checked_as_changed(loop, nwipe, tmp_path):
    noblank = own_profile(tmp_path, "prng-noblank", "overwrite-prng", "--method=prng --noblank --verify=last")
    record = wipe(noblank, loop, tmp_path)
    assert record["result"] == "pass", record["reasons"]
    assert record["samples"] == {"checked": 64, "bad": 0, "expected": "changed"}
    content = Path(loop).read_bytes()
    assert PATTERN not in content and wiperun.MARKER not in content and content != bytes(SIZE)


def test_ctrl_c_stops_nwipe_and_the_run_is_a_failure(loop, nwipe, profiles, tmp_path):
    def operator(message):
        if message.startswith("Starting pass"):
            raise KeyboardInterrupt

    record = wipe(profiles["removable-overwrite"], loop, tmp_path, medium_type="removable", progress=operator)
    assert record["interrupted"] is True
    assert (record["result"], record["reasons"][0]) == ("fail", "interrupted by the operator")
    assert record["commands"][-1]["exit_code"] is not None  # nwipe was waited for, not left running


def test_a_loop_device_has_no_serial_so_the_check_must_be_waived(loop, profiles, tmp_path):
    error = refused(
        NotAllowed, lambda: wipe(profiles["hdd-overwrite"], loop, tmp_path, serial_check=True), loop
    )
    assert error.code == "serial-unreadable"
    assert "--no-serial-check" in error.hint
    assert loop in error.message and "WD-TEST123" in error.message


def test_a_mounted_disk_is_refused_and_left_alone(loop, profiles, tmp_path):
    require(shutil.which("mkfs.ext4"), "mkfs.ext4 is not installed (e2fsprogs)")
    subprocess.run(["mkfs.ext4", "-q", "-F", loop], check=True)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-o", "ro", loop, str(mountpoint)], capture_output=True, text=True)
    require(mounted.returncode == 0, f"cannot mount a loop device here: {mounted.stderr.strip()}")
    try:
        error = refused(NotAllowed, lambda: wipe(profiles["hdd-overwrite"], loop, tmp_path), loop)
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
    assert error.code == "disk-in-use"
    assert f"mounted on {mountpoint}" in error.message
    assert "unmount" in error.hint


def test_the_disk_the_system_runs_from_is_refused(profiles, tmp_path):
    root = os.stat("/").st_dev
    node = Path(f"/sys/dev/block/{os.major(root)}:{os.minor(root)}")
    require(os.geteuid() == 0, "wipe runs need root")
    if not node.exists():
        pytest.skip("the root filesystem is not on a block device here (overlay or tmpfs)")
    node = node.resolve()
    disk = "/dev/" + (node.parent.name if (node / "partition").exists() else node.name)
    # Three refusals stand between this test and the system disk: system disk, serial, preflight.
    with pytest.raises(NotAllowed) as caught:
        wipe(profiles["sata-ssd-sanitize"], disk, tmp_path, medium_type="sata-ssd", serial_check=True)
    assert caught.value.code == "system-disk"
    assert "/" in caught.value.message


def test_a_sanitize_profile_on_a_loop_device_is_refused_before_writing(loop, profiles, tmp_path):
    error = refused(
        HardwareUnavailable, lambda: wipe(profiles["sata-ssd-sanitize"], loop, tmp_path, "sata-ssd"), loop
    )
    assert error.code == "no-sanitize" and "hdparm cannot sanitize it" in error.message
    assert {p["check"]: p["status"] for p in error.data["preflight"]} == {
        "writable": "ok",
        "frozen": "not-applicable",
        "usb_bridge": "not-applicable",
        "sanitize": "failed",
    }
    error = refused(
        HardwareUnavailable, lambda: wipe(profiles["nvme-sanitize"], loop, tmp_path, "nvme"), loop
    )
    assert error.code == "no-sanitize" and "not an NVMe drive" in error.message


def test_a_read_only_disk_is_refused(tmp_path, profiles):
    require(os.geteuid() == 0, "wipe runs need root (loop devices)")
    require(shutil.which("losetup"), "losetup is not installed (util-linux)")
    image = tmp_path / "ro.img"
    image.write_bytes(PATTERN * (1 << 16))
    done = subprocess.run(["losetup", "-r", "-f", "--show", str(image)], capture_output=True, text=True)
    require(done.returncode == 0, f"losetup cannot attach a loop device: {done.stderr.strip()}")
    device = done.stdout.strip()
    try:
        with pytest.raises(HardwareUnavailable) as caught:
            wipe(profiles["removable-overwrite"], device, tmp_path, "removable")
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
    assert caught.value.code == "read-only"
    assert image.read_bytes() == PATTERN * (1 << 16)


def test_what_is_not_a_disk_is_a_usage_problem(tmp_path, profiles):
    plain = tmp_path / "disk.img"
    plain.write_bytes(PATTERN)
    for path, code in (
        (plain, "not-a-block-device"),
        ("/dev/null", "not-a-block-device"),
        (tmp_path / "absent", "no-device"),
    ):
        with pytest.raises(UsageProblem) as caught:
            wipe(profiles["hdd-overwrite"], str(path), tmp_path)
        assert caught.value.code == code and str(path) in caught.value.message
    assert plain.read_bytes() == PATTERN


@pytest.mark.parametrize("profile", ["destroy", "android-reset", "ios-erase", "chromeos-powerwash"])
def test_profiles_refurb_does_not_run_point_to_wipe_record(profile, profiles, tmp_path):
    with pytest.raises(UsageProblem) as caught:
        wipe(profiles[profile], "/dev/null", tmp_path, medium_type=profiles[profile].media[0])
    assert caught.value.code == "not-runnable" and "refurb wipe record" in caught.value.hint


def test_a_profile_for_other_media_is_a_usage_problem(profiles, tmp_path):
    with pytest.raises(UsageProblem) as caught:
        wipe(profiles["hdd-overwrite"], "/dev/null", tmp_path, medium_type="nvme")
    assert caught.value.code == "profile-mismatch" and "hdd" in caught.value.hint


@pytest.mark.parametrize(
    "command",
    [
        "nwipe --nogui --autonuke --method=prng",  # no device: --autonuke would wipe every disk
        "nwipe --autonuke --method=prng {{device}}",  # no --nogui: a screen waiting for a key
        "nwipe --nogui --autonuke --exclude={{device}}",
    ],
)
def test_an_unsafe_nwipe_command_is_refused(command, loop, tmp_path):
    unsafe = own_profile(tmp_path, "unsafe", "overwrite-prng", "", command=command)
    error = refused(InvalidConfig, lambda: wipe(unsafe, loop, tmp_path), loop)
    assert error.code == "unsafe-command" and unsafe.source in error.message


@pytest.mark.skipif(not HDPARM_FRAGMENT.exists(), reason=f"{HDPARM_FRAGMENT} is not there")
def test_the_frozen_state_is_read_from_hdparm_output():
    text = HDPARM_FRAGMENT.read_text()
    assert wiperun.ata_frozen(text) is True
    assert wiperun.ata_frozen(text.replace("\t\tfrozen", "\tnot\tfrozen")) is False
    assert wiperun.ata_frozen("/dev/sda:\n\nATA device, with non-removable media\n") is None


def test_hidden_sectors_are_read_from_hdparm_output():
    hpa = "\n/dev/sda:\n max sectors   = 976771055/976773168, HPA is enabled\n"
    dco = "/dev/sda:\nDCO Revision: 0x0002\n\tReal max sectors: 976773168\n"
    assert wiperun.hidden_sectors(hpa, dco) == (976771055, 976773168, 976773168)
    assert wiperun.hidden_sectors("", "") == (None, None, None)
