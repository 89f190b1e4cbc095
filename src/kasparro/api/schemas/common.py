"""Shared response pieces and the exact-decimal number type as OpenAPI shows it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, WithJsonSchema

# Rendered as a JSON number with every digit kept (see api/rendering.py).
ExactNumber = Annotated[Decimal, WithJsonSchema({"type": "number"})]


class ErrorResponse(BaseModel):
    detail: str = Field(examples=["Invalid scheduler token"])


class Meta(BaseModel):
    request_id: str = Field(examples=["req-3f2c9a1b7d4e4f0a8b6c5d2e1f0a9b8c"])
    api_latency_ms: float = Field(examples=[4.21])
