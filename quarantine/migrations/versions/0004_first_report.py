"""the first report of a message, enforced by the database

Revision ID: 0004_first_report
Revises: 0003_reports
Create Date: 2026-11-29 07:00:00

`reports.first_key` holds the reported message's key (its Message-ID, else its SHA-256;
see quarantine.store.reports.message_key) on the first report of it only, under a unique
index: two gateway processes filing reports of one message at the same instant can no
longer both record theirs as the first. Existing first reports get their key, the
earliest of each message only (the others keep their rows as they were).
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0004_first_report"
down_revision = "0003_reports"
branch_labels = None
depends_on = None


def message_key(message_id: str, sha256: str) -> str:
    # A copy of quarantine.store.reports.message_key as it was when this was written:
    # a migration must not change when that code does.
    bare = (message_id or "").strip().strip("<>").strip()
    if bare:
        return "mid:" + hashlib.sha256(bare.encode("utf-8", "surrogateescape")).hexdigest()
    return "sha:" + sha256


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_key", sa.String(length=80), nullable=True))
    reports = sa.table("reports", sa.column("id", sa.String), sa.column("created_at"),
                       sa.column("message_id", sa.String), sa.column("sha256", sa.String),
                       sa.column("status", sa.String), sa.column("duplicate_of", sa.String),
                       sa.column("first_key", sa.String))
    conn = op.get_bind()
    firsts = conn.execute(
        sa.select(reports.c.id, reports.c.message_id, reports.c.sha256)
        .where(reports.c.duplicate_of.is_(None), reports.c.status != "pending")
        .order_by(reports.c.created_at, reports.c.id)).all()
    seen = set()
    for row in firsts:
        key = message_key(row.message_id, row.sha256)
        if key not in seen:
            seen.add(key)
            conn.execute(sa.update(reports).where(reports.c.id == row.id)
                         .values(first_key=key))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_first_key", ["first_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_first_key")
        batch_op.drop_column("first_key")
