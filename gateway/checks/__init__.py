"""The checks: one module each, found by name, each returning findings.

Adding a check is adding one module to this package that defines

    NAME = "volume"                     # its table in gateway.toml is [checks.volume]
    class Settings(pydantic.BaseModel)  # optional: schema of that table (extra keys forbidden)
    def build(settings, services) -> Check | None   # None when disabled by its settings

where a `Check` has `name` and `async def run(message, envelope) -> list[Finding]`, and
may have `headers(message, envelope, findings) -> HeaderEdits` to add or remove headers
on delivered mail, `rewrite(raw, envelope) -> bytes` applied last to the bytes that
leave (outbound DKIM signing), and `async def close()`. A check never delivers, rejects or stores:
`gateway.policy` decides. A check that blocks (libmagic, pyspf, scikit-learn) runs the
blocking part with `asyncio.to_thread` so that it cannot stall the event loop.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.config import ConfigError, GatewayConfig, validate_section

if TYPE_CHECKING:
    from gateway.directory import Directory
    from gateway.envelope import Envelope
    from gateway.findings import Finding
    from gateway.message import Message
    from quarantine.store import Store


@dataclass
class HeaderEdits:
    add: list[tuple[str, str]] = field(default_factory=list)      # prepended, in order
    remove: list[Any] = field(default_factory=list)                # callables (name, value) -> bool


class Check(Protocol):
    name: str

    async def run(self, message: Message, envelope: Envelope) -> list[Finding]: ...


@dataclass
class Services:
    """What checks may use, created once at start and shared."""

    config: GatewayConfig
    store: Store | None = None
    directory: Directory | None = None     # staff names for impersonation checks, etc.
    extra: dict[str, Any] = field(default_factory=dict)


def check_modules() -> dict[str, Any]:
    modules = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "build"):
            modules[getattr(module, "NAME", info.name)] = module
    return modules


def build_checks(config: GatewayConfig, services: Services) -> list[Check]:
    modules = check_modules()
    unknown = sorted(set(config.checks) - set(modules))
    if unknown:
        raise ConfigError(f"gateway.toml: checks.{unknown[0]}: no such check "
                          f"(known: {', '.join(sorted(modules))})")
    checks = []
    for name, module in modules.items():
        values = config.checks.get(name, {})
        schema = getattr(module, "Settings", None)
        settings = validate_section(schema, values, f"checks.{name}") if schema else values
        check = module.build(settings, services)
        if check is not None:
            checks.append(check)
    return checks
