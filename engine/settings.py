"""The workflow engine's settings (`HEADWATER_ENGINE_*`), and its master signing key.

Every project's webhook signing secret derives from one master key (engine/webhooks.py), so the
engine keeps no secret per project. Unset, the key is generated once and kept in the data folder;
engine workers that do not share that folder (several hosts, Kubernetes) must all be given the
same `HEADWATER_ENGINE_SIGNING_KEY`, or receivers would see signatures from different secrets.
"""

import os
import secrets
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from engine.ssrf import AllowList
from runtime.errors import HeadwaterError
from runtime.settings import FaustWorkerSettings, settings_config

__all__ = ["MIN_SIGNING_KEY_LENGTH", "EngineSettings", "signing_key_file"]

MIN_SIGNING_KEY_LENGTH = 16


class EngineSettings(FaustWorkerSettings):
    """The faust worker's identity, its timers, how it calls webhooks, and its metrics."""

    model_config = settings_config("HEADWATER_ENGINE_")

    app_id: str = Field(
        "headwater-engine",
        description="Faust app id: the consumer group and the prefix of its internal topics.",
    )
    time_zone: str = Field(
        "UTC",
        description="IANA time zone (e.g. Europe/Berlin) of delays of a day and longer and of"
        " their `minute_of_day`: a day is a calendar day there, across DST changes.",
    )
    tick_ms: int = Field(100, gt=0, description="How often the worker looks for due timers.")
    fire_rate: int = Field(
        2000,
        gt=0,
        description="Timers fired per second per worker at most. Timers overdue after downtime"
        " fire at once, at this rate, so a restart does not flood receivers.",
    )
    keep_ended_s: int = Field(
        7 * 86_400,
        gt=0,
        description="How long an ended execution is remembered, so that a command replayed"
        " within it (a processors or gateway retry) starts nothing new; then its record is"
        " dropped.",
    )
    webhook_timeout_s: float = Field(
        15.0,
        gt=0,
        description="Time allowed for a whole webhook attempt (connect, send, answer); longer"
        " is a failed attempt, retried.",
    )
    webhook_concurrency: int = Field(
        64, gt=0, description="Webhook connections open at once per worker, at most."
    )
    webhook_max_attempts: int = Field(
        18,
        ge=1,
        description="Attempts per webhook before it is set aside as a `webhook_failed` dead"
        " letter. With the back-off below, the 17 waits add up to about a day (0.7 to 1.5 days"
        " with the jitter), in the spirit of Standard Webhooks' schedule.",
    )
    webhook_backoff_base_s: float = Field(
        5.0,
        gt=0,
        description="Delay before the second attempt; it doubles with each attempt (with"
        " jitter) up to `webhook_backoff_cap_s`.",
    )
    webhook_backoff_cap_s: float = Field(
        21600.0, gt=0, description="Longest delay between two attempts (6 hours)."
    )
    webhook_retry_after_cap_s: float = Field(
        300.0,
        ge=0,
        description="A receiver's `Retry-After` is honoured up to this long; a longer one waits"
        " this long.",
    )
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts and networks webhooks may reach although private, loopback or"
        " link-local (the SSRF guard refuses those otherwise): names (exact, any case), IP"
        " addresses or CIDRs, comma-separated. Example: 127.0.0.1,10.0.0.0/8,receiver.internal",
    )
    signing_key: SecretStr | None = Field(
        None,
        description="Master key every project's webhook signing secret derives from (at least"
        f" {MIN_SIGNING_KEY_LENGTH} characters). Unset: one is generated on first use and kept"
        " in <data_dir>/engine/signing.key (mode 0600). Set it when workers do not share a data"
        " folder.",
    )
    metrics_port: int = Field(
        8084, ge=0, description="Port of the Prometheus /metrics endpoint (0 turns it off)."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"HEADWATER_ENGINE_TIME_ZONE: {value!r} is not an IANA time zone"
            ) from exc
        return value

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _allow_list(cls, value: Any) -> Any:
        """Split the variable's comma-separated text; refuse a malformed CIDR now rather than
        treat it as a host name that never matches."""
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list):
            return entries
        try:
            AllowList.parse(entries)
        except ValueError as exc:
            raise ValueError(f"HEADWATER_ENGINE_WEBHOOK_ALLOW: {exc}") from exc
        return [e.strip() for e in entries if isinstance(e, str) and e.strip()]

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SIGNING_KEY_LENGTH:
            raise ValueError(
                f"HEADWATER_ENGINE_SIGNING_KEY must be at least {MIN_SIGNING_KEY_LENGTH}"
                " characters (or unset, to have one generated)"
            )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def signing_key_value(self, data_dir: Path) -> str:
        """The master key: the configured one, else the one kept in the data folder, made on
        first use."""
        if self.signing_key is not None:
            return self.signing_key.get_secret_value()
        return _kept_key(signing_key_file(data_dir))


def signing_key_file(data_dir: Path) -> Path:
    return data_dir / "engine" / "signing.key"


def _kept_key(path: Path) -> str:
    """Read the key file, creating it first if absent. Two processes starting at once (an engine
    and `headwater webhooks receive`) both end up with the first one's key: the new key is
    written whole to a private temporary file, then linked into place, which fails if another
    got there first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_SIGNING_KEY_LENGTH:
        raise HeadwaterError(
            f"{path} holds no usable signing key: delete it to have a new one made"
            " (every project's signing secret then changes)"
        )
    return key
