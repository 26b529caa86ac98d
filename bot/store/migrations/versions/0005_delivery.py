"""When a mediator's (or the system's) message was pushed to the resident's channel.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_messages") as batch:
        batch.add_column(sa.Column("delivered_at", sa.Float, nullable=True))
    op.create_index("ix_case_messages_delivered_at", "case_messages", ["delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_case_messages_delivered_at", "case_messages")
    with op.batch_alter_table("case_messages") as batch:
        batch.drop_column("delivered_at")
