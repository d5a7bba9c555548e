"""Releases from the quarantine: delivered by the gateway's job, retried, never doubled
by two gateways sharing the store."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from gateway.config import load_config
from gateway.delivery import Delivery
from gateway.releases import ReleaseWorker
from quarantine.store import open_store
from quarantine.store.held import hold, request_release
from quarantine.store.models import Release
from tests.support import STAFF, SinkProcess, make_message, write_config


async def _scenario(store_url: str, sink_port: int, config_path):
    config = load_config(config_path)
    store = await open_store(store_url)
    try:
        raw = make_message("friend@example.org", [STAFF], subject="held then released").as_bytes()
        async with store.transaction() as s:
            held = await hold(s, raw=raw, sha256="0" * 64, direction="inbound",
                              mail_from="friend@example.org", rcpt_tos=[STAFF])
            await request_release(s, held, rcpt_tos=[STAFF], requested_by="head@test")
            again = await request_release(s, held, rcpt_tos=[STAFF], requested_by="head@test")
        delivery = Delivery(config.relay, "test", lambda a: True)
        two_nodes = [ReleaseWorker(store, delivery), ReleaseWorker(store, delivery)]
        counts = await asyncio.gather(*(w.run_once() for w in two_nodes))
        async with store.session() as s:
            rows = list((await s.scalars(select(Release))).all())
        await delivery.close()
        return counts, rows, again
    finally:
        await store.close()


def test_a_release_is_delivered_once_even_with_two_gateways(store_url, tmp_path, sink):
    config = write_config(tmp_path / "g.toml", {"relay.downstream": f"127.0.0.1:{sink.port}",
                                               "store.url": store_url})
    counts, rows, _ = asyncio.run(_scenario(store_url, sink.port, config))
    assert sorted(counts) == [0, 1]
    assert [r.status for r in rows] == ["delivered"], "releasing twice is one release"
    [got] = sink.wait_for(1)
    assert b"X-Aupgate-Released: " in got and b"held then released" in got


def test_a_release_to_a_downstream_that_is_down_waits_and_says_why(store_url, tmp_path):
    closed = SinkProcess(tmp_path / "never-started")
    config = write_config(tmp_path / "g.toml", {"relay.downstream": f"127.0.0.1:{closed.port}",
                                               "relay.delivery_timeout": 5,
                                               "store.url": store_url})
    counts, [row], _ = asyncio.run(_scenario(store_url, closed.port, config))
    assert counts == [0, 0]
    assert row.status == "pending" and row.attempts == 1 and row.last_error
