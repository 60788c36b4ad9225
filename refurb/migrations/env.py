"""Alembic environment: refurb passes its own connection in `config.attributes`."""

from alembic import context

config = context.config


def run():
    connection = config.attributes.get("connection")
    if connection is None:
        from refurb.db import engine_for

        with engine_for(config.get_main_option("sqlalchemy.url")).begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection):
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    context.run_migrations()


run()
