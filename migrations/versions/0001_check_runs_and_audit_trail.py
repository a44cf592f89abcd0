"""Check runs with their findings, and the hash-chained audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("cluster", sa.String(253), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
    )
    op.create_index("ix_check_runs_at", "check_runs", ["at"])
    op.create_table(
        "check_findings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("check_run_id", sa.String(32), sa.ForeignKey("check_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("finding_id", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("objects", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
    )
    op.create_index("ix_check_findings_check_run_id", "check_findings", ["check_run_id"])
    op.create_index("ix_check_findings_finding_id", "check_findings", ["finding_id"])
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("proposal_id", sa.String(40), nullable=True),
        sa.Column("check_run_id", sa.String(32), nullable=True),
        sa.Column("cluster", sa.String(253), nullable=True),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])
    op.create_index("ix_audit_events_proposal", "audit_events", ["proposal_id", "seq"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The chain starts from a known genesis, so the first event's link can be checked like any other.
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis)").bindparams(
        genesis="0" * 64))


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_events")
    op.drop_table("check_findings")
    op.drop_table("check_runs")
