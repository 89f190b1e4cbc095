"""The client's errors, one small tree (the server's `detail` kept on each HTTP error).

KasparroError             base of everything the client raises on purpose
├── ConnectionFailed      the server could not be reached (after the retries)
└── ApiError              the server answered with an error status; `status_code`, `detail`
    ├── BadRequest        422 (or 400): a bad parameter, the server's message as `detail`
    ├── NotFound          404: an unknown asset or run
    ├── TooLarge          413: an export over the server's EXPORT_MAX_ROWS
    ├── RateLimited       429 once the retries are spent
    └── Unavailable       503 once the retries are spent
"""

from __future__ import annotations


class KasparroError(Exception):
    """Base of every error the client raises on purpose."""


class ConnectionFailed(KasparroError):
    """The server could not be reached, or the connection broke, after every attempt."""


class ApiError(KasparroError):
    """The server answered `status_code`; `detail` is its one-line explanation."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class BadRequest(ApiError):
    pass


class NotFound(ApiError):
    pass


class TooLarge(ApiError):
    pass


class RateLimited(ApiError):
    pass


class Unavailable(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 404: NotFound, 413: TooLarge, 422: BadRequest, 429: RateLimited,
    503: Unavailable,
}  # fmt: skip


def error_for(status_code: int, detail: str) -> ApiError:
    """The exception for an error status, the server's detail kept."""
    return _BY_STATUS.get(status_code, ApiError)(status_code, detail)
