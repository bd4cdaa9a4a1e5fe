"""Payments through WeChat Pay and Alipay: provider transactions, notifications, refunds at the provider.

Creates: (being written)
Depends on: 0008

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
