"""Alembic's environment: run with the connection the Store hands over (see Store.upgrade)."""

from alembic import context
from sqlalchemy import create_engine

from quarantine.store import reviews  # noqa: F401 - the web app's tables
from quarantine.store.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # `alembic` command line against a synchronous URL, for writing new migrations
    url = config.get_main_option("sqlalchemy.url").replace("+aiosqlite", "").replace(
        "+asyncpg", "+psycopg")
    with create_engine(url).connect() as conn:
        run(conn)
        conn.commit()
