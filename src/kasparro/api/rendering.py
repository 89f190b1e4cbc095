"""JSON rendering that keeps decimals exact: a `Decimal` becomes a JSON number, every digit kept."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from kasparro.domain.exact_json import exact_default


def dumps(content: Any) -> bytes:
    return orjson.dumps(
        content, default=exact_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
    )


class ExactJSONResponse(JSONResponse):
    """orjson output; `45000.50000000` stays as it is, never `45000.5` or a float artefact."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
