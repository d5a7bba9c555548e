"""The `[web]` table of gateway.toml: its schema, checked at start like every other table."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class WebConfigError(ValueError):
    """A `[web]` value that cannot be used; str() is one line naming the key."""


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True                      # run beside the relay in `aupgate serve`
    listen: str = "127.0.0.1:8025"
    tls_cert_file: str = ""                   # set both to serve HTTPS (cookies become Secure)
    tls_key_file: str = ""
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto are believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    # "auto": Secure cookies when the request came over HTTPS (directly or via a proxy).
    secure_cookies: Literal["auto", "always"] = "auto"
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    session_max_hours: int = Field(12, ge=1, le=24 * 7)
    login_max_failures: int = Field(5, ge=1)            # per user name, within the window
    login_max_failures_per_client: int = Field(20, ge=1)
    login_window_minutes: int = Field(15, ge=1)
    page_size: int = Field(50, ge=5, le=500)
    dashboard_days: int = Field(14, ge=1, le=90)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host_port(value)
        return value

    @field_validator("tls_cert_file", "tls_key_file")
    @classmethod
    def _readable(cls, value: str) -> str:
        if value and not os.access(value, os.R_OK):
            raise ValueError(f"cannot read {value!r}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an IP address or network") from None
        return value

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file and self.tls_key_file)


@dataclass(frozen=True)
class Site:
    """What the app needs to know beyond `[web]`, handed over by whoever starts it."""

    retention_days: int = 90
    local_domains: tuple[str, ...] = ()


def host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]"), int(port)


def load_settings(values: dict[str, Any] | None) -> WebSettings:
    try:
        return WebSettings.model_validate(values or {})
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(table)"
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise WebConfigError(f"gateway.toml: web.{key}: {msg}") from None
