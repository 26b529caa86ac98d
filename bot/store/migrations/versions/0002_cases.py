"""The case store: staff, cases, their messages, status history, audit log.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("resident_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("street", sa.String(16), nullable=True),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("assigned_to", sa.Integer, sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("claimed_at", sa.Float, nullable=True),
        sa.Column("closed_at", sa.Float, nullable=True),
        sa.Column("purged_at", sa.Float, nullable=True),
    )
    for column, unique in (("public_id", True), ("resident_id", False), ("status", False),
                           ("category", False), ("street", False), ("assigned_to", False),
                           ("created_at", False)):
        op.create_index(f"ix_cases_{column}", "cases", [column], unique=unique)
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_case_messages_case_id", "case_messages", ["case_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_audit_log_staff_id", "audit_log", ["staff_id"])
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"])


def downgrade() -> None:
    for table in ("audit_log", "case_events", "case_messages", "cases", "staff"):
        op.drop_table(table)
