"""The one schema, shared by SQLite and PostgreSQL. Change it with an Alembic migration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


# -- the directory -----------------------------------------------------------------

class Person(Base):
    __tablename__ = "people"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))                          # pupil | staff
    groups: Mapped[list[Membership]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin")


class Group(Base):
    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class Membership(Base):
    __tablename__ = "memberships"

    person_address: Mapped[str] = mapped_column(
        ForeignKey("people.address", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(
        ForeignKey("groups.name", ondelete="CASCADE"), primary_key=True)
    person: Mapped[Person] = relationship(back_populates="groups")


class Allowance(Base):
    """Who a pupil (or a group of pupils) may exchange mail with.

    A standing approval has no expiry; an exception that staff grant has one, and
    lapses by itself. `subject` is a pupil's address or `group:NAME`; `contact` is an
    address or `@domain`.
    """

    __tablename__ = "allowances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(320), index=True)
    contact: Mapped[str] = mapped_column(String(320))
    direction: Mapped[str] = mapped_column(String(8), default="both")   # send | receive | both
    kind: Mapped[str] = mapped_column(String(16), default="approved")   # approved | exception
    granted_by: Mapped[str] = mapped_column(String(320), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    lapsed_at: Mapped[datetime | None]          # set once the lapse was audited
    revoked_at: Mapped[datetime | None]


# -- what happened to each message -------------------------------------------------------

class Trace(Base):
    __tablename__ = "traces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    stage: Mapped[str] = mapped_column(String(8))             # rcpt | data
    direction: Mapped[str] = mapped_column(String(8))
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    helo: Mapped[str] = mapped_column(String(255), default="")
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    rcpt_tos: Mapped[list[Any]] = mapped_column(default=list)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_header: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="", index=True)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    decisions: Mapped[dict[str, Any]] = mapped_column(default=dict)   # rcpt -> decision
    verdict: Mapped[str] = mapped_column(String(16), default="")
    smtp_reply: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column(default=0.0)


class KeptMessage(Base):
    """The bytes of a delivered message, kept for `store.keep_delivered_days` so that a
    later report or case can show exactly what the gateway passed on (policy 2.1.3:
    mail may be evidence). Written off the reply path with the trace."""

    __tablename__ = "kept_messages"

    trace_id: Mapped[str] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"),
                                          primary_key=True)
    kept_at: Mapped[datetime] = mapped_column(index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class HeldMessage(Base):
    """A message kept whole: quarantined (not delivered) or escalated (delivered, kept)."""

    __tablename__ = "held_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    trace_id: Mapped[str | None] = mapped_column(ForeignKey("traces.id"), index=True)
    held_at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16), default="quarantine")  # quarantine | escalation
    status: Mapped[str] = mapped_column(String(16), default="held", index=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)               # None once purged
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(8))
    mail_from: Mapped[str] = mapped_column(String(320), default="")
    rcpt_tos: Mapped[list[Any]] = mapped_column(default=list)
    audiences: Mapped[list[Any]] = mapped_column(default=list)
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_header: Mapped[str] = mapped_column(Text, default="")
    findings: Mapped[list[Any]] = mapped_column(default=list)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    category: Mapped[str] = mapped_column(String(32), default="other", index=True)
    severity: Mapped[str] = mapped_column(String(16), default="", index=True)
    purged_at: Mapped[datetime | None]


class Release(Base):
    """A reviewer's request to deliver a held message: the gateway's job delivers it."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    held_id: Mapped[str] = mapped_column(ForeignKey("held_messages.id"), index=True)
    rcpt_tos: Mapped[list[Any]] = mapped_column(default=list)
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]



class Report(Base):
    """A member of staff's report of a message they received (policy 2.1.3).

    `raw` is the message a reviewer judges: the gateway's own copy when the report was
    linked to it (`authentic`, `source` = held or kept, `sha256` its hash), otherwise
    the copy the reporter forwarded (`source` = forwarded). `forwarded_raw` is always
    what the reporter sent us, as extracted from their forward or upload.
    """

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    reporter: Mapped[str] = mapped_column(String(320), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    how: Mapped[str] = mapped_column(String(16))          # attachment | arf | inline | upload
    source: Mapped[str] = mapped_column(String(16))       # held | kept | trace | forwarded
    authentic: Mapped[bool] = mapped_column(default=False)
    trace_id: Mapped[str | None] = mapped_column(String(32), index=True)
    held_id: Mapped[str | None] = mapped_column(String(32), index=True)
    kept_id: Mapped[str | None] = mapped_column(String(32))   # kept_messages.trace_id
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_header: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    forwarded_raw: Mapped[bytes] = mapped_column(LargeBinary)
    # The report mail or upload itself, hashed: a client retrying after a 4xx is one report.
    submission_sha256: Mapped[str] = mapped_column(String(64), index=True)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    category: Mapped[str] = mapped_column(String(32), default="other")
    severity: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    duplicate_of: Mapped[str | None] = mapped_column(String(32), index=True)
    # Set on the first report of a message only (see quarantine.store.reports.message_key):
    # unique, so that two reports committed at once cannot both be the first.
    first_key: Mapped[str | None] = mapped_column(String(80), index=True, unique=True)

# -- the audit log -------------------------------------------------------------------------

class AuditEntry(Base):
    """Append-only; each entry's hash covers the previous one's (see quarantine.store.audit)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))          # ISO 8601 UTC, exactly as hashed
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")   # canonical JSON, as hashed
    client: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the chain's last sequence number and hash. Updating it first takes the
    write lock (SQLite) or the row lock (PostgreSQL), which serialises appenders."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


Index("ix_allowances_contact", Allowance.contact)
