"""the review web app: users, sessions, login failures, cases, labels, sender allows

Revision ID: 0002_web
Revises: 0002_kept (chained after main's kept_messages; the brief said 0001)
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_web"
down_revision = "0002_kept"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["web_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table(
        "web_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_login_failures_username", "web_login_failures", ["username"])
    op.create_index("ix_web_login_failures_client", "web_login_failures", ["client"])
    op.create_index("ix_web_login_failures_at", "web_login_failures", ["at"])
    op.create_index("ix_web_login_failures_username_at", "web_login_failures",
                    ["username", "at"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("held_id", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("person", sa.String(length=320), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["held_id"], ["held_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cases_held_id", "cases", ["held_id"])
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("held_id", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("previous_category", sa.String(length=32), nullable=False),
        sa.Column("previous_severity", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("labelled_by", sa.String(length=64), nullable=False),
        sa.Column("labelled_at", TZ, nullable=False),
        sa.Column("used_in_model", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["held_id"], ["held_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_labels_held_id", "labels", ["held_id"])
    op.create_index("ix_labels_sha256", "labels", ["sha256"])
    op.create_index("ix_labels_labelled_at", "labels", ["labelled_at"])
    op.create_table(
        "sender_allows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("held_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["held_id"], ["held_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sender_allows_address", "sender_allows", ["address"])


def downgrade() -> None:
    op.drop_table("sender_allows")
    op.drop_table("labels")
    op.drop_table("cases")
    op.drop_table("web_login_failures")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
