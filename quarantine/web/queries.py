"""What the screens read from the store. Portable SQL only (SQLite and PostgreSQL): JSON
columns are searched as text, dates are grouped in Python."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store.models import HeldMessage, Person, Release, Trace
from quarantine.store.reviews import Case, Label

CATEGORIES = ("virus", "attachment", "safeguarding", "spoofing", "allowlist", "content", "other")
SEVERITIES = ("gross", "serious", "mild")
STATUSES = ("held", "released", "deleted", "purged")
DIRECTIONS = ("inbound", "outbound")
AUDIENCES = ("pupil", "staff", "external")
# The "reason" filter, as finding-code prefixes.
REASONS = {
    "virus": ("attachment.virus",),
    "banned type": ("attachment.",),
    "spoofing": ("auth.", "impersonation."),
    "allowlist": ("allowlist.",),
    "content": ("content.",),
}


@dataclass
class QueueFilter:
    severity: str = ""
    category: str = ""
    reason: str = ""
    direction: str = ""
    audience: str = ""
    status: str = "held"
    kind: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params) -> QueueFilter:
        def pick(name: str, allowed) -> str:
            value = (params.get(name) or "").strip()
            return value if value in allowed else ""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(params.get(name) or "")
            except ValueError:
                return None

        status = (params.get("status") or "held").strip()
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        return cls(severity=pick("severity", (*SEVERITIES, "none")),
                   category=pick("category", CATEGORIES),
                   reason=pick("reason", REASONS), direction=pick("direction", DIRECTIONS),
                   audience=pick("audience", AUDIENCES),
                   status=status if status in (*STATUSES, "all") else "held",
                   kind=pick("kind", ("quarantine", "escalation")),
                   since=day("since"), until=day("until"),
                   q=(params.get("q") or "").strip()[:200], page=page)

    def as_params(self, **change) -> dict[str, str]:
        values = {"severity": self.severity, "category": self.category, "reason": self.reason,
                  "direction": self.direction, "audience": self.audience,
                  "status": self.status, "kind": self.kind,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "q": self.q,
                  "page": str(self.page)}
        values.update({k: str(v) for k, v in change.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}

    def for_audit(self) -> dict[str, str]:
        return {k: v for k, v in self.as_params().items()}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conditions(f: QueueFilter) -> list:
    conds = []
    if f.status != "all":
        conds.append(HeldMessage.status == f.status)
    if f.severity == "none":
        conds.append(HeldMessage.severity == "")
    elif f.severity:
        conds.append(HeldMessage.severity == f.severity)
    if f.category:
        conds.append(HeldMessage.category == f.category)
    if f.direction:
        conds.append(HeldMessage.direction == f.direction)
    if f.kind:
        conds.append(HeldMessage.kind == f.kind)
    if f.audience:
        conds.append(cast(HeldMessage.audiences, String).like(_like(f'"{f.audience}"'),
                                                              escape="\\"))
    if f.reason:
        findings = cast(HeldMessage.findings, String)
        conds.append(or_(*[findings.like(_like(f'"code": "{p}'), escape="\\")
                           for p in REASONS[f.reason]]))
    if f.since:
        conds.append(HeldMessage.held_at >= datetime.combine(f.since, datetime.min.time(), UTC))
    if f.until:
        conds.append(HeldMessage.held_at < datetime.combine(f.until + timedelta(days=1),
                                                            datetime.min.time(), UTC))
    if f.q:
        pattern = _like(f.q.lower())
        conds.append(or_(*[func.lower(col).like(pattern, escape="\\") for col in (
            HeldMessage.mail_from, HeldMessage.from_header, HeldMessage.subject,
            cast(HeldMessage.rcpt_tos, String))]))
    return conds


@dataclass
class QueuePage:
    rows: list  # rows of HeldMessage's columns but the raw bytes
    total: int
    pages: int
    waiting: int
    by_severity: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)


async def queue(session: AsyncSession, f: QueueFilter, page_size: int) -> QueuePage:
    conds = _conditions(f)
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(HeldMessage).where(where))
    pages = max(1, -(-total // page_size))
    page = min(f.page, pages)
    columns = [c for c in HeldMessage.__table__.columns if c.name != "raw"]
    stmt = (select(*columns).where(where).order_by(HeldMessage.held_at.desc(),
                                                   HeldMessage.id)
            .offset((page - 1) * page_size).limit(page_size))
    rows = list((await session.execute(stmt)).all())
    f.page = page
    waiting_where = HeldMessage.status == "held"
    by_sev = dict((await session.execute(
        select(HeldMessage.severity, func.count()).where(waiting_where)
        .group_by(HeldMessage.severity))).all())
    by_cat = dict((await session.execute(
        select(HeldMessage.category, func.count()).where(waiting_where)
        .group_by(HeldMessage.category))).all())
    return QueuePage(rows=rows, total=total, pages=pages, waiting=sum(by_cat.values()),
                     by_severity={s: by_sev.get(s, 0) for s in SEVERITIES},
                     by_category={c: by_cat[c] for c in CATEGORIES if by_cat.get(c)})


# -- a message's history ------------------------------------------------------------------

async def releases_of(session: AsyncSession, held_id: str) -> list[Release]:
    return list((await session.scalars(select(Release).where(Release.held_id == held_id)
                                       .order_by(Release.id))).all())


async def labels_of(session: AsyncSession, held_id: str) -> list[Label]:
    return list((await session.scalars(select(Label).where(Label.held_id == held_id)
                                       .order_by(Label.id))).all())


async def cases_of(session: AsyncSession, held_id: str) -> list[Case]:
    return list((await session.scalars(select(Case).where(Case.held_id == held_id)
                                       .order_by(Case.id))).all())


@dataclass
class Incidents:
    held: list[tuple[datetime, str, str, str]]     # (when, category, severity, subject)
    traced: Counter


async def earlier_incidents(session: AsyncSession, held: HeldMessage) -> Incidents:
    """The sender's earlier held messages and refused/held traces before this one."""
    sender = (held.mail_from or "").lower()
    if not sender:
        return Incidents([], Counter())
    rows = (await session.execute(
        select(HeldMessage.held_at, HeldMessage.category, HeldMessage.severity,
               HeldMessage.subject)
        .where(func.lower(HeldMessage.mail_from) == sender, HeldMessage.held_at < held.held_at,
               HeldMessage.id != held.id)
        .order_by(HeldMessage.held_at.desc()).limit(50))).all()
    traced = Counter(dict((await session.execute(
        select(Trace.verdict, func.count())
        .where(func.lower(Trace.mail_from) == sender, Trace.received_at < held.held_at,
               Trace.verdict.in_(("reject", "quarantine", "held", "escalate", "refused")))
        .group_by(Trace.verdict))).all()))
    return Incidents([tuple(r) for r in rows], traced)


async def people(session: AsyncSession, addresses: list[str]) -> dict[str, Person]:
    wanted = sorted({a.lower() for a in addresses if a})
    if not wanted:
        return {}
    found = (await session.scalars(select(Person).where(Person.address.in_(wanted)))).all()
    return {p.address: p for p in found}


# -- the dashboard ----------------------------------------------------------------------------

@dataclass
class Series:
    days: list[date]
    stacks: dict[str, list[int]]      # series name -> count per day


async def per_day(session: AsyncSession, column, time_column, days: int,
                  where=None) -> Series:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), UTC)
    stmt = select(time_column, column).where(time_column >= start)
    if where is not None:
        stmt = stmt.where(where)
    counts: dict[str, Counter] = defaultdict(Counter)
    result = await session.stream(stmt.execution_options(yield_per=2000))
    async for when, name in result:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        counts[name or "none"][when.astimezone(UTC).date()] += 1
    day_list = [first + timedelta(days=i) for i in range(days)]
    return Series(days=day_list,
                  stacks={k: [c[d] for d in day_list] for k, c in sorted(counts.items())})


async def verdicts_per_day(session: AsyncSession, days: int) -> Series:
    return await per_day(session, Trace.verdict, Trace.received_at, days)


async def categories_per_day(session: AsyncSession, days: int) -> Series:
    return await per_day(session, HeldMessage.category, HeldMessage.held_at, days)


async def waiting(session: AsyncSession) -> dict[str, object]:
    held = dict((await session.execute(
        select(HeldMessage.category, func.count()).where(HeldMessage.status == "held")
        .group_by(HeldMessage.category))).all())
    sev = dict((await session.execute(
        select(HeldMessage.severity, func.count()).where(HeldMessage.status == "held")
        .group_by(HeldMessage.severity))).all())
    oldest = await session.scalar(select(func.min(HeldMessage.held_at))
                                  .where(HeldMessage.status == "held"))
    releases = dict((await session.execute(
        select(Release.status, func.count()).where(Release.status.in_(("pending", "failed")))
        .group_by(Release.status))).all())
    open_cases = await session.scalar(select(func.count()).select_from(Case)
                                      .where(Case.status == "open"))
    return {"by_category": {c: held.get(c, 0) for c in CATEGORIES},
            "by_severity": {s: sev.get(s, 0) for s in SEVERITIES},
            "total": sum(held.values()), "oldest": oldest,
            "releases_pending": releases.get("pending", 0),
            "releases_failed": releases.get("failed", 0), "open_cases": open_cases or 0}
