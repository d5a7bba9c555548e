"""Reporting the same message twice links to the first report, also when the reports
arrive at the same instant in different gateway processes: the database, not the
process, decides which is first (the unique `reports.first_key`)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.app import Gateway
from gateway.config import load_config
from gateway.reports.extract import extract_all, extract_upload
from quarantine.store import Store, alembic_config, open_store
from quarantine.store.models import Report
from quarantine.store.reports import (
    create_report,
    file_report,
    first_report,
    message_key,
    submit_upload,
)
from tests.reports.forwards import as_attachment, as_attachments, dated
from tests.support import ROOT, import_directory, make_message, write_config

STAFF = ("j.harris", "s.patel", "head", "dsl", "it", "office")
REPORTERS = [f"{name}@stchristophers.example" for name in STAFF]


def offending(subject: str) -> bytes:
    msg = dated(make_message("troll@example.org", REPORTERS, subject=subject,
                             body="Nobody at your school can stand you.\n"))
    return msg.as_bytes().replace(b"\n", b"\r\n")


async def all_reports(store: Store) -> list[Report]:
    async with store.session() as session:
        return list((await session.scalars(select(Report).order_by(Report.created_at))).all())


@pytest.fixture
async def gateways(store_url, tmp_path):
    """Six gateways' report intakes, each with its own engine (its own connections), as
    six worker processes or nodes would have, over one store."""
    await (await open_store(store_url)).close()
    await import_directory(store_url, ROOT / "config" / "directory.sample.csv")
    config = load_config(write_config(tmp_path / "gateway.toml", {
        "store.url": store_url,
        "checks.content.enabled": False,   # the classifier is not under test: faster
        "relay.downstream": "127.0.0.1:9", "relay.smarthost": "127.0.0.1:9",
        "reports.acknowledge": False, "alerts.reviewers": [],   # no notices to send
    }))
    started = [await Gateway.create(config, store=Store(store_url)) for _ in REPORTERS]
    yield started
    for gw in started:
        await gw.store.close()


async def test_simultaneous_reports_of_one_message_make_one_first(gateways, store_url):
    """Each round: six members of staff report the same message at once, five by mail to
    six intakes, one by upload (completed by a report job); exactly one is the first."""
    for round_ in range(4):
        raw = offending(f"Round {round_}")
        submissions = [as_attachment(r, raw, f"from {r}").as_bytes() for r in REPORTERS]
        async with gateways[0].store.transaction() as session:
            upload = await submit_upload(session, reporter=REPORTERS[-1], data=raw,
                                         note="uploaded",
                                         submission_sha256=hashlib.sha256(raw).hexdigest())
        jobs = [gw.reports.receive_all(sub, extract_all(sub), reporter)
                for gw, sub, reporter in zip(gateways[:-1], submissions, REPORTERS,
                                             strict=False)]
        jobs.append(gateways[-1].reports.receive(raw, extract_upload(raw, "uploaded"),
                                                 REPORTERS[-1], report_id=upload.id))
        await asyncio.gather(*jobs)

        mine = [r for r in await all_reports(gateways[0].store)
                if r.subject == f"Round {round_}"]
        assert len(mine) == len(REPORTERS) and {r.status for r in mine} == {"new"}
        firsts = [r for r in mine if r.duplicate_of is None]
        assert len(firsts) == 1, [(r.reporter, r.duplicate_of) for r in mine]
        [first] = firsts
        assert first.first_key == message_key(first.message_id, first.sha256)
        assert first.first_key.startswith("mid:")
        assert {r.duplicate_of for r in mine if r is not first} == {first.id}
        assert all(r.first_key is None for r in mine if r is not first)


async def test_two_mails_attaching_the_same_messages_in_opposite_orders(gateways):
    """Two members of staff forward the same two messages at once, attached in opposite
    orders: both mails are filed (no deadlock, no 451), and each message has one first."""
    for round_ in range(4):
        a, b = offending(f"Pair {round_} A"), offending(f"Pair {round_} B")
        mails = [as_attachments(REPORTERS[0], [a, b], "these two").as_bytes(),
                 as_attachments(REPORTERS[1], [b, a], "these two").as_bytes()]
        filed = await asyncio.gather(*(
            gw.reports.receive_all(mail, extract_all(mail), reporter)
            for gw, mail, reporter in zip(gateways, mails, REPORTERS, strict=False)))
        assert [len(reports) for reports in filed] == [2, 2]
        for subject in (f"Pair {round_} A", f"Pair {round_} B"):
            mine = [r for r in await all_reports(gateways[0].store) if r.subject == subject]
            assert len(mine) == 2
            assert len([r for r in mine if r.duplicate_of is None]) == 1, subject


def fields(reporter: str, raw: bytes) -> dict:
    return dict(reporter=reporter, note="", how="attachment", source="forwarded",
                sha256=hashlib.sha256(raw).hexdigest(), message_id="<same@example.org>",
                subject="Same", from_header="troll@example.org", raw=raw, forwarded_raw=raw,
                submission_sha256=hashlib.sha256(reporter.encode()).hexdigest(), findings=[],
                category="content", severity="serious", status="new")


async def test_the_database_refuses_a_second_first_and_the_loser_links(store_url):
    """What two processes racing would do, step by step: both saw no first report; the
    one that commits second is refused, and filing it again links it to the first."""
    one, other = await open_store(store_url), Store(store_url)
    try:
        raw = offending("Same")
        key = message_key("<same@example.org>", "")
        async with one.transaction() as a:
            winner, none = await file_report(a, fields(REPORTERS[0], raw))
            assert none is None and winner.first_key == key
            async with other.session() as look:
                assert await first_report(look, key) is None   # not committed yet

            async def loser():   # believes it is first, as the other process did
                async with other.transaction() as b:
                    await create_report(b, **fields(REPORTERS[1], raw), first_key=key)
            racing = asyncio.create_task(loser())
            await asyncio.sleep(0.3)   # on PostgreSQL its insert now waits for ours
        with pytest.raises(IntegrityError):
            await racing
        async with other.transaction() as b:
            again, first = await file_report(b, fields(REPORTERS[1], raw))
        assert first.id == winner.id and again.duplicate_of == winner.id
        assert again.first_key is None
        assert [r.id for r in await all_reports(one)] == [winner.id, again.id]
    finally:
        await one.close()
        await other.close()


async def test_upgrade_gives_existing_first_reports_their_key(store_url):
    """`alembic upgrade head` over a store at 0003 holding reports: the earliest report of
    each message gets its key, and the index refuses a second."""
    from alembic import command

    store = Store(store_url)
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(store_url, c),
                                                          "0003_reports"))
        raw = offending("Before")
        rows = [dict(fields(r, raw), id=f"r{i}", authentic=False,
                     created_at=datetime(2026, 11, i + 1, 10, tzinfo=UTC))
                for i, r in enumerate(REPORTERS[:3])]
        rows[2]["message_id"] = "<other@example.org>"
        async with store.engine.begin() as conn:   # the columns 0003 has: no first_key
            for row in rows:
                await conn.execute(Report.__table__.insert().values(**row))
        await store.upgrade()
        keyed = {r.id: r.first_key for r in await all_reports(store)}
        assert keyed == {"r0": message_key("<same@example.org>", ""), "r1": None,
                         "r2": message_key("<other@example.org>", "")}
        with pytest.raises(IntegrityError):
            async with store.transaction() as session:
                await create_report(session, **fields("x@stchristophers.example", raw),
                                    first_key=keyed["r0"])
    finally:
        await store.close()
