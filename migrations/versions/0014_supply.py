"""Purchase orders, distributor inventory, forecasts, trace codes and price monitoring.

Creates: (being written)
Depends on: 0013

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
