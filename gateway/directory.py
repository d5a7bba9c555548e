"""Who an address is to the trust: a pupil, staff, or someone outside.

People change rarely and are looked up on every RCPT, so they are kept in memory and
re-read from the store every `refresh_seconds`. Allowances (approved contacts and
staff-granted exceptions) change while mail flows and must take effect, and lapse, at
once, so `gateway.allowlist` reads them from the store on each pupil's RCPT.
"""

from __future__ import annotations

import time

from gateway.envelope import Audience, Party, domain_of, normalise_address
from quarantine.store import Store
from quarantine.store.directory import load_people


class Directory:
    def __init__(self, store: Store, local_domains: list[str], refresh_seconds: float = 10.0):
        self.store = store
        self.local_domains = {d.lower() for d in local_domains}
        self.refresh_seconds = refresh_seconds
        self._people: dict[str, Party] = {}
        self._loaded_at = float("-inf")

    async def refresh(self) -> None:
        async with self.store.session() as session:
            people = await load_people(session)
        self._people = {
            p.address: Party(p.address, Audience(p.role), p.name,
                             tuple(sorted(m.group_name for m in p.groups)))
            for p in people
        }
        self._loaded_at = time.monotonic()

    async def ensure_fresh(self) -> None:
        if time.monotonic() - self._loaded_at > self.refresh_seconds:
            await self.refresh()

    def is_local(self, address: str) -> bool:
        domain = domain_of(address)
        return any(domain == d or domain.endswith("." + d) for d in self.local_domains)

    def party(self, address: str) -> Party:
        address = normalise_address(address)
        known = self._people.get(address.lower())
        if known is not None:
            return known
        # An address of ours that the directory does not list (office@, a shared
        # mailbox) is treated as staff: pupils are always in the directory.
        audience = Audience.STAFF if self.is_local(address) else Audience.EXTERNAL
        return Party(address, audience)

    def listed(self, address: str) -> Party | None:
        """The directory's own entry for an address, or None (no guessing from the domain)."""
        return self._people.get(normalise_address(address).lower())

    def staff(self) -> list[Party]:
        return [p for p in self._people.values() if p.audience is Audience.STAFF]

    def pupils(self) -> list[Party]:
        return [p for p in self._people.values() if p.audience is Audience.PUPIL]
