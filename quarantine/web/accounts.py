"""Local accounts: argon2id password hashes, roles, and the users' store functions."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quarantine.store import audit
from quarantine.store.reviews import ROLES, WebUser

# argon2-cffi's defaults are argon2id (RFC 9106's low-memory profile: t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()
# Verified when the user name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not a real password")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


class AccountError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return HASHER.hash(password)


# Each verification takes 64 MiB: at most two at once, however many sign-ins arrive.
_VERIFYING = threading.BoundedSemaphore(2)


def check_password(stored: str | None, password: str) -> bool:
    with _VERIFYING:
        try:
            return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


async def check_password_async(stored: str | None, password: str) -> bool:
    """argon2 takes tens of milliseconds and 64 MiB: keep it off the event loop."""
    return await asyncio.to_thread(check_password, stored, password)


async def find_user(session: AsyncSession, username: str) -> WebUser | None:
    return (await session.scalars(
        select(WebUser).where(WebUser.username == username.strip().lower()))).first()


async def add_user(session: AsyncSession, *, username: str, password: str, role: str,
                   email: str = "", actor: str = "cli", client: str = "") -> WebUser:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise AccountError("a user name is 1-64 of a-z 0-9 . _ @ - (starting with a letter "
                           "or digit)")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    email = email.strip().lower()
    if email and "@" not in email:
        raise AccountError(f"{email!r} is not an address")
    if await find_user(session, username) is not None:
        raise AccountError(f"there is already a user {username!r}")
    password_hash = await asyncio.to_thread(hash_password, password)
    user = WebUser(username=username, password_hash=password_hash, role=role, email=email,
                   created_at=datetime.now(UTC))
    session.add(user)
    await session.flush()
    await audit.append(session, actor=actor, action="user.add", subject=username,
                       client=client, detail={"role": role, "email": email})
    return user


async def set_password(session: AsyncSession, username: str, password: str, *,
                       actor: str = "cli") -> None:
    user = await find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    user.password_hash = await asyncio.to_thread(hash_password, password)
    await audit.append(session, actor=actor, action="user.password", subject=user.username)


async def disable_user(session: AsyncSession, username: str, *, actor: str = "cli") -> None:
    from sqlalchemy import delete

    from quarantine.store.reviews import WebSession

    user = await find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    user.disabled_at = datetime.now(UTC)
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await audit.append(session, actor=actor, action="user.disable", subject=user.username)


async def list_users(session: AsyncSession) -> list[WebUser]:
    return list((await session.scalars(select(WebUser).order_by(WebUser.username))).all())
