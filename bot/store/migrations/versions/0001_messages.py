"""Resident messages and held replies (the tables before the case store).

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_inbound_messages_public_id", "inbound_messages", ["public_id"], unique=True)
    op.create_index("ix_inbound_messages_user_id", "inbound_messages", ["user_id"])
    op.create_index("ix_inbound_messages_status", "inbound_messages", ["status"])
    op.create_table(
        "held_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("reply", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_held_replies_message_id", "held_replies", ["message_id"])
    op.create_index("ix_held_replies_user_id", "held_replies", ["user_id"])


def downgrade() -> None:
    op.drop_table("held_replies")
    op.drop_table("inbound_messages")
