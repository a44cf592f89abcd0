"""Where each proposal's Slack message lives, so any replica can update it in place.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_messages",
        sa.Column("proposal_id", sa.String(40), sa.ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("thread_ts", sa.String(40), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("slack_messages")
