"""The shipped wipe profiles, image catalogue and QC checklists, and the strictness of their loaders."""

import copy
import json
from pathlib import Path

import pytest

from refurb import catalog, i18n
from refurb.catalog import (
    image_problems,
    load_checklist,
    load_images,
    load_profile,
    load_profiles,
    shipped_dir,
)
from refurb.errors import InvalidConfig, UsageProblem
from refurb.states import DEVICE_KINDS, LEVELS, MEDIA_TYPES

SHIPPED_PROFILES = {
    "hdd-overwrite",
    "sata-ssd-sanitize",
    "nvme-sanitize",
    "emmc-erase",
    "removable-overwrite",
    "ios-erase",
    "android-reset",
    "chromeos-powerwash",
    "destroy",
}
FLASH = {"sata-ssd", "nvme", "emmc", "removable", "embedded"}
PROFILE_DIR = shipped_dir("wipe_profiles")


@pytest.fixture
def english():
    i18n.setup("en")
    yield
    i18n.setup("en")


def shipped_text(profile_id):
    return (PROFILE_DIR / f"{profile_id}.toml").read_text(encoding="utf-8")


def invalid(tmp_path, name, text):
    """Write `text` as tmp_path/name, load the folder as a user profile folder, return the error."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidConfig) as caught:
        load_profiles([tmp_path])
    error = caught.value
    assert error.exit_code == 5 and error.code == "invalid-config"
    assert "\n" not in error.message
    assert str(path) in error.message
    return error


# ---------------------------------------------------------------------------------------------------------
# Shipped wipe profiles


def test_shipped_dir_is_the_checkout_folder():
    assert PROFILE_DIR == Path(__file__).resolve().parent.parent / "wipe_profiles"


def test_all_nine_shipped_profiles_load_and_each_id_equals_its_file_stem():
    profiles = load_profiles()
    assert set(profiles) == SHIPPED_PROFILES
    for profile_id, profile in profiles.items():
        source = Path(profile.source)
        assert source.parent == PROFILE_DIR
        assert source.stem == profile_id == profile.id
        assert profile.version >= 1
        assert profile.evidence and profile.tool
        assert set(profile.levels) == set(profile.media)
        assert set(profile.preflight) == {"frozen", "hpa_dco", "usb_bridge"}


@pytest.mark.parametrize(
    "profile_id, medium, level",
    [
        ("hdd-overwrite", "hdd", "clear"),
        ("sata-ssd-sanitize", "sata-ssd", "purge"),
        ("nvme-sanitize", "nvme", "purge"),
        ("emmc-erase", "emmc", "purge"),
        ("removable-overwrite", "removable", "clear"),
        ("ios-erase", "embedded", "purge"),
        ("android-reset", "embedded", "purge"),
        ("chromeos-powerwash", "embedded", "clear"),
        ("chromeos-powerwash", "emmc", "clear"),
    ],
)
def test_each_profile_claims_the_level_nist_allows(profile_id, medium, level):
    profile = load_profiles()[profile_id]
    assert profile.level_for(medium) == level
    assert profile.levels[medium] == level
    assert set(profile.media) == set(profile.levels)


def test_flash_never_reaches_purge_by_overwriting():
    for profile in load_profiles().values():
        if "overwrite" in profile.method.split("-"):
            assert set(profile.levels.values()) == {"clear"}, profile.id
        for medium in FLASH & set(profile.media):
            if profile.level_for(medium) == "purge":
                # Purge on flash only by the device's own sanitize command or by destroying the key.
                assert "overwrite" not in profile.method
                assert "sanitize" in profile.method or "crypto-erase" in profile.method, profile.id


def test_emmc_purge_rests_on_the_mmc_sanitize_command():
    profile = load_profiles()["emmc-erase"]
    assert "sanitize" in profile.method
    assert any(command.startswith("mmc sanitize ") for command in profile.commands)


def test_destroy_reaches_destroy_on_every_media_type():
    profile = load_profiles()["destroy"]
    assert set(profile.media) == set(MEDIA_TYPES)
    for medium in MEDIA_TYPES:
        assert profile.level_for(medium) == "destroy"
        assert profile.reaches(medium, "purge")


def test_level_for_a_medium_the_profile_does_not_cover_is_none():
    profiles = load_profiles()
    assert profiles["nvme-sanitize"].level_for("hdd") is None
    assert profiles["hdd-overwrite"].level_for("nvme") is None
    assert profiles["ios-erase"].level_for("emmc") is None
    assert not profiles["nvme-sanitize"].reaches("hdd", "clear")
    assert not profiles["hdd-overwrite"].reaches("hdd", "purge")
    assert profiles["hdd-overwrite"].reaches("hdd", "clear")


def test_profiles_are_read_only_but_serialisable():
    profile = load_profiles()["nvme-sanitize"]
    with pytest.raises(TypeError):
        profile.levels["nvme"] = "destroy"
    with pytest.raises(TypeError):
        profile.preflight.update(frozen=True)
    assert json.loads(json.dumps(profile.levels)) == {"nvme": "purge"}
    assert copy.deepcopy(profile) == profile
    assert hash(profile) == hash(load_profile(profile.source))
    # callers may not change the cached catalogue either
    load_profiles().pop("nvme-sanitize")
    assert "nvme-sanitize" in load_profiles()


def test_commands_use_only_known_placeholders():
    for profile in load_profiles().values():
        for command in profile.commands:
            command.format(device="/dev/x", serial="S1", log="/tmp/log")


# ---------------------------------------------------------------------------------------------------------
# Strict validation of profile files


def test_unknown_key_names_file_and_key(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace("[levels]", "[levles]")
    error = invalid(tmp_path, "nvme-sanitize.toml", text)
    assert "unknown key 'levles'" in error.message
    assert "levels" in error.hint


def test_unknown_key_inside_a_table(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace("[preflight]", "[preflight]\ntpm = true")
    assert "unknown key 'preflight.tpm'" in invalid(tmp_path, "nvme-sanitize.toml", text).message


def test_bad_level_value(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('nvme = "purge"', 'nvme = "purged"')
    error = invalid(tmp_path, "nvme-sanitize.toml", text)
    assert "levels.nvme: 'purged' is not one of clear, purge, destroy" in error.message


def test_missing_level_for_a_listed_medium(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('media = ["nvme"]', 'media = ["nvme", "sata-ssd"]')
    assert "missing key 'levels.sata-ssd'" in invalid(tmp_path, "nvme-sanitize.toml", text).message


def test_level_for_a_medium_not_listed(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('nvme = "purge"', 'nvme = "purge"\nhdd = "clear"')
    assert "levels.hdd: 'hdd' is not listed in media" in invalid(tmp_path, "nvme-sanitize.toml", text).message


def test_media_type_not_known(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('media = ["nvme"]', 'media = ["floppy"]')
    error = invalid(tmp_path, "nvme-sanitize.toml", text)
    assert "media[0]: 'floppy' is not one of hdd, sata-ssd" in error.message


def test_empty_media(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('media = ["nvme"]', "media = []")
    assert "media: must not be empty" in invalid(tmp_path, "nvme-sanitize.toml", text).message


def test_id_must_equal_the_file_stem(tmp_path, english):
    error = invalid(tmp_path, "my-nvme.toml", shipped_text("nvme-sanitize"))
    assert "id: 'nvme-sanitize' does not match the file name 'my-nvme.toml'" in error.message


def test_toml_syntax_error_names_file_line_and_column(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace("version = 1", "version = = 1")
    error = invalid(tmp_path, "nvme-sanitize.toml", text)
    line = 1 + text.splitlines().index("version = = 1")
    assert "not valid TOML" in error.message
    assert f"line {line}, column" in error.message


def test_file_that_is_not_utf8(tmp_path, english):
    path = tmp_path / "nvme-sanitize.toml"
    path.write_bytes(shipped_text("nvme-sanitize").replace("nvme-cli", "nvme\xe9cli").encode("latin-1"))
    with pytest.raises(InvalidConfig, match="not UTF-8"):
        load_profiles([tmp_path])


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("version = 1", "version = 0", "version: expected a whole number of at least 1, got integer 0"),
        ("version = 1", "version = true", "version: expected a whole number of at least 1, got boolean True"),
        ("version = 1", 'version = "1"', "version: expected a whole number"),
        (
            'standard = "IEEE 2883-2022"',
            'standard = "DoD 5220.22-M"',
            "standard: 'DoD 5220.22-M' is not one of",
        ),
        (
            'verification = "sample"',
            'verification = "some"',
            "verification: 'some' is not one of none, sample, full",
        ),
        ('method = "sanitize-block-erase"', 'method = "Block Erase"', "method: 'Block Erase' is not a slug"),
        ('name = "nvme-cli"', "name = 3", "tool.name: expected a string, got integer 3"),
        ("frozen = false", 'frozen = "no"', "preflight.frozen: expected true or false"),
        (
            '"nvme sanitize-log {device}"',
            '"nvme sanitize-log {disk}"',
            "tool.commands[2]: unknown placeholder {disk}",
        ),
        (
            '"nvme sanitize-log {device}"',
            '"nvme sanitize-log {device"',
            "tool.commands[2]: badly placed brace",
        ),
        ("evidence = [", "evidence = [3, ", "evidence[0]: expected a non-empty string"),
    ],
)
def test_bad_values_name_the_key(tmp_path, english, old, new, expected):
    text = shipped_text("nvme-sanitize")
    assert old in text
    assert expected in invalid(tmp_path, "nvme-sanitize.toml", text.replace(old, new, 1)).message


def test_missing_required_key(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('verification = "sample"\n', "")
    assert "missing key 'verification'" in invalid(tmp_path, "nvme-sanitize.toml", text).message


def test_an_overwrite_can_never_claim_purge(tmp_path, english):
    text = shipped_text("removable-overwrite").replace('removable = "clear"', 'removable = "purge"')
    error = invalid(tmp_path, "removable-overwrite.toml", text)
    assert "levels.removable: an overwrite reaches only 'clear'" in error.message


def test_only_physical_destruction_claims_destroy(tmp_path, english):
    text = shipped_text("nvme-sanitize").replace('nvme = "purge"', 'nvme = "destroy"')
    assert "levels.nvme: only physical destruction" in invalid(tmp_path, "nvme-sanitize.toml", text).message


def test_a_user_profile_overrides_the_shipped_one_with_the_same_id(tmp_path):
    text = shipped_text("nvme-sanitize").replace("version = 1", "version = 2")
    text = text.replace('nvme = "purge"', 'nvme = "clear"').replace(
        'method = "sanitize-block-erase"', 'method = "format"'
    )
    (tmp_path / "nvme-sanitize.toml").write_text(text, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a profile", encoding="utf-8")

    profiles = load_profiles([tmp_path])
    assert set(profiles) == SHIPPED_PROFILES
    assert profiles["nvme-sanitize"].version == 2
    assert profiles["nvme-sanitize"].level_for("nvme") == "clear"
    assert profiles["nvme-sanitize"].source == str(tmp_path / "nvme-sanitize.toml")
    assert load_profiles()["nvme-sanitize"].version == 1


def test_later_folders_win_and_new_ids_are_added(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for folder, version in ((first, 5), (second, 6)):
        text = shipped_text("destroy").replace("version = 1", f"version = {version}")
        (folder / "destroy.toml").write_text(text, encoding="utf-8")
    (second / "hdd-zero.toml").write_text(
        shipped_text("hdd-overwrite").replace('id = "hdd-overwrite"', 'id = "hdd-zero"'), encoding="utf-8"
    )
    profiles = load_profiles([first, second])
    assert profiles["destroy"].version == 6
    assert profiles["hdd-zero"].level_for("hdd") == "clear"
    assert load_profiles([second, first])["destroy"].version == 5


def test_a_missing_user_folder_is_an_error(tmp_path):
    with pytest.raises(InvalidConfig, match="not found") as caught:
        load_profiles([tmp_path / "nowhere"])
    assert "nowhere" in caught.value.message


def test_messages_go_through_gettext_before_formatting(tmp_path, monkeypatch):
    text = shipped_text("nvme-sanitize").replace("[levels]", "[levles]")
    (tmp_path / "nvme-sanitize.toml").write_text(text, encoding="utf-8")
    looked_up = []
    translate = catalog._
    monkeypatch.setattr(catalog, "_", lambda message: looked_up.append(message) or translate(message))
    with pytest.raises(InvalidConfig):
        load_profile(tmp_path / "nvme-sanitize.toml")
    assert "{file}: unknown key '{key}'" in looked_up


# ---------------------------------------------------------------------------------------------------------
# OS images


def test_image_catalogue_has_the_main_images():
    images = load_images()
    assert {"linux-mint", "windows-11", "chromeos-flex", "android-stock", "ipados-stock", "ios-stock"} <= set(
        images
    )
    for image in images.values():
        assert image.licence and image.kinds and set(image.kinds) <= set(DEVICE_KINDS)
    assert images["linux-mint"].licence == "GPL/free"
    assert {"tpm2", "secure-boot", "cpu-win11"} <= set(images["windows-11"].requires)
    assert images["windows-11"].min_ram_gb == 4


def test_every_device_kind_but_other_has_an_image():
    kinds = {kind for image in load_images().values() for kind in image.kinds}
    assert kinds == set(DEVICE_KINDS) - {"other"}


def test_windows_11_does_not_suit_a_tablet_or_2_gb_of_ram(english):
    windows = load_images()["windows-11"]
    on_tablet = image_problems(windows, "tablet")
    assert len(on_tablet) == 1 and "tablet" in on_tablet[0]
    low_ram = image_problems(windows, "laptop", ram_gb=2)
    assert low_ram == ["windows-11 needs at least 4 GB of RAM; this device has 2 GB"]
    assert len(image_problems(windows, "tablet", ram_gb=2, storage_gb=32)) == 3
    assert image_problems(windows, "laptop", ram_gb=8, storage_gb=256) == []
    assert image_problems(windows, "laptop", ram_gb=4, storage_gb=64) == []


def test_windows_11_requirements_use_known_facts_only(english):
    windows = load_images()["windows-11"]
    assert image_problems(windows, "laptop", facts={"tpm2": None, "cpu-win11": True}) == []
    problems = image_problems(windows, "desktop", facts={"tpm2": False, "cpu-win11": False})
    assert problems == [
        "windows-11 needs TPM 2.0, which this device lacks",
        "windows-11 needs a processor supported by Windows 11, which this device lacks",
    ]


def test_linux_mint_suits_a_laptop_whose_specs_are_unknown():
    assert image_problems(load_images()["linux-mint"], "laptop") == []
    assert image_problems(load_images()["linux-mint"], "laptop", ram_gb=None, storage_gb=None) == []


def test_stock_images_suit_only_their_own_kind():
    images = load_images()
    assert image_problems(images["ipados-stock"], "tablet") == []
    assert image_problems(images["ios-stock"], "tablet") != []
    assert image_problems(images["android-stock"], "phone") == []
    assert image_problems(images["android-stock"], "laptop") != []


IMAGE = """
[[image]]
id = "linux-mint"
name = "Linux Mint"
os = "Linux Mint"
licence = "GPL/free"
kinds = ["laptop"]
"""


@pytest.mark.parametrize(
    "extra, expected",
    [
        ('flavour = "xfce"', "unknown key 'image[linux-mint].flavour'"),
        ("min_ram_gb = -1", "image[linux-mint].min_ram_gb: expected a number above 0"),
        ('requires = ["tpm3"]', "image[linux-mint].requires[0]: 'tpm3' is not one of"),
    ],
)
def test_image_catalogue_is_strict(tmp_path, english, extra, expected):
    path = tmp_path / "images.toml"
    path.write_text(IMAGE + extra + "\n", encoding="utf-8")
    with pytest.raises(InvalidConfig) as caught:
        load_images(path)
    assert str(path) in caught.value.message and expected in caught.value.message


def test_image_catalogue_rejects_bad_kinds_and_duplicates(tmp_path, english):
    path = tmp_path / "images.toml"
    path.write_text(IMAGE.replace('["laptop"]', '["laptop", "toaster"]'), encoding="utf-8")
    with pytest.raises(InvalidConfig, match=r"image\[linux-mint\]\.kinds\[1\]: 'toaster'"):
        load_images(path)
    path.write_text(IMAGE + IMAGE, encoding="utf-8")
    with pytest.raises(InvalidConfig, match=r"image\[linux-mint\]\.id: 'linux-mint' is used twice"):
        load_images(path)
    path.write_text(IMAGE.replace('licence = "GPL/free"\n', ""), encoding="utf-8")
    with pytest.raises(InvalidConfig, match=r"missing key 'image\[linux-mint\]\.licence'"):
        load_images(path)
    path.write_text(IMAGE.replace('id = "linux-mint"', 'id = "Linux Mint"'), encoding="utf-8")
    with pytest.raises(InvalidConfig, match=r"image\[#1\]\.id: 'Linux Mint' is not a slug"):
        load_images(path)


# ---------------------------------------------------------------------------------------------------------
# QC checklists


@pytest.mark.parametrize("kind", DEVICE_KINDS)
def test_every_kind_has_a_checklist(kind):
    checklist = load_checklist(kind)
    assert checklist.kind == kind
    ids = [item.id for item in checklist.items]
    assert len(ids) == len(set(ids))
    assert {"power-on", "no-firmware-lock"} <= set(checklist.mandatory_ids())
    for item in checklist.items:
        assert item.labels["en"] and item.labels["nl"]


def test_laptop_checklist():
    laptop = load_checklist("laptop")
    battery = laptop.item("battery")
    assert battery.mandatory and battery.threshold == 70
    assert {"keyboard", "touchpad", "screen", "charger", "wifi"} <= set(laptop.mandatory_ids())
    assert laptop.item("dead-pixels").mandatory is False
    assert laptop.item("touch") is None


@pytest.mark.parametrize("kind", ["tablet", "phone"])
def test_tablets_and_phones_are_touched_not_typed_on(kind):
    checklist = load_checklist(kind)
    assert "touch" in checklist.mandatory_ids()
    assert checklist.item("keyboard") is None and checklist.item("touchpad") is None
    assert checklist.item("battery").threshold == 70
    assert (
        "FRP" in checklist.item("no-firmware-lock").label
        or "Activation" in checklist.item("no-firmware-lock").label
    )


def test_desktop_needs_no_battery_touchpad_or_webcam():
    desktop = load_checklist("desktop")
    assert not {"battery", "touchpad", "webcam", "keyboard"} & set(desktop.mandatory_ids())


def test_other_is_minimal():
    assert load_checklist("other").mandatory_ids() == ("power-on", "no-firmware-lock")


def test_label_follows_the_language(english):
    item = load_checklist("laptop").item("power-on")
    assert item.label == "Powers on and boots"
    i18n.setup("nl")
    assert item.label == "Start op en boot"
    assert load_checklist("laptop").item("keyboard").label == "Alle toetsen werken"
    i18n.setup("fr")
    assert item.label == "S'allume et démarre"
    i18n.setup("en")
    assert item.label == "Powers on and boots"


CHECKLIST = """kind = "other"

[[item]]
id = "power-on"
mandatory = true
label = { en = "Powers on", nl = "Start op" }
"""


def test_label_falls_back_to_english(tmp_path, english):
    (tmp_path / "other.toml").write_text(CHECKLIST, encoding="utf-8")
    item = load_checklist("other", tmp_path).item("power-on")
    i18n.setup("fr")
    assert item.label == "Powers on"


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (', nl = "Start op" }', " }", "missing key 'item[power-on].label.nl'"),
        ('nl = "Start op" }', 'nl = "Start op", de = "Startet" }', "unknown key 'item[power-on].label.de'"),
        ("mandatory = true", 'mandatory = "yes"', "item[power-on].mandatory: expected true or false"),
        (
            "mandatory = true",
            "mandatory = true\nthreshold = -5",
            "item[power-on].threshold: expected a number",
        ),
        (
            "mandatory = true",
            "mandatory = true\nmandantory = true",
            "unknown key 'item[power-on].mandantory'",
        ),
        ('id = "power-on"', 'id = "Power On"', "item[#1].id: 'Power On' is not a slug"),
        ('kind = "other"', 'kind = "laptop"', "kind: 'laptop' does not match the file name 'other.toml'"),
    ],
)
def test_checklists_are_strict(tmp_path, english, old, new, expected):
    path = tmp_path / "other.toml"
    path.write_text(CHECKLIST.replace(old, new), encoding="utf-8")
    with pytest.raises(InvalidConfig) as caught:
        load_checklist("other", tmp_path)
    assert str(path) in caught.value.message and expected in caught.value.message


def test_battery_threshold_defaults_to_70_and_cannot_pass_100(tmp_path):
    battery = '\n[[item]]\nid = "battery"\nmandatory = true\nlabel = { en = "Battery", nl = "Batterij" }\n'
    (tmp_path / "other.toml").write_text(CHECKLIST + battery, encoding="utf-8")
    assert load_checklist("other", tmp_path).item("battery").threshold == 70
    (tmp_path / "other.toml").write_text(CHECKLIST + battery + "threshold = 120\n", encoding="utf-8")
    with pytest.raises(InvalidConfig, match=r"item\[battery\]\.threshold"):
        catalog.clear_caches()
        load_checklist("other", tmp_path)


def test_unknown_kind_or_missing_file(tmp_path):
    with pytest.raises(UsageProblem):
        load_checklist("toaster")
    with pytest.raises(InvalidConfig, match="not found"):
        load_checklist("phone", tmp_path)


def test_shipped_levels_are_all_known():
    for profile in load_profiles().values():
        assert set(profile.levels.values()) <= set(LEVELS)
