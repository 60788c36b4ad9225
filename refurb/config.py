"""Settings: command-line option > REFURB_* environment > config file > default.

REFURB_HOME moves the default folder of the config file and the SQLite database.
"""

import os
import socket
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InvalidConfig
from .i18n import _
from .states import LEVELS, MEDIA_TYPES

DEFAULT_MIN_LEVEL = {m: "clear" for m in MEDIA_TYPES}
KEYS = {
    "database_url": str,
    "lang": str,
    "operator": str,
    "station": str,
    "tag_prefix": str,
    "profiles_dir": str,
    "organisation": str,
    "organisation_address": str,
    "labels_dir": str,
    "label_template": str,
    "printer": str,
    "policy": dict,
    "report": dict,
}
TABLES = ("policy", "report")  # sub-tables of the config file, without environment variables
POLICY_KEYS = {"min_level": dict, "battery_min_health": (int, float), "retention_personal_days": int,
               "retention_loans_days": int}
REPORT_KEYS = {"co2e_kg_per_device": (int, float), "co2e_source": str}
DEFAULT_CO2E_KG = 214.0
DEFAULT_CO2E_SOURCE = ("Öko-Institut / Fraunhofer IZM: greenhouse gas emissions avoided by reusing a laptop "
                       "(214 kg CO2e)")
ENV = {
    "database_url": "REFURB_DATABASE_URL",
    "lang": "REFURB_LANG",
    "operator": "REFURB_OPERATOR",
    "station": "REFURB_STATION",
    "tag_prefix": "REFURB_TAG_PREFIX",
    "profiles_dir": "REFURB_PROFILES_DIR",
    "organisation": "REFURB_ORGANISATION",
    "organisation_address": "REFURB_ORGANISATION_ADDRESS",
    "labels_dir": "REFURB_LABELS_DIR",
    "label_template": "REFURB_LABEL_TEMPLATE",
    "printer": "REFURB_PRINTER",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    config_file: Path
    database_url: str
    lang: str | None = None
    operator: str | None = None
    station: str = field(default_factory=socket.gethostname)
    tag_prefix: str = "RB"
    profiles_dir: str | None = None
    organisation: str = "Digibank"  # printed on certificates and reports
    organisation_address: str | None = None
    labels_dir: str | None = None  # the user's label templates; an id there overrides a shipped one
    label_template: str | None = None  # the template intake prints with (`--label` on intake commands)
    printer: str | None = None  # the CUPS queue labels go to when no output is named
    retention_personal_days: int = 730  # borrower data kept this long after the last loan (SPEC §10)
    retention_loans_days: int = 90  # loan history pseudonymised after this many days
    co2e_kg_per_device: float = DEFAULT_CO2E_KG
    co2e_source: str = DEFAULT_CO2E_SOURCE
    min_level: dict = field(default_factory=lambda: dict(DEFAULT_MIN_LEVEL))
    battery_min_health: float | None = None

    def with_options(self, **options):
        """Apply command-line options that were given (None means not given)."""
        given = {k: v for k, v in options.items() if v is not None}
        return replace(self, **given)


def default_home(environ):
    if environ.get("REFURB_HOME"):
        return Path(environ["REFURB_HOME"]).expanduser()
    data = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "refurb"


def read_config_file(path, must_exist=False):
    """The config file's values (validated), or {} when the default file does not exist.

    A file named explicitly (--config, REFURB_CONFIG) must exist: a typo must not silently
    fall back to the defaults."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        if not must_exist:
            return {}
        raise InvalidConfig(
            _("{file}: no such config file").format(file=path),
            hint=_("check the path given by --config or REFURB_CONFIG"),
        ) from None
    except OSError as exc:
        raise InvalidConfig(
            _("{file}: cannot read: {reason}").format(file=path, reason=exc.strerror),
            hint=_("check the path given by --config or REFURB_CONFIG"),
        ) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidConfig(
            _("{file}: not valid TOML: {reason}").format(file=path, reason=exc),
            hint=_("fix the file or move it away"),
        ) from exc
    _check_keys(path, data, KEYS, "")
    policy = data.get("policy", {})
    _check_keys(path, policy, POLICY_KEYS, "policy.")
    _check_keys(path, data.get("report", {}), REPORT_KEYS, "report.")
    for media, level in policy.get("min_level", {}).items():
        if media not in MEDIA_TYPES:
            raise InvalidConfig(
                _("{file}: policy.min_level.{key}: unknown media type").format(file=path, key=media),
                hint=_("media types: {choices}").format(choices=", ".join(MEDIA_TYPES)),
            )
        if level not in LEVELS:
            raise InvalidConfig(
                _("{file}: policy.min_level.{key}: '{value}' is not one of {choices}").format(
                    file=path, key=media, value=level, choices=", ".join(LEVELS)
                ),
                hint=_("fix the file or move it away"),
            )
    return data


def _check_keys(path, data, allowed, prefix):
    for key, value in data.items():
        if key not in allowed:
            raise InvalidConfig(
                _("{file}: unknown key '{key}'").format(file=path, key=prefix + key),
                hint=_("known keys: {keys}").format(keys=", ".join(prefix + k for k in allowed)),
            )
        if not isinstance(value, allowed[key]) or isinstance(value, bool):
            raise InvalidConfig(
                _("{file}: {key} has the wrong type").format(file=path, key=prefix + key),
                hint=_("fix the file or move it away"),
            )


def load(environ=None, config_file=None):
    """Settings from defaults, the config file and the environment (options come later)."""
    environ = os.environ if environ is None else environ
    home = default_home(environ)
    explicit = config_file or environ.get("REFURB_CONFIG")
    config_path = Path(explicit or home / "config.toml").expanduser()
    file_values = read_config_file(config_path, must_exist=bool(explicit))
    values = {k: v for k, v in file_values.items() if k not in TABLES}
    for key, var in ENV.items():
        if environ.get(var):
            values[key] = environ[var]
    policy = file_values.get("policy", {})
    min_level = dict(DEFAULT_MIN_LEVEL)
    min_level.update(policy.get("min_level", {}))
    settings = Settings(
        home=home,
        config_file=config_path,
        database_url=values.pop("database_url", None) or "sqlite:///" + str(home / "refurb.db"),
        min_level=min_level,
        battery_min_health=policy.get("battery_min_health"),
        **{k: policy[k] for k in ("retention_personal_days", "retention_loans_days") if k in policy},
        **{k: v for k, v in file_values.get("report", {}).items()},
    )
    return settings.with_options(**values)
