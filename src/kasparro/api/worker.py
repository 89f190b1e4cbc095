"""The app of one worker process of `kasparro serve --workers N` (a uvicorn factory)."""

from __future__ import annotations

from fastapi import FastAPI

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.observability.logging import configure_logging


def create_worker_app() -> FastAPI:
    """Settings from the environment the parent prepared (it checked them already)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, run_scheduler=True)
