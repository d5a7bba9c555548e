"""Background jobs stop between passes, on both backends: a pass under way when the
gateway is told to stop is finished and committed, never cancelled while it holds a
connection (cancelled, it could hang the gateway's exit on SQLite: quarantine.jobs).
That every gateway the suite starts stops on SIGTERM is checked by each test's teardown
(tests.support.ManagedProcess.stop)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from gateway.tracing import TraceWriter
from quarantine.jobs import PeriodicJob
from quarantine.store import open_store
from quarantine.store.audit import append
from quarantine.store.models import AuditEntry, Trace


async def _stop_mid_pass(url: str) -> tuple[int, int, bool]:
    store = await open_store(url)
    try:
        inside, go_on = asyncio.Event(), asyncio.Event()
        passes = 0

        async def one_pass() -> None:
            nonlocal passes
            passes += 1
            async with store.transaction() as session:
                await append(session, actor="job", action="test.first", subject="1",
                             detail={}, client="")
                inside.set()
                await go_on.wait()
                await append(session, actor="job", action="test.second", subject="2",
                             detail={}, client="")

        job = PeriodicJob("test-job", one_pass, interval=0.01)
        job.start()
        await inside.wait()
        stopping = asyncio.create_task(job.stop())
        for _ in range(20):
            await asyncio.sleep(0)
        waited_for_the_pass = not stopping.done()
        go_on.set()
        await stopping
        async with store.session() as session:
            rows = await session.scalar(select(func.count()).select_from(AuditEntry))
        return passes, rows, waited_for_the_pass
    finally:
        await store.close()


def test_a_job_told_to_stop_mid_pass_finishes_and_commits_the_pass(store_url):
    passes, rows, waited = asyncio.run(_stop_mid_pass(store_url))
    assert waited, "stop() returned while a pass was still holding its transaction"
    assert rows == 2, "the pass under way was cut off: its transaction was not committed"
    assert passes == 1, "a new pass started after stop()"


async def _failing_then_stopped() -> int:
    calls = 0
    third = asyncio.Event()

    async def one_pass() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        raise RuntimeError("this pass fails")

    job = PeriodicJob("failing-job", one_pass, interval=0.001)
    job.start()
    await asyncio.wait_for(third.wait(), 30)
    await job.stop()
    return calls


def test_a_failing_pass_is_logged_and_the_job_goes_on(caplog):
    assert asyncio.run(_failing_then_stopped()) >= 3
    assert "failing-job: a pass failed" in caplog.text


async def _trace_writer_closed_with_work_queued(url: str) -> int:
    store = await open_store(url)
    try:
        traces = TraceWriter(store, batch=50)
        traces.start()
        for i in range(230):
            traces.add(stage="data", direction="inbound", message_id=f"<{i}@test>")
            if i % 40 == 0:
                await asyncio.sleep(0)      # let the writer take some batches meanwhile
        await traces.close()
        async with store.session() as session:
            return await session.scalar(select(func.count()).select_from(Trace))
    finally:
        await store.close()


def test_closing_the_trace_writer_writes_everything_queued(store_url):
    assert asyncio.run(_trace_writer_closed_with_work_queued(store_url)) == 230
