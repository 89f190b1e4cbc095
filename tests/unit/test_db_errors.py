"""Run messages from database failures: a sentence a person reads, the shutdown codes included."""

from __future__ import annotations

import asyncpg.exceptions
from sqlalchemy.exc import DBAPIError

from kasparro.db.errors import describe_failure, is_database_down


class _DriverError(Exception):
    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str, text: str) -> DBAPIError:
    return DBAPIError("INSERT INTO etl_runs ...", None, _DriverError(sqlstate, text))


def test_shutting_down_and_recovery_mode_are_the_database_down() -> None:
    for code, text in (
        ("57P01", "terminating connection due to administrator command"),
        ("57P03", "the database system is shutting down"),
        ("57P03", "the database system is in recovery mode"),
    ):
        exc = _wrapped(code, text)
        assert is_database_down(exc), code
        assert describe_failure(exc) == "database connection lost during the run"


def test_a_connect_cut_off_by_a_server_going_down_is_the_database_down() -> None:
    # what SQLAlchemy raises when a connection attempt meets a server in an immediate stop
    driver_error = Exception("connection was closed in the middle of operation")
    driver_error.__cause__ = asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    )
    exc = DBAPIError(None, None, driver_error)
    assert is_database_down(exc)
    assert describe_failure(exc) == "database connection lost during the run"


def test_a_failing_statement_is_one_line_without_the_sql() -> None:
    exc = _wrapped("22003", "numeric field overflow\nDETAIL: A field with precision 38 ...")
    assert not is_database_down(exc)
    message = describe_failure(exc)
    assert message == "a database statement failed during the run: numeric field overflow"
    assert "INSERT" not in message and "sqlalche.me" not in message
