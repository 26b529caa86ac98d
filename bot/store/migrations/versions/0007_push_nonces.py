"""WeChat push nonces: replays refused across restarts and gateways.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_nonces",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("push_nonces")
