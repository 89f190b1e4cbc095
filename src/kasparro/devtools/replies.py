"""What the fake sends back: a small transport-neutral reply, and the upstreams' error bodies."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from http import HTTPStatus

from kasparro.devtools import recordings
from kasparro.devtools.exactjson import JsonObject, dumps
from kasparro.devtools.faults import Fault, Source

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    """Status, body and headers to send, after waiting `delay` seconds."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": JSON_CONTENT_TYPE})
    delay: float = 0.0
    drip: float = 0.0  # > 0: the body is sent one byte at a time, this many seconds apart


class BadRequestError(ValueError):
    """A request the real upstream would refuse with 400 (or one this fake does not serve)."""


class NotFoundError(ValueError):
    """A path naming something the upstream does not have (404)."""


def error_body(source: Source, status: int, message: str) -> JsonObject:
    """An error body in the upstream's own shape (as in its recorded 429)."""
    if source == "coingecko":
        return {"status": {"error_code": status, "error_message": message}}
    return {"error": message}


def bad_request(error: BadRequestError) -> Reply:
    # Both upstreams answer a bad query parameter with a flat {"error": ...} object.
    return Reply(HTTPStatus.BAD_REQUEST, dumps({"error": str(error)}))


def fault_reply(fault: Fault, source: Source) -> Reply | None:
    """The reply a fault replaces the data with; None when the fault only alters the data reply."""
    if fault.kind == "rate_limit":
        headers = {"content-type": JSON_CONTENT_TYPE, "retry-after": str(fault.retry_after)}
        body = recordings.error_body(f"{source}_429")
        return Reply(HTTPStatus.TOO_MANY_REQUESTS, dumps(body), headers)
    if fault.kind == "fail":
        message = HTTPStatus(fault.status).phrase
        return Reply(fault.status, dumps(error_body(source, fault.status, message)))
    if fault.kind == "wrong_shape":
        # Valid JSON, wrong shape: an object where the client expects an array.
        return Reply(HTTPStatus.OK, dumps({"error": "wrong_shape fault: an object, not a list"}))
    return None


def padded_reply(body: bytes, fault: Fault) -> Reply:
    """The data followed by `fault.size` spaces; gzip-compressed for a `gzip_bomb`."""
    if fault.kind != "gzip_bomb":
        return Reply(HTTPStatus.OK, body + b" " * fault.size)
    # Compressed piecewise so a bomb of hundreds of MB never exists uncompressed here.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    parts = [packer.compress(body)]
    chunk = b" " * min(fault.size, 1 << 20)
    left = fault.size
    while left > 0:
        parts.append(packer.compress(chunk[:left]))
        left -= len(chunk)
    parts.append(packer.flush())
    headers = {"content-type": JSON_CONTENT_TYPE, "content-encoding": "gzip"}
    return Reply(HTTPStatus.OK, b"".join(parts), headers)
