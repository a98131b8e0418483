"""Database layer: declarative base, async engine/session factory, programmatic Alembic."""
