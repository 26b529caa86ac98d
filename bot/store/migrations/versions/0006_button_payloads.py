"""Telegram button payloads behind their 64-byte tokens, shared by every gateway
and kept across restarts (they were in one process's memory).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "button_payloads",
        sa.Column("token", sa.String(24), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("button_payloads")
