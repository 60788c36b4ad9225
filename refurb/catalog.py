"""Shipped data as frozen, validated objects: wipe profiles, the OS image catalogue, QC checklists.

Every file is checked strictly when it is loaded: an unknown key, a missing key or a bad value raises
InvalidConfig with one line that names the file and the dotted key (`levels.nvme`, `item[battery].threshold`).
A catalogue that loads is therefore one the rest of refurb can trust without checking again.

Stdlib only, so that `refurb --help` stays fast.
"""

import functools
import math
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from refurb.errors import InvalidConfig, UsageProblem
from refurb.i18n import LANGUAGES, N_, _, current
from refurb.states import DEVICE_KINDS, LEVELS, MEDIA_TYPES, level_rank

STANDARDS = ("NIST SP 800-88 Rev.1", "NIST SP 800-88 Rev.2", "IEEE 2883-2022")
VERIFICATIONS = ("none", "sample", "full")
# Checks to run before a wipe: the ATA "frozen" security state, a Host Protected Area / Device
# Configuration Overlay that hides sectors, and a USB bridge that may swallow ATA/NVMe commands.
PREFLIGHT_CHECKS = ("frozen", "hpa_dco", "usb_bridge")
# Placeholders a profile's tool commands may use.
COMMAND_FIELDS = ("device", "serial", "log")
FLASH_MEDIA = ("sata-ssd", "nvme", "emmc", "removable", "embedded")
# Method slugs containing one of these words are physical destruction (the only way to reach Destroy).
DESTRUCTION_WORDS = frozenset(
    {"destroy", "destruction", "shred", "shredding", "disintegrate", "pulverise", "pulverize", "incinerate"}
)
# Hardware requirements an image may list, with how they are named to a person.
REQUIREMENTS = {
    "x86-64": N_("a 64-bit x86 processor"),
    "uefi": N_("UEFI firmware"),
    "secure-boot": N_("Secure Boot"),
    "tpm2": N_("TPM 2.0"),
    "cpu-win11": N_("a processor supported by Windows 11"),
}
DEFAULT_BATTERY_THRESHOLD = 70.0

_PROFILE_KEYS = (
    "id",
    "version",
    "name",
    "standard",
    "method",
    "media",
    "verification",
    "evidence",
    "levels",
    "tool",
)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_PACKAGE = Path(__file__).resolve().parent


class _FrozenDict(dict):
    """A dict that refuses changes; still JSON-serialisable, hashable and copyable."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("this mapping is read-only")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self):
        return hash(tuple(sorted(self.items())))

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __repr__(self):
        return f"{dict(self)!r}"


# ---------------------------------------------------------------------------------------------------------
# The objects


@dataclass(frozen=True)
class WipeProfile:
    id: str
    version: int
    name: str
    standard: str
    method: str
    media: tuple[str, ...]
    levels: dict[str, str]  # read-only; one entry per medium in `media`
    verification: str
    evidence: tuple[str, ...]
    tool: str
    commands: tuple[str, ...]
    preflight: dict[str, bool]  # read-only; every key of PREFLIGHT_CHECKS, False when not asked for
    source: str

    def level_for(self, media_type):
        """The level this profile reaches on `media_type`, or None when it does not apply to it."""
        return self.levels.get(media_type)

    def reaches(self, media_type, minimum):
        """True when the profile applies to `media_type` and reaches at least the level `minimum`."""
        level = self.level_for(media_type)
        return level is not None and level_rank(level) >= level_rank(minimum)


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    os: str
    licence: str
    kinds: tuple[str, ...]
    min_ram_gb: float | None = None
    min_storage_gb: float | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    labels: dict[str, str]  # read-only; language -> label, always with "en" and "nl"
    mandatory: bool
    threshold: float | None = None  # the minimum a measured value must reach (battery: health in %)

    @property
    def label(self):
        """The label in the language in force now (refurb.i18n.current()), else English."""
        return self.labels.get(current()) or self.labels["en"]


@dataclass(frozen=True)
class Checklist:
    kind: str
    items: tuple[ChecklistItem, ...]
    source: str = ""

    def item(self, id):
        for item in self.items:
            if item.id == id:
                return item
        return None

    def mandatory_ids(self):
        return tuple(item.id for item in self.items if item.mandatory)


# ---------------------------------------------------------------------------------------------------------
# Where the files are


def shipped_dir(name):
    """The folder of shipped data `name` (wipe_profiles, labels): the repository's in a checkout,
    else the copy the wheel carries in refurb/_shipped/."""
    root = _PACKAGE.parent
    if (root / "pyproject.toml").is_file() and (root / name).is_dir():
        return root / name
    return _PACKAGE / "_shipped" / name


def clear_caches():
    """Forget every loaded catalogue (after files changed on disk)."""
    _load_profiles.cache_clear()
    _load_images.cache_clear()
    _load_checklist.cache_clear()


# ---------------------------------------------------------------------------------------------------------
# Wipe profiles


def load_profiles(extra_dirs=()):
    """Every wipe profile by id: the shipped ones, then each of `extra_dirs` in order (a later profile
    with the same id replaces an earlier one)."""
    return dict(_load_profiles(tuple(str(Path(d).expanduser().resolve()) for d in extra_dirs)))


@functools.lru_cache(maxsize=32)
def _load_profiles(dirs):
    profiles = {}
    for folder in (shipped_dir("wipe_profiles"), *map(Path, dirs)):
        for path in _toml_files(folder, _("wipe profile folder")):
            profile = load_profile(path)
            profiles[profile.id] = profile
    return profiles


def load_profile(path):
    """One wipe profile file, validated."""
    path = Path(path)
    r = _Reader(str(path), _read_toml(path))
    r.expect_keys(_PROFILE_KEYS, ("preflight",))
    profile_id = r.string("id", slug=True)
    if profile_id != path.stem:
        r.fail(
            "id",
            _("{value!r} does not match the file name {name!r}").format(value=profile_id, name=path.name),
            hint=_("the id of a wipe profile must equal its file name without .toml"),
        )
    version = r.positive_int("version")
    name = r.string("name")
    standard = r.string("standard", choices=STANDARDS)
    method = r.string("method", slug=True)
    media = r.string_list("media", choices=MEDIA_TYPES)
    verification = r.string("verification", choices=VERIFICATIONS)
    evidence = r.string_list("evidence")
    levels = _read_levels(r, media, method)

    tool = r.table("tool")
    tool.expect_keys(("name", "commands"))
    tool_name = tool.string("name")
    commands = tool.string_list("commands", nonempty=False)
    for i, command in enumerate(commands):
        _check_placeholders(tool, f"commands[{i}]", command)

    preflight = dict.fromkeys(PREFLIGHT_CHECKS, False)
    if "preflight" in r.data:
        checks = r.table("preflight")
        checks.expect_keys((), PREFLIGHT_CHECKS)
        for check in checks.data:
            preflight[check] = checks.boolean(check)

    return WipeProfile(
        id=profile_id,
        version=version,
        name=name,
        standard=standard,
        method=method,
        media=media,
        levels=_FrozenDict(levels),
        verification=verification,
        evidence=evidence,
        tool=tool_name,
        commands=commands,
        preflight=_FrozenDict(preflight),
        source=str(path),
    )


def _read_levels(r, media, method):
    table = r.table("levels")
    for medium in table.data:
        if medium in MEDIA_TYPES and medium not in media:
            table.fail(
                medium,
                _("{medium!r} is not listed in media").format(medium=medium),
                hint=_("add it to media, or remove its level"),
            )
    table.expect_keys(media)
    levels = {medium: table.string(medium, choices=LEVELS) for medium in media}

    # NIST SP 800-88: an overwrite through the host interface cannot reach remapped sectors or the spare
    # blocks of flash, so it is Clear on every medium; only the drive's own sanitize command can Purge.
    words = set(method.split("-"))
    for medium, level in levels.items():
        if level != "clear" and "overwrite" in words and "sanitize" not in words:
            table.fail(
                medium,
                _("an overwrite reaches only 'clear' (NIST SP 800-88), not {level!r}").format(level=level),
                hint=_(
                    "Purge needs the drive's sanitize or crypto-erase command; Destroy needs physical destruction"
                ),
            )
        if level == "destroy" and not words & DESTRUCTION_WORDS:
            table.fail(
                medium,
                _("only physical destruction reaches 'destroy', and method {method!r} is not one").format(
                    method=method
                ),
            )
    return levels


def _check_placeholders(reader, key, command):
    try:
        fields = [parsed[1] for parsed in string.Formatter().parse(command) if parsed[1] is not None]
    except ValueError as exc:
        reader.fail(
            key, _("badly placed brace: {error}").format(error=exc), hint=_("write a literal brace twice")
        )
    for field in fields:
        if field not in COMMAND_FIELDS:
            reader.fail(
                key,
                _("unknown placeholder {{{field}}}").format(field=field),
                hint=_("placeholders: {names}").format(
                    names=", ".join("{" + f + "}" for f in COMMAND_FIELDS)
                ),
            )


# ---------------------------------------------------------------------------------------------------------
# OS images


def load_images(path=None):
    """The OS image catalogue by id (refurb/images.toml unless `path` is given)."""
    return dict(_load_images(str(path) if path else str(_PACKAGE / "images.toml")))


@functools.lru_cache(maxsize=8)
def _load_images(path):
    r = _Reader(path, _read_toml(Path(path)))
    r.expect_keys(("image",))
    images = {}
    for entry in r.table_array("image"):
        entry.expect_keys(
            ("id", "name", "os", "licence", "kinds"), ("min_ram_gb", "min_storage_gb", "requires")
        )
        image_id = entry.string("id", slug=True)
        if image_id in images:
            entry.fail("id", _("{value!r} is used twice").format(value=image_id))
        images[image_id] = Image(
            id=image_id,
            name=entry.string("name"),
            os=entry.string("os"),
            licence=entry.string("licence"),
            kinds=entry.string_list("kinds", choices=DEVICE_KINDS),
            min_ram_gb=entry.number("min_ram_gb", positive=True) if "min_ram_gb" in entry.data else None,
            min_storage_gb=(
                entry.number("min_storage_gb", positive=True) if "min_storage_gb" in entry.data else None
            ),
            requires=(
                entry.string_list("requires", choices=tuple(REQUIREMENTS), nonempty=False)
                if "requires" in entry.data
                else ()
            ),
        )
    return images


def image_problems(image, kind, ram_gb=None, storage_gb=None, facts=None):
    """Why `image` does not suit a device of `kind` with these specs ([] when it suits).

    Unknown specs are given the benefit of the doubt.  `facts` maps a requirement of REQUIREMENTS
    ("tpm2", "cpu-win11", ...) to True/False where the hardware snapshot tells; missing or None is unknown.
    """
    problems = []
    if kind not in image.kinds:
        problems.append(
            _("{image} is not meant for a {kind} (it suits: {kinds})").format(
                image=image.id, kind=kind, kinds=", ".join(image.kinds)
            )
        )
    if ram_gb is not None and image.min_ram_gb is not None and ram_gb < image.min_ram_gb:
        problems.append(
            _("{image} needs at least {need} GB of RAM; this device has {have} GB").format(
                image=image.id, need=_number(image.min_ram_gb), have=_number(ram_gb)
            )
        )
    if storage_gb is not None and image.min_storage_gb is not None and storage_gb < image.min_storage_gb:
        problems.append(
            _("{image} needs at least {need} GB of storage; this device has {have} GB").format(
                image=image.id, need=_number(image.min_storage_gb), have=_number(storage_gb)
            )
        )
    for requirement in image.requires:
        if (facts or {}).get(requirement) is False:
            problems.append(
                _("{image} needs {requirement}, which this device lacks").format(
                    image=image.id, requirement=_(REQUIREMENTS[requirement])
                )
            )
    return problems


def _number(value):
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------------------
# QC checklists


def load_checklist(kind, folder=None):
    """The QC checklist for a device kind (refurb/checklists/<kind>.toml unless `folder` is given)."""
    if kind not in DEVICE_KINDS:
        raise UsageProblem(
            _("no QC checklist for device kind {kind!r}").format(kind=kind),
            hint=_("device kinds: {kinds}").format(kinds=", ".join(DEVICE_KINDS)),
        )
    return _load_checklist(kind, str(folder) if folder else str(_PACKAGE / "checklists"))


@functools.lru_cache(maxsize=16)
def _load_checklist(kind, folder):
    path = Path(folder) / f"{kind}.toml"
    if not path.is_file():
        raise InvalidConfig(
            _("{file}: QC checklist not found").format(file=path),
            hint=_("every device kind needs a checklist: {kinds}").format(kinds=", ".join(DEVICE_KINDS)),
        )
    r = _Reader(str(path), _read_toml(path))
    r.expect_keys(("kind", "item"))
    if r.string("kind") != kind:
        r.fail(
            "kind",
            _("{value!r} does not match the file name {name!r}").format(value=r.data["kind"], name=path.name),
        )
    items = []
    for entry in r.table_array("item"):
        entry.expect_keys(("id", "label", "mandatory"), ("threshold",))
        item_id = entry.string("id", slug=True)
        if any(item.id == item_id for item in items):
            entry.fail("id", _("{value!r} is used twice").format(value=item_id))
        labels = entry.table("label")
        labels.expect_keys(("en", "nl"), tuple(lang for lang in LANGUAGES if lang not in ("en", "nl")))
        threshold = entry.number("threshold") if "threshold" in entry.data else None
        if item_id == "battery":
            if threshold is None:
                threshold = DEFAULT_BATTERY_THRESHOLD
            elif threshold > 100:
                entry.fail(
                    "threshold",
                    _("battery health is a percentage: at most 100, got {value}").format(
                        value=_number(threshold)
                    ),
                )
        items.append(
            ChecklistItem(
                id=item_id,
                labels=_FrozenDict({lang: labels.string(lang) for lang in labels.data}),
                mandatory=entry.boolean("mandatory"),
                threshold=threshold,
            )
        )
    return Checklist(kind=kind, items=tuple(items), source=str(path))


# ---------------------------------------------------------------------------------------------------------
# Reading and checking TOML


def _toml_files(folder, what):
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidConfig(
            _("{folder}: {what} not found").format(folder=folder, what=what),
            hint=_("check the path in the configuration"),
        )
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def _read_toml(path):
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:  # its message carries "(at line L, column C)"
        raise InvalidConfig(
            _("{file}: not valid TOML: {error}").format(file=path, error=exc),
            hint=_("check quotes, brackets and '=' on that line"),
            data={"file": str(path)},
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidConfig(
            _("{file}: not UTF-8 text at byte {position}").format(file=path, position=exc.start),
            hint=_("save the file as UTF-8"),
            data={"file": str(path)},
        ) from None
    except OSError as exc:
        raise InvalidConfig(
            _("{file}: cannot be read: {error}").format(file=path, error=exc.strerror or exc),
            data={"file": str(path)},
        ) from None


def _type_name(value):
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
    ):
        if isinstance(value, kind):
            return name
    return "date/time"


class _Reader:
    """One TOML table being validated; every complaint names the file and the dotted key."""

    def __init__(self, file, data, prefix=""):
        self.file = file
        self.data = data
        self.prefix = prefix

    def key(self, name):
        return self.prefix + name

    def fail(self, name, problem, hint=None):
        key = self.key(name)
        raise InvalidConfig(
            _("{file}: {key}: {problem}").format(file=self.file, key=key, problem=problem),
            hint=hint,
            data={"file": self.file, "key": key},
        )

    def expect_keys(self, required, optional=()):
        allowed = (*required, *optional)
        for name in self.data:
            if name not in allowed:
                key = self.key(name)
                raise InvalidConfig(
                    _("{file}: unknown key '{key}'").format(file=self.file, key=key),
                    hint=_suggest(name, allowed),
                    data={"file": self.file, "key": key},
                )
        for name in required:
            if name not in self.data:
                key = self.key(name)
                raise InvalidConfig(
                    _("{file}: missing key '{key}'").format(file=self.file, key=key),
                    data={"file": self.file, "key": key},
                )

    def _expect(self, name, value, ok, expected):
        if not ok:
            self.fail(
                name,
                _("expected {expected}, got {type} {value!r}").format(
                    expected=expected, type=_type_name(value), value=value
                ),
            )

    def string(self, name, choices=None, slug=False):
        value = self.data[name]
        self._expect(name, value, isinstance(value, str), _("a string"))
        if not value.strip():
            self.fail(name, _("must not be empty"))
        if choices is not None and value not in choices:
            self.fail(
                name, _("{value!r} is not one of {choices}").format(value=value, choices=", ".join(choices))
            )
        if slug and not _SLUG.match(value):
            self.fail(
                name,
                _("{value!r} is not a slug (lower-case letters, digits and single dashes)").format(
                    value=value
                ),
            )
        return value

    def string_list(self, name, choices=None, nonempty=True):
        value = self.data[name]
        self._expect(name, value, isinstance(value, list), _("an array of strings"))
        if nonempty and not value:
            self.fail(name, _("must not be empty"))
        seen = set()
        for i, item in enumerate(value):
            key = f"{name}[{i}]"
            self._expect(key, item, isinstance(item, str) and item.strip(), _("a non-empty string"))
            if choices is not None and item not in choices:
                self.fail(
                    key, _("{value!r} is not one of {choices}").format(value=item, choices=", ".join(choices))
                )
            if item in seen:
                self.fail(key, _("{value!r} is listed twice").format(value=item))
            seen.add(item)
        return tuple(value)

    def positive_int(self, name):
        value = self.data[name]
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        self._expect(name, value, ok, _("a whole number of at least 1"))
        return value

    def number(self, name, positive=False):
        value = self.data[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > 0 if positive else value >= 0)
        self._expect(name, value, ok, _("a number above 0") if positive else _("a number of at least 0"))
        return float(value)

    def boolean(self, name):
        value = self.data[name]
        self._expect(name, value, isinstance(value, bool), _("true or false"))
        return value

    def table(self, name):
        value = self.data[name]
        self._expect(name, value, isinstance(value, dict), _("a table"))
        return _Reader(self.file, value, f"{self.key(name)}.")

    def table_array(self, name):
        """The [[name]] tables, each named in messages by its id (`item[battery]`) or position (`item[#2]`)."""
        value = self.data[name]
        ok = isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
        self._expect(name, value, ok, _("one or more [[{name}]] tables").format(name=name))
        return [
            _Reader(self.file, v, f"{self.key(name)}[{_entry_name(v, i)}].") for i, v in enumerate(value, 1)
        ]


def _entry_name(table, position):
    """How messages name one of several [[tables]]: by its id when that is a slug, else `#position`."""
    name = table.get("id")
    if isinstance(name, str) and _SLUG.match(name):
        return name
    return f"#{position}"


def _suggest(name, allowed):
    if not allowed:
        return None
    import difflib  # only when there is a typo to explain

    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return _("did you mean '{key}'?").format(key=close[0])
    return _("allowed keys: {keys}").format(keys=", ".join(allowed))
