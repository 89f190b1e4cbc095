"""The fake upstream's ASGI app: the two upstream endpoints and the `/_fake/*` control endpoints.

A plain Starlette app, not the project's FastAPI one: it must look like the upstreams (their paths,
their bodies, no OpenAPI of ours) and stays out of the API's import graph.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from kasparro.devtools.exactjson import dumps
from kasparro.devtools.faults import Source
from kasparro.devtools.upstream import FakeConfig, UpstreamRequest

if TYPE_CHECKING:
    from kasparro.devtools.upstream import FakeUpstream

PAPRIKA_PREFIX = "/coinpaprika/v1"
GECKO_PREFIX = "/coingecko/api/v3"
# What `POST /_fake/faults` may call, by its `kind`.
CONTROL_KINDS = (
    "rate_limit",
    "fail",
    "slow",
    "malformed",
    "wrong_shape",
    "drip",
    "huge_body",
    "gzip_bomb",
    "short_page",
    "drift",
    "bad_entries",
    "bad_values",
)


def _json(content: Any, status: int = 200) -> Response:
    return Response(dumps(content), status, media_type="application/json")


def _upstream_endpoint(fake: FakeUpstream, source: Source) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        reply = fake.handle(
            UpstreamRequest(
                source=source,
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers=dict(request.headers),
            )
        )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drip:
            return StreamingResponse(_dripped(reply.body, reply.drip), reply.status, reply.headers)
        return Response(reply.body, reply.status, headers=reply.headers)

    return endpoint


async def _dripped(body: bytes, seconds: float) -> AsyncIterator[bytes]:
    """The body one byte at a time: every read sees progress, the whole never arrives soon."""
    for index in range(len(body)):
        yield body[index : index + 1]
        await asyncio.sleep(seconds)


async def _json_body(request: Request) -> Any:
    """A control request's JSON body, None when empty; ValueError (so a 400) when not JSON."""
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


def _apply_fault(fake: FakeUpstream, spec: Any) -> None:
    """Call the fault method named by `spec["kind"]` with the rest of `spec` as its arguments."""
    if not isinstance(spec, dict) or spec.get("kind") not in CONTROL_KINDS:
        raise ValueError(f"each fault needs a kind out of {CONTROL_KINDS}")
    arguments = {key: value for key, value in spec.items() if key != "kind"}
    method = getattr(fake, spec["kind"])
    try:
        inspect.signature(method).bind(**arguments)
    except TypeError as error:
        raise ValueError(f"{spec['kind']}: {error}") from None
    method(**arguments)


def _config(initial: FakeConfig, body: Any) -> FakeConfig:
    """The initial config with the fields a reset body names replaced."""
    if body is None:
        return initial
    if not isinstance(body, dict):
        raise ValueError("the body must be an object of FakeConfig fields")
    try:
        return dataclasses.replace(initial, **body)
    except TypeError as error:  # a key that is not a FakeConfig field
        raise ValueError(str(error)) from None


def create_app(fake: FakeUpstream) -> Starlette:
    """Routes of both fake upstreams and of the control API, all bound to `fake`."""

    async def add_faults(request: Request) -> Response:
        """Add one fault (a JSON object with `kind`) or several (a list of them), in order."""
        try:
            body = await _json_body(request)
            for spec in body if isinstance(body, list) else [body]:
                _apply_fault(fake, spec)
        except ValueError as error:
            return _json({"error": str(error)}, 400)
        return _json({"pending": fake.pending_faults()})

    async def reset(request: Request) -> Response:
        """Clear faults, distortions and the log; `{"paprika_count": 2500}` also resizes."""
        try:
            fake.reset(_config(fake.initial_config, await _json_body(request)))
        except ValueError as error:
            return _json({"error": str(error)}, 400)
        return _json({"config": dataclasses.asdict(fake.config)})

    async def advance(request: Request) -> Response:
        """Move the data on by `{"seconds": N}`."""
        try:
            body = await _json_body(request)
            if not isinstance(body, dict) or "seconds" not in body:
                raise ValueError('the body must be {"seconds": N}')
            fake.advance(body["seconds"])
        except ValueError as error:
            return _json({"error": str(error)}, 400)
        return _json({"advanced": body["seconds"]})

    async def requests_log(request: Request) -> Response:
        """Every upstream request so far, oldest first."""
        return _json([record.to_json() for record in fake.requests])

    async def faults(request: Request) -> Response:
        """One-shot faults not used up yet."""
        return _json(fake.pending_faults())

    return Starlette(
        routes=[
            Route(f"{PAPRIKA_PREFIX}/tickers", _upstream_endpoint(fake, "coinpaprika")),
            Route(f"{GECKO_PREFIX}/coins/markets", _upstream_endpoint(fake, "coingecko")),
            Route(
                f"{PAPRIKA_PREFIX}/tickers/{{coin_id}}/historical",
                _upstream_endpoint(fake, "coinpaprika"),
            ),
            Route(
                f"{GECKO_PREFIX}/coins/{{coin_id}}/market_chart/range",
                _upstream_endpoint(fake, "coingecko"),
            ),
            Route("/_fake/faults", add_faults, methods=["POST"]),
            Route("/_fake/faults", faults, methods=["GET"]),
            Route("/_fake/reset", reset, methods=["POST"]),
            Route("/_fake/advance", advance, methods=["POST"]),
            Route("/_fake/requests", requests_log, methods=["GET"]),
        ]
    )
