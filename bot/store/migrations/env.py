"""Alembic environment: runs on the connection bot/store/migrate.py hands over."""

from alembic import context

from bot.store.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bot/store/migrate.py (python -m bot.store.migrate)")
# batch mode lets SQLite alter tables in later migrations
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
