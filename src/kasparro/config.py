"""One typed Settings object, read from the environment and then a `.env` file."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ASYNCPG_SCHEME = "postgresql+asyncpg://"


def _known_sources() -> list[str]:
    from kasparro.sources.registry import known_sources  # the sources' modules read Settings

    return list(known_sources())


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
_ACCEPTED_SCHEMES = ("postgresql+asyncpg://", "postgresql://", "postgres://")


def to_asyncpg_url(url: str) -> str:
    """Rewrite any accepted PostgreSQL URL to the SQLAlchemy asyncpg form."""
    for scheme in _ACCEPTED_SCHEMES:
        if url.startswith(scheme):
            return _ASYNCPG_SCHEME + url[len(scheme) :]
    raise ValueError(
        "expected a URL starting with postgresql://, postgres:// or postgresql+asyncpg://"
    )


class RateLimit(NamedTuple):
    """`API_RATE_LIMIT`: at most `requests` per `per_seconds` from one client."""

    requests: int
    per_seconds: int

    def __str__(self) -> str:
        return f"{self.requests}/{_PERIOD_NAMES[self.per_seconds]}"


_PERIODS = {"second": 1, "minute": 60, "hour": 3600}
_PERIOD_NAMES = {seconds: name for name, seconds in _PERIODS.items()}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*(second|minute|hour)\s*$", re.IGNORECASE)
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_rate_limit(value: str) -> RateLimit | None:
    """`600/minute` (also `/second`, `/hour`); empty: no limit."""
    if not value.strip():
        return None
    match = _RATE.match(value)
    if match is None or int(match[1]) < 1:
        raise ValueError("expected N/second, N/minute or N/hour with N >= 1, e.g. 600/minute")
    return RateLimit(int(match[1]), _PERIODS[match[2].lower()])


def parse_networks(value: str) -> list[IpNetwork]:
    """Comma-separated IP addresses and CIDR networks (`10.0.0.0/8,::1`)."""
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"expected IP addresses or CIDR networks; not one: {part}") from None
    return networks


class Settings(BaseSettings):
    """Every knob of the service; invalid values fail at start-up."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: SecretStr | None = None
    database_read_url: SecretStr | None = None  # a streaming replica for the read routes
    kasparro_data_dir: Path = Path(".kasparro")
    csv_path: Path = Path("data/sample.csv")
    etl_sources: Annotated[list[str], NoDecode] = Field(default_factory=lambda: _known_sources())
    etl_interval_seconds: int = Field(default=300, ge=0)
    # Up to this many seconds are added at random to each wait, so replicas spread out.
    etl_jitter_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Per source, how many runs keep their per-coin snapshot (what /compare-runs compares).
    etl_run_snapshots_kept: int = Field(default=100, ge=2, le=100_000)
    # CSV rows per transaction (read and written 50,000 at a time: memory does not grow with it).
    etl_batch_size: int = Field(default=200_000, ge=1, le=500_000)
    # A quote timestamped more than this after its ingest time is a rejected record.
    max_future_skew_seconds: int = Field(default=300, ge=0, le=31 * 86400)
    # A CSV line longer than this is a rejected row, stored truncated to this many bytes.
    csv_max_line_bytes: int = Field(default=1_048_576, ge=1024, le=1 << 30)
    # A last line without a newline waits for the next run unless the file is this old.
    csv_settle_seconds: float = Field(default=2.0, ge=0, le=86400)
    scheduler_token: SecretStr | None = None
    metrics_token: SecretStr | None = None  # set: /metrics needs `Authorization: Bearer <it>`
    cors_origins: str = ""  # comma-separated origins allowed by CORS; empty: no CORS headers
    # Per client address, e.g. 600/minute; unset: no limit. /health and /metrics are exempt.
    api_rate_limit: Annotated[RateLimit | None, NoDecode] = None
    # Peers whose X-Forwarded-For is believed (the client address is then taken from it).
    trusted_proxies: Annotated[list[IpNetwork], NoDecode] = Field(default_factory=list)
    # Server-side statement_timeout of the read pool's connections (/data, /assets); 0: none.
    api_statement_timeout_ms: int = Field(default=5000, ge=0, le=3_600_000)
    api_source_key: SecretStr | None = None
    # /export/history and `kasparro export`: the largest export (rows, counted first: 413
    # past it), concurrent exports per client address (this process's count), rows per page
    # read and per Parquet row group, and each export statement's server-side timeout (0: none).
    export_max_rows: int = Field(default=10_000_000, ge=1)
    export_max_concurrent: int = Field(default=2, ge=1, le=1000)
    export_chunk_rows: int = Field(default=20_000, ge=100, le=500_000)
    export_statement_timeout_ms: int = Field(default=30_000, ge=0, le=3_600_000)
    # GET /stream: how long events stay replayable for `Last-Event-ID` (older ones are pruned),
    # the heartbeat comment's period, events held per client before a slow one is dropped,
    # and clients per process (503 past it).
    stream_replay_seconds: int = Field(default=300, ge=1, le=86_400)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=3600)
    stream_client_queue: int = Field(default=1000, ge=1, le=1_000_000)
    stream_max_clients: int = Field(default=1000, ge=1, le=100_000)

    coinpaprika_base_url: HttpUrlText = "https://api.coinpaprika.com/v1"
    coinpaprika_rpm: int = Field(default=10, ge=1, le=10_000)
    coingecko_base_url: HttpUrlText | None = None  # default depends on COINGECKO_API_PLAN
    coingecko_api_key: SecretStr | None = None
    coingecko_api_plan: Literal["demo", "pro"] = "demo"
    coingecko_max_pages: int = Field(default=4, ge=1, le=100)
    coingecko_rpm: int = Field(default=30, ge=1, le=10_000)
    # Backfill: how far back the CoinGecko plan serves history, and CoinPaprika's plan (which
    # fixes its daily, hourly and 5-minute depths); monthly call budgets, unset: unlimited.
    coingecko_history_days: int = Field(default=365, ge=1, le=36_500)
    coinpaprika_plan: Literal["free", "starter", "pro", "business", "ultimate", "enterprise"] = (
        "free"
    )
    coingecko_monthly_calls: int | None = Field(default=None, ge=1)
    coinpaprika_monthly_calls: int | None = Field(default=None, ge=1)
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_total_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    http_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1 << 34)
    http_max_attempts: int = Field(default=5, ge=1, le=20)
    http_retry_after_max_seconds: float = Field(default=120.0, ge=0, le=3600)

    asset_overrides_path: Path = Path("data/asset_overrides.csv")
    divergence_threshold_pct: Decimal = Field(default=Decimal(2), ge=0, le=1_000_000)
    stale_after_seconds: int = Field(default=3600, ge=1)
    # The token contracts (coin catalogs) are fetched again at most this often.
    catalog_refresh_seconds: int = Field(default=86400, ge=0, le=366 * 86400)

    # Unset: keep forever. Set: whole months older than this many days go (see `kasparro db prune`).
    history_retention_days: int | None = Field(default=None, ge=1, le=36_500)
    raw_retention_days: int | None = Field(default=None, ge=1, le=36_500)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] | None = None  # unset: console on a terminal, else JSON
    etl_faults: str = ""  # failure injection for rehearsals; see kasparro.pipeline.faults

    @field_validator("etl_faults")
    @classmethod
    def _check_faults(cls, value: str) -> str:
        from kasparro.pipeline.faults import parse_faults  # the grammar lives with the hooks

        parse_faults(value)
        return value.strip()

    @field_validator("database_url", "database_read_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: object) -> object:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return SecretStr(to_asyncpg_url(raw))

    @field_validator("etl_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            unknown = [name for name in value if name not in _known_sources()]
            if unknown:
                known = ", ".join(_known_sources())
                raise ValueError(f"expected a comma list of {known}; unknown: {', '.join(unknown)}")
        return value

    @field_validator("api_rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: object) -> object:
        if value is None or isinstance(value, RateLimit):
            return value
        return parse_rate_limit(str(value))

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        return parse_networks(value) if isinstance(value, str) else value

    @field_validator("coinpaprika_plan", mode="before")
    @classmethod
    def _lower_plan(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        if value == "":
            return None
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "scheduler_token", "metrics_token", "api_source_key", "coingecko_api_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("history_retention_days", "raw_retention_days", mode="before")
    @classmethod
    def _empty_days_is_forever(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "coingecko_base_url", "coingecko_monthly_calls", "coinpaprika_monthly_calls", mode="before"
    )
    @classmethod
    def _empty_url_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def coingecko_url(self) -> str:
        """The configured base URL, else the public one of the chosen plan."""
        if self.coingecko_base_url:
            return self.coingecko_base_url
        if self.coingecko_api_plan == "pro":
            return "https://pro-api.coingecko.com/api/v3"
        return "https://api.coingecko.com/api/v3"

    @cached_property
    def pgdata_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its data."""
        return (self.kasparro_data_dir / "pgdata").resolve()


def describe_settings_error(error: ValidationError) -> str:
    """One line per invalid variable, naming it and what it expected."""
    lines = []
    for item in error.errors():
        variable = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        message = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        shown = "" if variable.endswith(("URL", "TOKEN", "KEY")) else f" (got {got!r})"
        lines.append(f"Invalid setting {variable}: {message}{shown}")
    return "\n".join(lines)
