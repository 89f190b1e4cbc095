"""The source registry: every list of sources derives from it, so a fourth source registered
in one place shows up in the settings, the CLI, the query parameters, the faults and the jobs."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from kasparro.api.params import SourceName
from kasparro.cli.main import app
from kasparro.config import Settings
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import parse_faults
from kasparro.pipeline.jobs import build_jobs
from kasparro.pipeline.replay import ApiReplayJob, build_replay_jobs
from kasparro.sources import coinpaprika, registry
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.capabilities import SourceCapabilities
from kasparro.sources.http import UpstreamClient

NOBODY = "postgresql://kasparro:secret@127.0.0.1:1/nothing"


def _coincap_request(http: httpx.AsyncClient, settings: Settings) -> SourceRequest:
    client = UpstreamClient(http, source="coincap", requests_per_minute=settings.coinpaprika_rpm)
    return SourceRequest(client=client, base_url="https://api.coincap.example/v2")


# A hypothetical fourth source, declared the way a new module would declare it.
COINCAP = SourceCapabilities(
    name="coincap",
    kind="api",
    coins_have_names=True,
    rate_limit_setting="coinpaprika_rpm",
    spec=dataclasses.replace(coinpaprika.SPEC, name="coincap", path="/assets"),
    request=_coincap_request,
)


@pytest.fixture
def with_coincap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "SOURCES", (*registry.SOURCES, COINCAP))


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_three_sources_and_their_kinds() -> None:
    assert registry.known_sources() == ("csv", "coinpaprika", "coingecko")
    assert registry.api_source_names() == ("coinpaprika", "coingecko")
    assert registry.ticker_only_sources() == ("csv",)
    assert settings().etl_sources == ["csv", "coinpaprika", "coingecko"]


def test_every_setting_a_source_names_is_a_real_setting() -> None:
    fields = set(Settings.model_fields) | {"coingecko_url"}
    for source in registry.SOURCES:
        named = [source.rate_limit_setting, source.base_url_setting, *source.budget_settings,
                 source.monthly_calls_setting, source.history_depth_setting]  # fmt: skip
        assert {n for n in named if n is not None} <= fields, source.name


def test_a_bad_source_parameter_is_the_literal_422_naming_the_sources() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(SourceName).validate_python("nope")

    (error,) = caught.value.errors()
    assert error["type"] == "literal_error"
    assert error["msg"] == "Input should be 'csv', 'coinpaprika' or 'coingecko'"


def test_the_openapi_schema_lists_the_sources_as_an_enum() -> None:
    schema = TypeAdapter(SourceName).json_schema()
    assert schema["enum"] == ["csv", "coinpaprika", "coingecko"]


@pytest.mark.usefixtures("with_coincap")
def test_a_registered_fourth_source_is_a_known_source_everywhere() -> None:
    assert settings(etl_sources="coincap").etl_sources == ["coincap"]
    assert TypeAdapter(SourceName).validate_python("coincap") == "coincap"
    with pytest.raises(ValidationError, match="'coingecko' or 'coincap'"):
        TypeAdapter(SourceName).validate_python("nope")
    assert parse_faults("coincap:page=1:http=503").http == {("coincap", 1): 503}
    assert registry.named_coin_sources() == ("coinpaprika", "coingecko", "coincap")


@pytest.mark.usefixtures("with_coincap")
async def test_a_registered_fourth_source_gets_its_jobs() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    async with httpx.AsyncClient() as http:
        jobs = build_jobs(engine, settings(), http)
    replays = build_replay_jobs(engine, AssetCatalog(settings().asset_overrides_path))
    await engine.dispose()

    assert list(jobs) == ["csv", "coinpaprika", "coingecko", "coincap"]
    assert isinstance(jobs["csv"], CsvJob) and isinstance(jobs["coincap"], ApiJob)
    assert jobs["coincap"].request.base_url == "https://api.coincap.example/v2"
    assert isinstance(replays["coincap"], ApiReplayJob)


def test_the_cli_refuses_an_unregistered_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", NOBODY)
    result = CliRunner().invoke(app, ["etl", "run", "--source", "coincap"])

    assert result.exit_code == 2
    assert "Unknown source: coincap (known: csv, coinpaprika, coingecko)" in result.output


@pytest.mark.usefixtures("with_coincap")
def test_the_cli_accepts_a_registered_fourth_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", NOBODY)
    result = CliRunner().invoke(app, ["etl", "run", "--source", "coincap"])

    # past the source check, it stops at the unreachable database instead
    assert "Unknown source" not in result.output
    assert result.exit_code != 0
