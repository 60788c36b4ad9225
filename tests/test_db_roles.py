"""`refurb db roles` (issue 7 item 3): on PostgreSQL a volunteer's login adds events, but the database
itself refuses to let it UPDATE or DELETE one, or read borrower references."""

import uuid

import pytest

from refurb import config, services


@pytest.fixture
def pg(ctx):
    if ctx.url.startswith("sqlite"):
        pytest.skip("database roles are a PostgreSQL feature")
    return ctx


def test_a_volunteer_login_can_add_events_but_not_change_them(cli, pg):
    import psycopg
    from sqlalchemy.engine import make_url

    from refurb import db

    prefix = "t" + uuid.uuid4().hex[:8]
    login = prefix + "_bench1"
    services.add_donor(pg, "Acme NV")
    services.add_batch(pg, "Acme NV", "B1")
    services.add_digipunt(pg, "Gent Zuid")
    r = cli("db", "roles", "--prefix", prefix, "--login", f"{login}:volunteer", "--json")
    url = make_url(db.normalise_url(pg.url))
    admin = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    try:
        assert r.exit_code == 0, r.output
        as_volunteer = url.set(username=login).render_as_string(hide_password=False)
        bench = services.Context(config.load().with_options(database_url=as_volunteer), operator="Jonas",
                                 station="bench-1")
        tag = services.register_device(bench, "B1", "laptop", "HP", "ProBook", "CND4286ZJ2")["tag"]
        assert services.show(bench, tag)["state"] == "intake"  # events added through the volunteer's login
        plain = url.set(drivername="postgresql", username=login).render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            for sql in ("UPDATE event SET operator = 'x'", "DELETE FROM event", "TRUNCATE event",
                        "SELECT ref FROM borrower"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
        assert services.verify_audit(pg).ok
        again = cli("db", "roles", "--prefix", prefix, "--login", f"{login}:volunteer")  # idempotent
        assert again.exit_code == 0, again.output
    finally:
        db.dispose_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            for role in (login, f"{prefix}_volunteer", f"{prefix}_lead"):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{role}"')
                    conn.execute(f'DROP ROLE "{role}"')


def test_roles_are_refused_on_sqlite_and_bad_names(cli, ctx):
    if ctx.url.startswith("sqlite"):
        r = cli("db", "roles")
        assert r.exit_code == 2 and "PostgreSQL" in r.stderr
    else:
        r = cli("db", "roles", "--prefix", "Robert'); DROP TABLE event;--")
        assert r.exit_code == 2 and "role name" in r.stderr
        assert cli("db", "roles", "--login", "nocolon").exit_code == 2
