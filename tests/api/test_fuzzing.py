"""schemathesis against the app's own OpenAPI document: no 5xx, every response as documented.

Deterministic (derandomized) and bounded: a fixed number of examples per operation.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.domain.normalize import InvalidValueError, parse_timestamp
from tests.conftest import SAMPLE_CSV

EXAMPLES_PER_OPERATION = 40
# An answer that never ends (Server-Sent Events): fuzzed by tests/api/test_stream_params.py's
# bad-parameter checks instead, against a real server.
ENDLESS = {"/stream"}


@pytest.fixture
def app_schema(db: AsyncEngine, database_url: str) -> Any:
    settings_ = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        csv_path=SAMPLE_CSV,
        etl_sources="csv",
        etl_interval_seconds=0,
        scheduler_token="fuzz-secret-token",
    )
    app = create_app(settings_, database_url=database_url)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _instant(value: object) -> datetime | None:
    try:
        return parse_timestamp(str(value), "value") if value is not None else None
    except InvalidValueError:
        return None


def _rejected_by_a_rule_openapi_cannot_state(case: Any) -> bool:
    """Schema-valid, yet a documented 422: a start after its end (`start_date`/`end_date`,
    `start`/`end`), a `cursor` that no response handed out (cursors are opaque), a
    `/assets/resolve` without a whole pair of parameters (either pair will do), or history's
    `fill=previous` on raw observations (it fills buckets only)."""
    query = case.query or {}
    if query.get("fill") == "previous" and query.get("interval", "raw") == "raw":
        return True
    if case.operation.path == "/assets/resolve":
        pairs = (("source", "source_coin_id"), ("platform", "contract"))
        if not any(all(query.get(k) is not None for k in pair) for pair in pairs):
            return True
    for first, last in (("start_date", "end_date"), ("start", "end")):
        start, end = _instant(query.get(first)), _instant(query.get(last))
        if start is not None and end is not None and start > end:
            return True
    return "cursor" in query


def test_api_conforms_to_its_openapi_document(app_schema: Any) -> None:
    operations = [result.ok() for result in app_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/", "/health", "/data", "/stats", "/trigger-etl"}
    statuses: Counter[tuple[str, int]] = Counter()
    for operation in operations:
        if operation.path in ENDLESS:
            continue
        _fuzz(operation, GenerationMode.POSITIVE, statuses)
        if operation.definition.raw.get("parameters"):  # invalid input needs inputs to spoil
            _fuzz(operation, GenerationMode.NEGATIVE, statuses)
    # The run did exercise the app: real answers, rejections included.
    assert statuses[("/data", 200)] and statuses[("/data", 422)], statuses
    assert statuses[("/trigger-etl", 401)], statuses


def _fuzz(operation: Any, mode: GenerationMode, statuses: Counter[tuple[str, int]]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        # Only the check that a schema-valid request is accepted is left out, and only for the
        # rules above (documented 422s); all other checks run.
        excluded = (
            [positive_data_acceptance] if _rejected_by_a_rule_openapi_cannot_state(case) else []
        )
        response = case.call_and_validate(excluded_checks=excluded)
        statuses[operation.path, response.status_code] += 1

    check()
