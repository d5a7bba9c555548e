"""The audit log's hash chain, on both backends."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from quarantine.store import open_store
from quarantine.store.audit import append, verify
from tests.support import run_aupgate, write_config


async def _fill_and_verify(url: str):
    store = await open_store(url)
    try:
        async def add(i: int):
            async with store.transaction() as s:
                await append(s, actor=f"user{i}", action="message.view", subject=str(i),
                             detail={"i": i}, client="127.0.0.1")
        await asyncio.gather(*(add(i) for i in range(20)))  # concurrent appenders
        async with store.session() as s:
            first = await verify(s)
        async with store.transaction() as s:
            await s.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 7"))
        async with store.session() as s:
            altered = await verify(s)
        return first, altered
    finally:
        await store.close()


def test_chain_verifies_then_breaks_when_a_row_is_altered(store_url, tmp_path):
    first, altered = asyncio.run(_fill_and_verify(store_url))
    assert first.ok and first.entries == 20
    assert not altered.ok and "entry 7 was altered" in altered.problem
    config = write_config(tmp_path / "g.toml", {"store.url": store_url})
    result = run_aupgate("audit", "verify", config=config)
    assert result.returncode == 1 and b"BROKEN" in result.stderr


async def _delete_last(url: str):
    store = await open_store(url)
    try:
        for i in range(3):
            async with store.transaction() as s:
                await append(s, actor="a", action="x", detail={"i": i})
        async with store.transaction() as s:
            await s.execute(text("DELETE FROM audit_log WHERE seq = 3"))
        async with store.session() as s:
            return await verify(s)
    finally:
        await store.close()


def test_removing_the_newest_entry_is_noticed(store_url):
    result = asyncio.run(_delete_last(store_url))
    assert not result.ok and "removed" in result.problem
