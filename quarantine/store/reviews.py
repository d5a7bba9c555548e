"""What the review web app keeps: accounts, sessions, login failures, cases, labels and
trust-wide sender allow entries. Created by the migration `0002_web`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quarantine.store.models import Base

ROLES = ("reviewer", "admin", "staff")


class WebUser(Base):
    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))     # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(16))                # reviewer | admin | staff
    email: Mapped[str] = mapped_column(String(320), default="")  # lower-cased
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is kept."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"),
                                         index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """One failed sign-in, for throttling by user name and by client address."""

    __tablename__ = "web_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class Case(Base):
    """A reviewer's case about a held message: Appendix I rating and Appendix II factors."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    held_id: Mapped[str | None] = mapped_column(ForeignKey("held_messages.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open|closed
    person: Mapped[str] = mapped_column(String(320), default="")   # whose conduct: the sender
    severity: Mapped[str] = mapped_column(String(16), default="")  # gross | serious | mild
    category: Mapped[str] = mapped_column(String(32), default="")
    factors: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Appendix II key -> text
    notes: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class Label(Base):
    """A reviewer's confirmed or corrected category: a labelled example for retraining.

    The text is kept here so that the example outlives the message's retention purge.
    """

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    held_id: Mapped[str | None] = mapped_column(ForeignKey("held_messages.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), default="", index=True)
    kind: Mapped[str] = mapped_column(String(16))   # confirmed | corrected | false_positive
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), default="")
    previous_category: Mapped[str] = mapped_column(String(32), default="")
    previous_severity: Mapped[str] = mapped_column(String(16), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    labelled_by: Mapped[str] = mapped_column(String(64))
    labelled_at: Mapped[datetime] = mapped_column(index=True)
    used_in_model: Mapped[str] = mapped_column(String(64), default="")  # set by a retrain


class SenderAllow(Base):
    """A reviewer's "allow this sender": a trust-wide entry (pupils' own approvals are
    Allowance rows)."""

    __tablename__ = "sender_allows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(320), index=True)  # address or @domain
    held_id: Mapped[str | None] = mapped_column(ForeignKey("held_messages.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


Index("ix_web_login_failures_username_at", LoginFailure.username, LoginFailure.at)
