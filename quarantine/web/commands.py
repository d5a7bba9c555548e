"""The work behind `aupgate web` and `aupgate user …` (the argparse side is in
gateway/cli.py, which loads the configuration)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from quarantine.store import open_store
from quarantine.web.accounts import add_user, disable_user, list_users, set_password


def stop_on_signals() -> asyncio.Event:
    """An event SIGINT and SIGTERM set, for a clean stop. Installed before a server
    listens: a signal that comes as soon as it answers must not kill it outright."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_web(store_url: str, web: dict[str, Any], *, retention_days: int,
                  local_domains: list[str]) -> int:
    from quarantine.web.serve import start_web

    stop = stop_on_signals()     # before the app serves its first page
    store = await open_store(store_url)
    try:
        server = await start_web({**web, "enabled": True}, store, retention_days=retention_days,
                                 local_domains=local_domains, housekeeping=True)
        if server is None:
            return 1
        print(f"aupgate: review app on {server.url}", flush=True)
        await stop.wait()
        await server.stop()
    finally:
        await store.close()
    return 0


async def user_add(store_url: str, username: str, role: str, email: str, password: str) -> str:
    store = await open_store(store_url)
    try:
        async with store.transaction() as session:
            user = await add_user(session, username=username, password=password, role=role,
                                  email=email, actor="cli", client="cli")
            return f"added {user.username} ({user.role})"
    finally:
        await store.close()


async def user_passwd(store_url: str, username: str, password: str) -> str:
    store = await open_store(store_url)
    try:
        async with store.transaction() as session:
            await set_password(session, username, password)
        return f"password changed for {username}"
    finally:
        await store.close()


async def user_disable(store_url: str, username: str) -> str:
    store = await open_store(store_url)
    try:
        async with store.transaction() as session:
            await disable_user(session, username)
        return f"disabled {username} and ended their sessions"
    finally:
        await store.close()


async def user_list(store_url: str) -> list[str]:
    store = await open_store(store_url)
    try:
        async with store.session() as session:
            return [f"{u.username:<24} {u.role:<9} {u.email:<36} "
                    f"{'disabled' if u.disabled_at else 'active'}"
                    for u in await list_users(session)]
    finally:
        await store.close()
