"""Legal-aid applications from the intake form.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_aid_applications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("resident_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("street", sa.String(16), nullable=True),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("purged_at", sa.Float, nullable=True),
    )
    op.create_index("ix_legal_aid_applications_public_id", "legal_aid_applications", ["public_id"], unique=True)
    op.create_index("ix_legal_aid_applications_created_at", "legal_aid_applications", ["created_at"])


def downgrade() -> None:
    op.drop_table("legal_aid_applications")
