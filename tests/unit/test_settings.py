from pathlib import Path

import pytest
from pydantic import ValidationError

from kasparro.config import RateLimit, Settings, describe_settings_error, to_asyncpg_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db:5432/k",
        "postgres://u:p@db:5432/k",
        "postgresql+asyncpg://u:p@db:5432/k",
    ],
)
def test_accepted_database_urls_become_asyncpg(url: str) -> None:
    settings = Settings(_env_file=None, database_url=url, database_read_url=url)  # type: ignore[call-arg]
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql+asyncpg://u:p@db:5432/k"
    assert settings.database_read_url is not None
    assert settings.database_read_url.get_secret_value() == "postgresql+asyncpg://u:p@db:5432/k"


def test_database_read_url_is_optional_and_checked() -> None:
    assert Settings(_env_file=None).database_read_url is None  # type: ignore[call-arg]
    assert Settings(_env_file=None, database_read_url="").database_read_url is None  # type: ignore[call-arg]
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, database_read_url="mysql://root:hunter2@db/x")  # type: ignore[call-arg]
    message = describe_settings_error(caught.value)
    assert (
        "Invalid setting DATABASE_READ_URL: expected a URL starting with postgresql://" in message
    )
    assert "hunter2" not in message


def test_invalid_values_name_the_variable_and_hide_secrets() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url="mysql://root:hunter2@db/x",
            etl_interval_seconds="soon",
            etl_sources="csv,bloomberg",
        )
    message = describe_settings_error(caught.value)
    assert "Invalid setting DATABASE_URL: expected a URL starting with postgresql://" in message
    assert "Invalid setting ETL_INTERVAL_SECONDS" in message
    assert (
        "Invalid setting ETL_SOURCES: expected a comma list of csv, coinpaprika, coingecko"
        in message
    )
    assert "bloomberg" in message
    assert "hunter2" not in message


def test_env_file_is_read_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=secret\nETL_SOURCES=csv, coingecko\nETL_INTERVAL_SECONDS=0\n")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.etl_sources == ["csv", "coingecko"]
    assert settings.etl_interval_seconds == 0


def test_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.etl_sources == ["csv", "coinpaprika", "coingecko"]
    assert settings.etl_interval_seconds == 300
    assert settings.csv_path == Path("data/sample.csv")
    assert settings.kasparro_data_dir == Path(".kasparro")


def test_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="postgresql"):
        to_asyncpg_url("sqlite:///x.db")


def test_api_limits_parse() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, api_rate_limit=" 600 / Minute ", trusted_proxies="10.0.0.0/8, ::1,"
    )
    assert settings.api_rate_limit == RateLimit(600, 60)
    assert str(settings.api_rate_limit) == "600/minute"
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    defaults = Settings(_env_file=None, api_rate_limit="")  # type: ignore[call-arg]
    assert defaults.api_rate_limit is None and defaults.trusted_proxies == []
    assert defaults.api_statement_timeout_ms == 5000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("api_rate_limit", "600/min"),
        ("api_rate_limit", "0/second"),
        ("api_rate_limit", "ten/minute"),
        ("trusted_proxies", "10.0.0.0/8,proxy.internal"),
        ("api_statement_timeout_ms", "-1"),
    ],
)
def test_invalid_api_limits_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **{variable: value})  # type: ignore[call-arg]
    message = describe_settings_error(caught.value)
    assert message.startswith(f"Invalid setting {variable.upper()}:") and "\n" not in message
