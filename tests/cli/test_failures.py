"""Expected failures of every command: one `Error: …` line, a documented exit status, no
traceback unless `--debug` or `LOG_LEVEL=DEBUG` asks for one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cli import kasparro

NOBODY = "postgresql://kasparro:secret@127.0.0.1:{port}/nothing"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [("db", "upgrade"), ("etl", "run"), ("etl", "replay"), ("assets", "show", "BTC"), ("serve",)],
)
def test_an_unreachable_database_is_one_line_and_exit_4(
    command: tuple[str, ...], closed_port: int, tmp_path: Path
) -> None:
    args = [*command, "--port", str(free_port())] if command == ("serve",) else list(command)
    result = kasparro(*args, cwd=tmp_path, DATABASE_URL=NOBODY.format(port=closed_port))
    assert result.returncode == 4, result.stderr
    assert "database" in one_error_line(result.stderr)


def test_debug_shows_the_traceback(closed_port: int, tmp_path: Path) -> None:
    url = NOBODY.format(port=closed_port)
    result = kasparro("--debug", "assets", "show", "BTC", cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode != 0 and "Traceback" in result.stderr
    by_level = kasparro("assets", "show", "BTC", cwd=tmp_path, DATABASE_URL=url, LOG_LEVEL="DEBUG")
    assert "Traceback" in by_level.stderr


def test_serve_on_a_port_in_use_is_one_line_and_exit_5(busy_port: int, tmp_path: Path) -> None:
    result = kasparro(
        "serve", "--port", str(busy_port), cwd=tmp_path, DATABASE_URL="postgresql://x@127.0.0.1:1/x"
    )
    assert result.returncode == 5, result.stderr
    assert f"cannot listen on 127.0.0.1:{busy_port}" in one_error_line(result.stderr)


def test_fake_upstream_on_a_port_in_use_is_one_line_and_exit_5(
    busy_port: int, tmp_path: Path
) -> None:
    result = kasparro("dev", "fake-upstream", "--port", str(busy_port), cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    one_error_line(result.stderr)


def test_an_unusable_data_dir_for_the_embedded_server_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = kasparro(
        "db", "upgrade", cwd=tmp_path, KASPARRO_DATA_DIR=str(blocker / "data"), DATABASE_URL=""
    )
    assert result.returncode == 5, result.stderr
    one_error_line(result.stderr)


def test_a_bad_csv_path_fails_the_run_without_a_traceback(
    database_url: str, tmp_path: Path
) -> None:
    result = kasparro(
        "etl", "run", "--source", "csv", cwd=tmp_path, DATABASE_URL=database_url,
        CSV_PATH=str(tmp_path / "missing.csv"),
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "Traceback" not in result.stderr and "CSV file not found" in result.stdout + result.stderr
    )
