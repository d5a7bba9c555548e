"""gateway.toml: its schema, and a loader that stops at the first wrong value.

Every section is a pydantic model with unknown keys forbidden, so a typo is an
error rather than a silently ignored setting. `load_config` raises `ConfigError`
whose message is one line naming the key and what is wrong with it.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "gateway.toml"


class ConfigError(Exception):
    """A configuration file that cannot be used; str() is one line for the operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)
    hostname: str = "aupgate.localdomain"
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(100, ge=1)
    max_line_length: int = Field(998, ge=78, le=65536)
    max_sessions: int = Field(100, ge=1)
    max_sessions_per_client: int = Field(20, ge=1)
    max_messages_in_flight: int = Field(16, ge=1)
    # Processes accepting on the one listening socket; each takes an equal share of the
    # session limits. More than the machine's cores only adds memory.
    workers: int = Field(1, ge=1, le=64)
    command_timeout: float = Field(300, gt=0)
    data_timeout: float = Field(600, gt=0)
    # A bare LF or CR in DATA is the SMTP smuggling vector: refuse it (550 5.5.2),
    # or turn every line ending into CRLF before relaying.
    bare_line_endings: Literal["reject", "normalise"] = "reject"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # aiosmtpd holds a whole message in memory before the checks run, and the parsed
    # view holds it again: at worst every session does so at once. The product of the
    # limits must fit this budget, so that a flood of large messages cannot exhaust memory.
    memory_budget_bytes: int = Field(8 * 1024**3, ge=64 * 1024**2)

    @model_validator(mode="after")
    def _fits_memory(self) -> ServerConfig:
        worst = self.max_sessions * self.max_message_bytes * 2
        if worst > self.memory_budget_bytes:
            raise ValueError(
                f"max_sessions × max_message_bytes × 2 = {worst} bytes exceeds "
                f"memory_budget_bytes ({self.memory_budget_bytes}); lower one of them")
        return self

    @field_validator("tls_cert_file", "tls_key_file")
    @classmethod
    def _readable(cls, value: str) -> str:
        if value and not os.access(value, os.R_OK):
            raise ValueError(f"cannot read {value!r}")
        return value


class RelayConfig(_Section):
    local_domains: list[str] = Field(min_length=1)
    # Addresses of the academy mail server(s): mail from these is outbound.
    trusted_networks: list[str] = Field(default_factory=list)
    downstream: str                              # host:port of the academy mail server
    smarthost: str = ""                          # host:port for outbound; "" = recipient's MX
    delivery_timeout: float = Field(60, gt=0)

    @field_validator("local_domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [d.lower().rstrip(".") for d in value]

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an IP network") from None
        return value

    @field_validator("downstream", "smarthost")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            parse_host_port(value)
        return value


class AllowlistConfig(_Section):
    # Mail from an unapproved outside sender to a pupil: refuse it at RCPT, or
    # accept it and hold it for a reviewer.
    unapproved_sender_to_pupil: Literal["reject", "hold"] = "reject"


class ParseConfig(_Section):
    max_depth: int = Field(10, ge=1, le=100)
    max_parts: int = Field(500, ge=1)
    max_decoded_bytes: int = Field(100 * 1024 * 1024, ge=1024)


class StoreConfig(_Section):
    url: str = "sqlite+aiosqlite:///var/aupgate.db"
    retention_days: int = Field(90, ge=1)        # held messages' bodies
    # Delivered messages' bodies, so that a report or case shows what was passed on.
    # 0 keeps none (a report then links to the trace and the forwarded copy only).
    keep_delivered_days: int = Field(30, ge=0)


class PolicyConfig(_Section):
    file: str = "policy.toml"


class AlertsConfig(_Section):
    # Who hears at once about escalations and alerting rules (the headteacher, the DSL).
    reviewers: list[str] = Field(default_factory=list)
    from_address: str = "aupgate@localhost"
    web_url: str = "http://127.0.0.1:8025"


class GatewayConfig(_Section):
    server: ServerConfig = ServerConfig()
    relay: RelayConfig
    allowlist: AllowlistConfig = AllowlistConfig()
    parse: ParseConfig = ParseConfig()
    store: StoreConfig = StoreConfig()
    policy: PolicyConfig = PolicyConfig()
    alerts: AlertsConfig = AlertsConfig()
    # One table per check module, validated by that module's own schema when the
    # checks are built (gateway.checks.build_checks), which also happens at start.
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Sections owned by other parts (web app, reports); each validates its own.
    web: dict[str, Any] = Field(default_factory=dict)
    reports: dict[str, Any] = Field(default_factory=dict)

    base_dir: Path = PROJECT_ROOT / "config"

    def resolve(self, path: str) -> Path:
        """A path from the config file, relative to the file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p


def parse_host_port(value: str, default_port: int = 25) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return host, int(port)


def format_validation_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required but missing"
    return f"{source}: {key}: {msg}"


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None) -> GatewayConfig:
    path = Path(path or os.environ.get("AUPGATE_CONFIG") or DEFAULT_CONFIG)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    data["base_dir"] = path.resolve().parent
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(str(path), e)) from None


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[leaf] = value


def validate_section(model: type[BaseModel], values: dict, where: str) -> Any:
    """Validate a sub-table owned by another module, with the same one-line errors."""
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise ConfigError(format_validation_error("gateway.toml", e).replace(
            "gateway.toml: ", f"gateway.toml: {where}.", 1)) from None
