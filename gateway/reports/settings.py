"""The `[reports]` table of gateway.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config import ConfigError, GatewayConfig, validate_section


class ReportsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Where staff forward offensive mail; "" turns the report address off.
    address: str = ""
    # Who is alerted about a new report; empty = the [alerts] reviewers.
    reviewers: list[str] = Field(default_factory=list)
    # Send the reporter a short acknowledgement.
    acknowledge: bool = True
    # How far back a report looks for the gateway's own copy of the reported message.
    link_window_days: int = Field(60, ge=1)
    # Largest .eml/.msg a member of staff may upload in the web app.
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # Messages one report mail may carry as attachments, each its own report. A mail with
    # more is refused whole (554, saying to send them in several mails): each is linked
    # and classified before the 250, and every one is kept or none.
    max_attached_messages: int = Field(20, ge=1, le=200)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().lower()
        if value and (value.count("@") != 1 or not all(value.split("@"))):
            raise ValueError(f"{value!r} is not an address")
        return value

    @field_validator("reviewers")
    @classmethod
    def _reviewers(cls, value: list[str]) -> list[str]:
        for a in value:
            if a.count("@") != 1:
                raise ValueError(f"{a!r} is not an address")
        return value


def reports_settings(config: GatewayConfig) -> ReportsSettings:
    """The validated [reports] table; a report address outside our domains is refused."""
    settings = validate_section(ReportsSettings, config.reports, "reports")
    if settings.address:
        domain = settings.address.rpartition("@")[2]
        local = config.relay.local_domains
        if not any(domain == d or domain.endswith("." + d) for d in local):
            raise ConfigError(f"gateway.toml: reports.address: {settings.address!r} is not in "
                              f"relay.local_domains ({', '.join(local)})")
    return settings
