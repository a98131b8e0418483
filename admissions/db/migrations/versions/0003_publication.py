"""publication tables

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column("log_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("fairness", sa.LargeBinary(), nullable=False),
        sa.Column("fairness_flagged", sa.Boolean(), nullable=False),
        sa.Column("draws", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_publications_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_publications")),
    )
    op.create_table(
        "published_schools",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_published_schools_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_schools")),
        sa.UniqueConstraint(
            "campaign_id", "code", name=op.f("uq_published_schools_campaign_id_code")
        ),
    )
    op.create_index(op.f("ix_published_schools_campaign_id"), "published_schools", ["campaign_id"])
    op.create_table(
        "published_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("application_number", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("phone_check", sa.String(length=64), nullable=False),
        sa.Column("id_check", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_published_results_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_results")),
        sa.UniqueConstraint(
            "campaign_id",
            "application_number",
            name=op.f("uq_published_results_campaign_id_application_number"),
        ),
    )
    op.create_index(op.f("ix_published_results_campaign_id"), "published_results", ["campaign_id"])
    op.create_index(
        op.f("ix_published_results_application_number"),
        "published_results",
        ["application_number"],
    )
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("key_name", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_cosignatures")),
        sa.UniqueConstraint(
            "size",
            "root",
            "key_name",
            "key_id",
            name=op.f("uq_checkpoint_cosignatures_size_root_key_name_key_id"),
        ),
    )
    op.create_index(op.f("ix_checkpoint_cosignatures_size"), "checkpoint_cosignatures", ["size"])
    op.create_table(
        "lookup_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lookup_throttle")),
    )


def downgrade() -> None:
    op.drop_table("lookup_throttle")
    op.drop_index(op.f("ix_checkpoint_cosignatures_size"), table_name="checkpoint_cosignatures")
    op.drop_table("checkpoint_cosignatures")
    op.drop_index(op.f("ix_published_results_application_number"), table_name="published_results")
    op.drop_index(op.f("ix_published_results_campaign_id"), table_name="published_results")
    op.drop_table("published_results")
    op.drop_index(op.f("ix_published_schools_campaign_id"), table_name="published_schools")
    op.drop_table("published_schools")
    op.drop_table("publications")
