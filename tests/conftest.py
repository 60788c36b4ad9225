"""Fixtures: a real SQLite file and a real PostgreSQL schema for every database test.

PostgreSQL runs at 127.0.0.1:5432 (REFURB_TEST_PG overrides).  Each test gets its own schema
through the connection's search_path, dropped afterwards.  Unreachable: a skip, but in CI
(CI=true) a failure.
"""

import os
import shutil
import subprocess
import time
import uuid

import pytest

LEAD_PIN = "2718"  # Sara's PIN in every test database
PG_URL = os.environ.get("REFURB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_pg_state = {}


def pg_reason():
    """None when PostgreSQL answers, else why not."""
    if "reason" not in _pg_state:
        try:
            import psycopg

            psycopg.connect(PG_URL, connect_timeout=3).close()
            _pg_state["reason"] = None
        except Exception as exc:  # any failure to connect means: no server to test against
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {exc}".splitlines()[0]
    return _pg_state["reason"]


def require_pg():
    reason = pg_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must test PostgreSQL)")
        pytest.skip(reason)


@pytest.fixture
def pg_schema_url():
    """A PostgreSQL URL whose search_path is a fresh schema."""
    require_pg()
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    yield url
    from refurb import db

    db.dispose_all()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """An empty database: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/refurb.db"
        from refurb import db

        db.dispose_all()
    else:
        yield request.getfixturevalue("pg_schema_url")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """REFURB_HOME in a temporary folder, and no REFURB_* settings from the outside."""
    for key in list(os.environ):
        if key.startswith("REFURB_"):
            monkeypatch.delenv(key)
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("REFURB_HOME", str(h))
    monkeypatch.setenv("REFURB_LANG", "en")
    return h


@pytest.fixture
def ctx(db_url, home):
    """An initialised database with Sara as lead; acts as Sara at bench-1."""
    from refurb import config, i18n, services

    i18n.setup("en")
    settings = config.load().with_options(database_url=db_url)
    c = services.Context(settings, operator="Sara", station="bench-1", pin=LEAD_PIN)
    services.init(c)
    services.bootstrap_lead(c, "Sara", LEAD_PIN)
    return c


@pytest.fixture
def cli(ctx, monkeypatch):
    """Run the CLI against the `ctx` database: cli("show", tag) -> Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from refurb.cli import app

    monkeypatch.setenv("REFURB_DATABASE_URL", ctx.url)
    monkeypatch.setenv("REFURB_OPERATOR", "Sara")
    monkeypatch.setenv("REFURB_STATION", "bench-1")
    monkeypatch.setenv("REFURB_PIN", LEAD_PIN)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input, prog_name="refurb")

    return run


# ---------------------------------------------------------------------------- loop devices for wipe runs

SIZE = 32 << 20
PATTERN = b"DONOR-SECRET-42!"  # what the donor's disk holds before the wipe


def require(ok, reason):
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must test wipe runs on a loop device)")
        pytest.skip(reason)


def attach(image):
    """losetup -f --show, again when another process took the free device first."""
    for _attempt in range(5):
        done = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.strip()
        if "busy" not in done.stderr.lower():
            break
        time.sleep(0.2)
    require(False, f"losetup cannot attach a loop device: {done.stderr.strip()}")


@pytest.fixture
def loop(tmp_path):
    """A 32 MiB loop device full of the donor's pattern; detached afterwards."""
    require(os.geteuid() == 0, "wipe runs need root (loop devices)")
    require(shutil.which("losetup"), "losetup is not installed (util-linux)")
    image = tmp_path / "donor.img"
    image.write_bytes(PATTERN * (SIZE // len(PATTERN)))
    device = attach(image)
    yield device
    subprocess.run(["losetup", "-d", device], check=False)


@pytest.fixture
def nwipe():
    require(shutil.which("nwipe"), "nwipe is not installed (apt-get install nwipe)")
