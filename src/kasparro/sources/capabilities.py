"""What a source is and can do, declared once in its own module (freqtrade's `_ft_has`).

Every list of sources elsewhere (settings, CLI choices, query parameters, job wiring,
faults, the asset catalog) is derived from `kasparro.sources.registry`, never typed again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kasparro.domain.backfill import SourcePlan
from kasparro.sources.api_source import ApiSourceSpec, Pagination, SourceRequest
from kasparro.sources.history import HistorySpec
from kasparro.sources.http import RetryPolicy

if TYPE_CHECKING:
    import httpx

    from kasparro.config import Settings

SourceKind = Literal["api", "file"]
HistoryPlanBuilder = Callable[["Settings"], SourcePlan]
"""How far back the configured plan of a source with history reaches, from the settings."""
RequestBuilder = Callable[["httpx.AsyncClient", "Settings"], SourceRequest]
"""Builds an API source's upstream client (headers, rate limit, base URL) from the settings."""


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """One source's record: its name and kind, and the settings and endpoints it uses."""

    name: str
    kind: SourceKind
    # Whether a coin id names one coin (with a name); a ticker-only source's rows say
    # only which ticker they quote, so the catalog joins them to a named coin later.
    coins_have_names: bool
    pagination: Pagination | None = None
    # Endpoints serving past quotes, for the backfill; `history` says how to ask and read them,
    # `history_depth_setting` names the setting that fixes how far back the plan reaches.
    history_endpoints: tuple[str, ...] = ()
    history: HistorySpec | None = None
    history_plan: HistoryPlanBuilder | None = None
    history_depth_setting: str | None = None
    # Names of the Settings fields this source reads for its rate limit and request budget.
    rate_limit_setting: str | None = None
    budget_settings: tuple[str, ...] = ()
    # The Settings field holding the monthly call budget every process shares (None: unlimited).
    monthly_calls_setting: str | None = None
    # The Settings field holding the base URL (an API source's requests are routed by it).
    base_url_setting: str | None = None
    spec: ApiSourceSpec | None = None  # an API source's paths and field mapping
    request: RequestBuilder | None = None  # an API source's client, built from the settings

    def api(self) -> tuple[ApiSourceSpec, RequestBuilder]:
        """The spec and request builder of an API source (a ValueError for a file source)."""
        if self.kind != "api" or self.spec is None or self.request is None:
            raise ValueError(f"{self.name} is not an API source with a spec and a request")
        return self.spec, self.request


def retry_policy(settings: Settings) -> RetryPolicy:
    """The HTTP_* retry settings every API source shares."""
    return RetryPolicy(
        max_attempts=settings.http_max_attempts,
        timeout=settings.http_timeout_seconds,
        total_timeout=settings.http_total_timeout_seconds,
        max_body_bytes=settings.http_max_body_bytes,
        retry_after_max=settings.http_retry_after_max_seconds,
    )
