"""The directory in the store: people, groups, and who pupils may exchange mail with."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store import audit
from quarantine.store.models import Allowance, Group, Membership, Person

ROLES = ("pupil", "staff")
CSV_COLUMNS = ("address", "name", "role", "groups", "approved")


class DirectoryError(ValueError):
    pass


@dataclass(frozen=True)
class PersonRow:
    address: str
    name: str
    role: str
    groups: tuple[str, ...]
    approved: tuple[str, ...]


def read_csv(path: Path) -> list[PersonRow]:
    """Parse a directory CSV (columns: address,name,role,groups,approved; lists split by ';')."""
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            raise DirectoryError(f"{path}: missing column(s): {', '.join(missing)}")
        for line_no, rec in enumerate(reader, start=2):
            address = (rec.get("address") or "").strip().lower()
            role = (rec.get("role") or "").strip().lower()
            if "@" not in address:
                raise DirectoryError(f"{path}:{line_no}: {address!r} is not an address")
            if role not in ROLES:
                raise DirectoryError(f"{path}:{line_no}: role must be pupil or staff, not {role!r}")
            rows.append(PersonRow(
                address=address, name=(rec.get("name") or "").strip(), role=role,
                groups=_split(rec.get("groups")), approved=_split(rec.get("approved"))))
    return rows


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in (value or "").split(";") if v.strip())


async def import_people(session: AsyncSession, rows: list[PersonRow], *, actor: str,
                        replace: bool = True) -> int:
    """Make the directory match `rows`: people, groups, and their standing approvals.

    With `replace`, people not in `rows` are removed, and standing approvals are the
    CSV's; exceptions that staff granted are kept either way.
    """
    now = datetime.now(UTC)
    if replace:
        await session.execute(delete(Membership))
        await session.execute(delete(Person))
        await session.execute(delete(Allowance).where(Allowance.kind == "approved"))
    existing_groups = set((await session.scalars(select(Group.name))).all())
    for row in rows:
        for g in row.groups:
            if g not in existing_groups:
                session.add(Group(name=g))
                existing_groups.add(g)
    await session.flush()
    for row in rows:
        person = await session.get(Person, row.address) or Person(address=row.address)
        person.name, person.role = row.name, row.role
        person.groups = [Membership(person_address=row.address, group_name=g) for g in row.groups]
        session.add(person)
        for contact in row.approved:
            session.add(Allowance(subject=row.address, contact=contact, direction="both",
                                  kind="approved", granted_by=actor,
                                  reason="directory import", created_at=now))
    await audit.append(session, actor=actor, action="directory.import",
                       detail={"people": len(rows), "replace": replace})
    return len(rows)


async def load_people(session: AsyncSession) -> list[Person]:
    return list((await session.scalars(select(Person))).all())


async def allowances_in_force(session: AsyncSession, now: datetime | None = None
                              ) -> list[Allowance]:
    now = now or datetime.now(UTC)
    stmt = select(Allowance).where(
        Allowance.revoked_at.is_(None),
        or_(Allowance.expires_at.is_(None), Allowance.expires_at > now))
    return list((await session.scalars(stmt)).all())


async def grant_exception(session: AsyncSession, *, subject: str, contacts: list[str],
                          expires_at: datetime, granted_by: str, reason: str,
                          direction: str = "both", client: str = "") -> list[Allowance]:
    now = datetime.now(UTC)
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= now:
        raise DirectoryError("the expiry must be in the future")
    if not reason.strip():
        raise DirectoryError("an exception needs a reason")
    granted = []
    for contact in contacts:
        a = Allowance(subject=subject.lower(), contact=contact.lower(), direction=direction,
                      kind="exception", granted_by=granted_by, reason=reason,
                      created_at=now, expires_at=expires_at)
        session.add(a)
        granted.append(a)
    await session.flush()
    for a in granted:
        await audit.append(session, actor=granted_by, action="exception.grant",
                           subject=a.subject, client=client,
                           detail={"id": a.id, "contact": a.contact, "direction": direction,
                                   "expires_at": expires_at.isoformat(), "reason": reason})
    return granted


async def record_lapses(session: AsyncSession, now: datetime | None = None) -> int:
    """Audit every exception that expired since the last sweep, once."""
    now = now or datetime.now(UTC)
    stmt = select(Allowance).where(Allowance.kind == "exception",
                                   Allowance.expires_at <= now, Allowance.lapsed_at.is_(None))
    lapsed = list((await session.scalars(stmt)).all())
    for a in lapsed:
        a.lapsed_at = now
        await audit.append(session, actor="aupgate", action="exception.lapse",
                           subject=a.subject,
                           detail={"id": a.id, "contact": a.contact,
                                   "expired_at": _iso(a.expires_at)})
    return len(lapsed)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
