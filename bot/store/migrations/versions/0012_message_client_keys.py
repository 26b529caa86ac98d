"""A resident's own key for a message (the API's Idempotency-Key), unique per resident.

A resident whose connection broke after sending (a gateway killed with the request, the
balancer's 502, a phone between cells) could not tell whether the message was kept, and
sending it again made a second message: Rasa took the question twice. The same key sent
again now finds the first message and answers with its reply, or keeps delivering it.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("client_key", sa.String(64), nullable=True))
        # NULLs never collide (SQLite and PostgreSQL alike): messages without a key are unaffected
        batch.create_index("ix_inbound_messages_user_client_key", ["user_id", "client_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_index("ix_inbound_messages_user_client_key")
        batch.drop_column("client_key")
