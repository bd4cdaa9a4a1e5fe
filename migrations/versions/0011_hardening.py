"""Constraints and indexes for bounded inputs, idempotent orders and access rules.

Creates: (being written)
Depends on: 0010

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
