"""Engines, sessions and migrations.

SQLite: WAL, foreign keys on, a busy timeout, and BEGIN IMMEDIATE for writers so that two
stations never deadlock on a lock upgrade.  PostgreSQL (psycopg 3): every writer locks the
one row of chain_head first, which serialises the hash chain.
"""

from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from .errors import DatabaseProblem
from .i18n import _

# The newest migration; `refurb init` brings a database here.  A test keeps it equal to Alembic's head.
SCHEMA_REVISION = "0004"
MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 60_000


def is_sqlite(url):
    return str(url).startswith("sqlite")


def normalise_url(url):
    """Accept a bare path, sqlite:///…, postgresql://… (psycopg 3 is used for PostgreSQL)."""
    url = str(url)
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return "sqlite:///" + str(Path(url).expanduser().resolve())
    return url


def sqlite_path(url):
    """The file of a SQLite URL, or None for an in-memory database."""
    url = normalise_url(url)
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return None if path in ("", ":memory:") else Path(path)


def display_url(url):
    """The URL without a password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


_ENGINES = {}


def engine_for(url):
    url = normalise_url(url)
    if url not in _ENGINES:
        _ENGINES[url] = _make_engine(url)
    return _ENGINES[url]


def dispose_all():
    """Close every pooled connection (tests, and before a backup is restored)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def _make_engine(url):
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            immediate = conn.get_execution_options().get("refurb_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _db_error(exc, url):
    return DatabaseProblem(
        _("cannot use the database {url}: {reason}").format(
            url=display_url(normalise_url(url)), reason=str(getattr(exc, "orig", exc)).splitlines()[0]
        ),
        hint=_("check --db / REFURB_DATABASE_URL, and that the server is running"),
    )


def current_revision(url):
    """The Alembic revision stamped in the database, or None for an empty database."""
    path = sqlite_path(normalise_url(url)) if is_sqlite(normalise_url(url)) else None
    if path is not None and not path.exists():
        return None  # do not create a file (or folders) for a mistyped path just by looking
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            has_table = conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
                    if is_sqlite(normalise_url(url))
                    else "SELECT to_regclass('alembic_version')::text"
                )
            ).scalar()
            if not has_table:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, DBAPIError) as exc:
        raise _db_error(exc, url) from exc


def check_schema(url):
    rev = current_revision(url)
    if rev is None:
        raise DatabaseProblem(
            _("the database {url} has no refurb schema yet").format(url=display_url(normalise_url(url))),
            hint=_("run: refurb init"),
            code="not-initialised",
        )
    if rev != SCHEMA_REVISION:
        raise DatabaseProblem(
            _("the database schema is at revision {rev}; this refurb needs {need}").format(
                rev=rev, need=SCHEMA_REVISION
            ),
            hint=_("run: refurb init (it upgrades in place)"),
            code="schema-outdated",
        )


def alembic_config(url):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url, revision="head"):
    """Create or upgrade the schema in place; returns (before, after) revisions."""
    from alembic import command

    before = current_revision(url)
    if is_sqlite(normalise_url(url)) and sqlite_path(url) is not None:
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(url)
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except (OperationalError, DBAPIError) as exc:
        raise _db_error(exc, url) from exc
    return before, current_revision(url)


@contextmanager
def session(url, write=False):
    """A session in one transaction: committed on success, rolled back on any error.

    A writer takes the database's write lock at BEGIN (SQLite) or locks chain_head (PostgreSQL)."""
    url = normalise_url(url)
    engine = engine_for(url)
    bind = engine.execution_options(refurb_write=True) if write else engine
    try:
        with Session(bind, expire_on_commit=False) as s:
            with s.begin():
                if write and not is_sqlite(url):
                    s.exec(text("SELECT id FROM chain_head WHERE id = 1 FOR UPDATE"))
                yield s
    except OperationalError as exc:
        raise _db_error(exc, url) from exc
