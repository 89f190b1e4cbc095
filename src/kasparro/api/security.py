"""Security defaults: response headers, optional CORS, the docs assets, a weak-token warning."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kasparro.config import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MIN_SCHEDULER_TOKEN = 16
# JSON answers load nothing and may not be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The docs pages run only the package's own files; Swagger UI and ReDoc set inline styles and
# ReDoc searches in a blob: worker, so those two are allowed, inline scripts are not.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The dashboard runs only its own files: no inline script and no inline style either
# (lightweight-charts styles its nodes through the CSSOM, which style-src does not govern).
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
_DOCS_PATHS = ("/docs", "/redoc", "/static/")
_DASHBOARD_PATH = "/dashboard"


def _static_headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode()),
    ]


_API_HEADERS, _DOCS_HEADERS = _static_headers(API_CSP), _static_headers(DOCS_CSP)
# no-cache: the browser revalidates (a cheap 304 by ETag), so an upgrade never mixes old and new
# modules of the page.
_DASHBOARD_HEADERS = [
    *_static_headers(DASHBOARD_CSP),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-cache"),
]


def _headers_for(path: str) -> list[tuple[bytes, bytes]]:
    if path == _DASHBOARD_PATH or path.startswith(_DASHBOARD_PATH + "/"):
        return _DASHBOARD_HEADERS
    return _DOCS_HEADERS if path.startswith(_DOCS_PATHS) else _API_HEADERS


class SecurityHeaders:
    """Plain ASGI (as RequestContext): adds fixed headers to every HTTP response (the dashboard
    also gets `X-Frame-Options: DENY`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                target = MutableHeaders(scope=message)
                for name, value in headers:
                    target.setdefault(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_origins(settings: Settings) -> list[str]:
    return [o.strip() for o in (settings.cors_origins or "").split(",") if o.strip()]


def install_security(app: FastAPI, settings: Settings) -> None:
    """Headers on every response, CORS only for the configured origins, the docs' assets."""
    if origins := cors_origins(settings):
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-Scheduler-Token", "X-Request-ID"],
                           expose_headers=["X-Request-ID"])  # fmt: skip
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def warn_weak_settings(settings: Settings) -> None:
    """A short SCHEDULER_TOKEN can be guessed; say so at start-up without refusing to start."""
    token = settings.scheduler_token
    if token is not None and len(token.get_secret_value()) < MIN_SCHEDULER_TOKEN:
        logger.warning(
            "SCHEDULER_TOKEN is shorter than %d characters: use a long random token "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
            MIN_SCHEDULER_TOKEN,
        )
