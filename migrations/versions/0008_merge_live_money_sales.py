"""Merge: one head again, where the "live" (0003), "money" (0005) and "sales" (0007) branches meet.

Branch: the merge point and current head; a new revision revises 0008.
Creates: nothing.
Depends on: 0003, 0005 and 0007, so every table above exists after it.

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
