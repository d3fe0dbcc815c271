"""Service settings, read once from the environment (prefix MODERATION_) and passed down."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment; nothing else reads os.environ."""

    model_config = SettingsConfigDict(env_prefix="MODERATION_", extra="ignore", frozen=True)

    data_dir: Path = Field(Path("data"), description="Folder for the embedded SQLite database.")
    database_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL; sqlite:///DATA_DIR/moderation.db when unset."
    )
    models_dir: Path = Field(Path("models"), description="Model versions and the CURRENT pointer.")
    seed_data_dir: Path = Field(Path("training/data"), description="The labelled seed corpus.")
    model_check_seconds: float = Field(
        2.0, gt=0, le=3600, description="How often a worker looks for a newly promoted model."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    worker_healthcheck_seconds: int = Field(
        30,
        ge=1,
        le=600,
        description="With several workers, how long a worker may take to start (importing "
        "scikit-learn and loading the model) or to answer the supervisor's ping before it is "
        "killed; uvicorn's 5 s default kills workers on a busy host.",
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=64 * 1024 * 1024)
    akismet_max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Body limit of the Akismet-compatible API: the WordPress plugin sends the "
        "comment twice, percent-encoded, with every request header of the commenter.",
    )
    batch_max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Body limit of POST /v1/comments/score: up to 1,000 comments at once.",
    )
    create_first_site: bool = Field(
        True, description="On a first start with no site, create one and print its key once."
    )
    migrate_on_start: bool = True
    writer_process: bool | None = Field(
        None,
        description="Score, judge and store checks in a process of their own (one per worker), "
        "on another core than the one serving HTTP; false: on a thread of the serving process, "
        "which then uses one core for both. Unset: a writer process when this machine has two "
        "cores per worker.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="NORMAL survives a killed process (WAL); FULL also survives power loss.",
    )
    sqlite_busy_timeout_ms: int = Field(10_000, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    session_hours: int = Field(
        12, ge=1, le=24 * 30, description="How long a moderator stays logged in to the web page."
    )
    secure_cookies: bool = Field(
        False,
        description="Mark the web page's cookies Secure even on plain HTTP requests: set it "
        "behind a proxy that terminates TLS (HTTPS requests get Secure cookies anyway).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDR blocks of the reverse proxies whose X-Forwarded-For is believed "
        "(comma-separated); empty: the socket peer is the client.",
    )
    login_window_minutes: int = Field(
        15, ge=1, le=1440, description="How long a failed web login counts against a lockout."
    )
    login_name_failures: int = Field(
        5, ge=1, le=1000, description="Failures for one account name that lock it out."
    )
    login_ip_failures: int = Field(
        20, ge=1, le=100_000, description="Failures from one client address that lock it out."
    )
    login_max_lockout_minutes: int = Field(
        15, ge=1, le=1440, description="The longest lockout (it doubles from a minute)."
    )
    redis_url: SecretStr | None = Field(
        None,
        description="Redis URL (redis://host:6379/0) where every worker and instance counts "
        "rate limits together; unset: each worker counts alone, in its own memory.",
    )
    ratelimit_check_key_per_second: float = Field(
        50, ge=0, le=100_000, description="Checks one site may make per second (0: no limit)."
    )
    ratelimit_check_key_burst: int = Field(
        200, ge=0, le=1_000_000, description="Checks one site may make at once (0: no limit)."
    )
    ratelimit_check_ip_per_second: float = Field(
        100,
        ge=0,
        le=100_000,
        description="Check requests one client address may make per second, before its key is "
        "looked at (0: no limit).",
    )
    ratelimit_check_ip_burst: int = Field(
        400,
        ge=0,
        le=1_000_000,
        description="Check requests one client address may make at once (0: no limit).",
    )
    ratelimit_login_ip_per_minute: float = Field(
        10,
        ge=0,
        le=100_000,
        description="Login attempts one client address may make per minute (0: no limit).",
    )
    ratelimit_login_ip_burst: int = Field(
        10,
        ge=0,
        le=100_000,
        description="Login attempts one client address may make at once (0: no limit).",
    )
    ratelimit_max_keys: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="Without Redis, how many keys (sites, addresses) each worker remembers; the "
        "least recently seen is forgotten past that.",
    )
    webhooks_enabled: bool = Field(
        True, description="Send the sites' webhook calls from this process (every worker may)."
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=3600, description="How often the sender looks for calls that fell due."
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Connect, send and wait-for-answer limit of one call."
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for part in value:
                # Refused at start, not on the first request: a typo must not trust everyone.
                ipaddress.ip_network(str(part).strip(), strict=False)
            return [str(part).strip() for part in value]
        return value

    metrics_enabled: bool = Field(
        True, description="Serve Prometheus metrics at /metrics and count requests and verdicts."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, /metrics answers only 'Authorization: Bearer TOKEN' (else it is "
        "open to whoever reaches the port).",
    )
    metrics_dir: Path | None = Field(
        None,
        description="With several workers, the folder they share metric values in (emptied of "
        "its .db files at start); a fresh temporary folder when unset.",
    )

    @property
    def database_url_value(self) -> str:
        """The database URL, defaulting to SQLite in the data folder."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'moderation.db').as_posix()}"
