"""Log lines are JSON, each carrying its request's `request_id` or its run's `run_id`/`source`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.devtools import RunningFake
from kasparro.observability.logging import choose_format, configure_logging
from kasparro.pipeline.runner import EtlRunner
from tests.helpers import paprika_job


@pytest.fixture
def json_logs() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every stderr line, which must each be a JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_every_line_of_a_request_carries_its_request_id(
    json_logs: None,
    db: AsyncEngine,
    database_url: str,
    make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app(make_settings(), database_url=database_url)

    async def probe() -> dict[str, str]:  # a route that logs through stdlib and structlog
        logging.getLogger("kasparro.probe").warning("stdlib line")
        structlog.get_logger("kasparro.probe").info("structlog line", answer=42)
        return {}

    app.add_api_route("/probe", probe)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        capsys.readouterr()
        response = await client.get("/probe", headers={"X-Request-ID": "probe-1"})
        # the test client's own httpx line is no line of the request
        lines = [x for x in json_lines(capsys.readouterr().err) if x["logger"] != "httpx"]
    assert response.headers["X-Request-ID"] == "probe-1"
    assert [line["event"] for line in lines] == ["stdlib line", "structlog line", "GET /probe 200"]
    assert all(line["request_id"] == "probe-1" for line in lines)
    assert lines[0]["level"] == "warning" and lines[0]["logger"] == "kasparro.probe"
    assert lines[1]["answer"] == 42
    access = lines[2]
    assert (access["route"], access["status"], access["method"]) == ("/probe", 200, "GET")
    assert access["timestamp"].endswith("Z")


async def test_every_line_of_a_run_carries_its_run_id_and_source(
    json_logs: None,
    db: AsyncEngine,
    fake_server: RunningFake,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with httpx.AsyncClient() as http:
        job = paprika_job(db, http, fake_server.coinpaprika_base_url)
        fake_server.fake.fail(times=1, source="coinpaprika")
        capsys.readouterr()
        (outcome,) = await EtlRunner(db, {"coinpaprika": job}).run()
    lines = [
        line
        for line in json_lines(capsys.readouterr().err)
        if line["logger"].startswith(("kasparro", "httpx"))  # not the fake server's thread
    ]
    events = [line["event"] for line in lines]
    assert "ETL run started" in events and "ETL run completed successfully" in events
    assert any("attempt 1/3 failed" in e for e in events)  # logged by the shared HTTP client
    assert all(
        (line["run_id"], line["source"]) == (outcome.run_id, "coinpaprika") for line in lines
    ), lines


@pytest.mark.parametrize(
    ("configured", "tty", "expected"),
    [(None, True, "console"), (None, False, "json"), ("json", True, "json"),
     ("console", False, "console")],
)  # fmt: skip
def test_format_is_json_off_a_terminal_unless_configured(
    configured: Any, tty: bool, expected: str
) -> None:
    class Stream:
        def isatty(self) -> bool:
            return tty

    assert choose_format(configured, Stream()) == expected  # type: ignore[arg-type]


def test_log_format_setting(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().log_format is None
    assert make_settings(log_format="JSON").log_format == "json"
    with pytest.raises(ValueError, match="log_format"):
        make_settings(log_format="xml")


async def test_httpx_own_lines_never_show_credentials_of_the_base_url(
    json_logs: None, fake_server: RunningFake, capsys: pytest.CaptureFixture[str]
) -> None:
    base = httpx.URL(fake_server.coinpaprika_base_url)
    with_credentials = str(base.copy_with(username="alice", password="s3cr3t-pw"))
    async with httpx.AsyncClient() as http:
        capsys.readouterr()
        await http.get(f"{with_credentials}/tickers", params={"api_key": "k3y-value", "page": 2})
    lines = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "httpx"]
    assert lines and "HTTP Request: GET" in lines[0]["event"]
    text = str(lines)
    assert "s3cr3t-pw" not in text and "alice" not in text and "k3y-value" not in text
    assert "api_key=REDACTED&page=2" in text
