"""Alembic environment for the store. Built in code by ``store.migrate``; no alembic.ini.

The caller passes an open connection in ``config.attributes["connection"]`` (so the
migration runs inside the caller's transaction and lock), or a URL as ``sqlalchemy.url``
for the ``alembic`` command line.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from newsdedup.store.models import Base
from newsdedup.store.search import is_model_object

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    # Batch mode lets later migrations alter SQLite tables (it has almost no ALTER TABLE).
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=is_model_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
