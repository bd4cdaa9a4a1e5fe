"""One head again: the network, outbox, wallet, withdrawal, catalog and order branches meet.

Revision ID: 0008
Revises: 0003, 0005, 0007
Create Date: 2026-11-22
"""

revision = "0008"
down_revision = ("0003", "0005", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
