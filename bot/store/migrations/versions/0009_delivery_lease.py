"""Which gateway is delivering a pending message, and until when.

With several gateways on one database, each one's retry worker used to take
every pending message, including one another gateway was sending to Rasa at
that moment: the message went to Rasa twice and the resident's conversation
saw it twice. A gateway now claims a message (a lease) before sending it; a
lease left by a gateway that died expires and the message is retried.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("lease_until", sa.Float, nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("lease_owner")
        batch.drop_column("lease_until")
