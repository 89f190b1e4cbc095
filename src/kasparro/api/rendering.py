"""JSON rendering that keeps decimals exact: a `Decimal` becomes a JSON number, every digit kept."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from kasparro.domain.exact_json import api_json


def dumps(content: Any) -> bytes:
    return api_json(content)  # the stream's events are rendered by the same function


class ExactJSONResponse(JSONResponse):
    """orjson output; `45000.50000000` stays as it is, never `45000.5` or a float artefact."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
