"""The one shape of every API error, as a model so the OpenAPI document and /api/docs show it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ApiError(BaseModel):
    error: str  # what went wrong, in one sentence
    status: int  # the HTTP status, repeated for clients that only keep the body
    hint: str | None  # what to do about it


# For a router's `responses=`: what a bad query parameter or an unknown name answers.
BAD_INPUT: dict[int | str, dict[str, Any]] = {
    422: {"model": ApiError, "description": "A parameter is missing, malformed or out of bounds"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ApiError, "description": "No such check"}}
