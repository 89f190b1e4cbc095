"""Query parameter types and checks shared by the routes: sources, instants, tickers,
cursors, and the 422s for rules a schema cannot state."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from kasparro.api.cursor import decode_cursor, encode_cursor, invalid_cursor
from kasparro.domain.limits import fit_amount
from kasparro.domain.normalize import InvalidValueError, parse_timestamp
from kasparro.services.queries import RankKey
from kasparro.sources import registry


def _known_source(value: str) -> str:
    """A registered source's name; otherwise the 422 a `Literal` of the names would give."""
    known = registry.known_sources()
    if value in known:
        return value
    quoted = [repr(name) for name in known]
    expected = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


class _SourceEnumSchema:
    """OpenAPI lists the registered sources as the parameter's enum."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        value: dict[str, Any] = handler(schema)
        value["enum"] = list(registry.known_sources())
        return value


# A Literal cannot be built from the registry for mypy, so membership is checked instead.
SourceName = Annotated[str, AfterValidator(_known_source), _SourceEnumSchema()]
MAX_OFFSET = 1_000_000_000


def _instant(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return parse_timestamp(value, "value")
    except InvalidValueError:
        raise ValueError(
            "expected an ISO 8601 date or date-time, e.g. 2024-01-15T10:30:00Z"
        ) from None


def _end_of_day_if_date(value: object) -> object:
    """`end_date=2024-01-15` includes that whole day."""
    parsed = _instant(value)
    if isinstance(value, str) and len(value.strip()) == 10 and isinstance(parsed, datetime):
        return parsed + timedelta(days=1, microseconds=-1)
    return parsed


# Not blank, no control characters: said in the schema, so clients (and fuzzers) know it.
TICKER_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


def _ticker(value: str) -> str:
    return value.strip().upper()


Ticker = Annotated[
    str, StringConstraints(max_length=32, pattern=TICKER_PATTERN), AfterValidator(_ticker)
]
StartDate = Annotated[datetime, BeforeValidator(_instant)]
EndDate = Annotated[datetime, BeforeValidator(_end_of_day_if_date)]
CURSOR_DESCRIPTION = (
    "Keyset pagination: pass the previous page's `pagination.next_cursor` (instead of offset)."
)
Cursor = Annotated[str, StringConstraints(max_length=512, pattern=r"^[A-Za-z0-9_-]+$")]


def check_date_range(start: datetime | None, end: datetime | None, names: tuple[str, str]) -> None:
    if start is not None and end is not None and start > end:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", names[0]),
                    "msg": f"{names[0]} must not be after {names[1]}",
                    "input": str(start),
                }
            ]
        )


def check_cursor_or_offset(cursor: str | None, offset: int) -> None:
    if cursor is not None and offset:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "offset"),
                    "msg": "use either offset or cursor, not both",
                    "input": offset,
                }
            ]
        )


def rank_key(cursor: str) -> RankKey:
    cap, asset_id = decode_cursor(cursor, 2)
    if not isinstance(asset_id, str) or not (cap is None or isinstance(cap, str)):
        raise invalid_cursor(cursor)
    try:
        # a stored market cap passed fit_amount; anything else (1e999999999) cannot be bound
        market_cap = None if cap is None else fit_amount(Decimal(cap), "cursor")
    except (ArithmeticError, ValueError):
        raise invalid_cursor(cursor) from None
    return RankKey(market_cap, asset_id)


def rank_cursor(key: RankKey | None) -> str | None:
    """The cursor `rank_key` reads back; None when there is no next page."""
    return None if key is None else encode_cursor(key.market_cap_usd, key.asset_id)
