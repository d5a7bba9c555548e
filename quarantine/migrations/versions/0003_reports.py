"""reports of offensive mail by staff

Revision ID: 0003_reports
Revises: 0002_web
Create Date: 2026-11-29 02:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_reports"
down_revision = "0002_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("authentic", sa.Boolean(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("held_id", sa.String(length=32), nullable=True),
        sa.Column("kept_id", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_header", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("forwarded_raw", sa.LargeBinary(), nullable=False),
        sa.Column("submission_sha256", sa.String(length=64), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duplicate_of", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        for column in ("created_at", "reporter", "trace_id", "held_id", "sha256", "message_id",
                       "submission_sha256", "status", "duplicate_of"):
            batch_op.create_index(f"ix_reports_{column}", [column], unique=False)


def downgrade() -> None:
    op.drop_table("reports")
