"""Alembic environment: runs on the connection handed in by admissions.db.migrate."""

from __future__ import annotations

from alembic import context

from admissions.db.base import Base, import_models

import_models()
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `paiwei db upgrade` (admissions.db.migrate)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
