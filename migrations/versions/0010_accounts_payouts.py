"""WeChat identities (openid/unionid) and bank payout batches.

Creates: (being written)
Depends on: 0009

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
