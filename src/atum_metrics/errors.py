"""Errors: every failure a client can cause answers ``{"error": code, "detail": sentence}``."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

logger = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "too_many_streams",
    503: "unavailable",
}


class ApiError(Exception):
    """An answer to a request we refuse, raised anywhere below a route."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def json_error(status: int, code: str, detail: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = orjson.dumps({"error": code, "detail": detail})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_error(exc.status, exc.code, exc.detail)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = {
        404: "No such route.",
        405: f"{request.method} is not allowed here.",
    }.get(exc.status_code, str(exc.detail))
    response = json_error(exc.status_code, _CODES.get(exc.status_code, "error"), detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return json_error(500, "internal", "The server failed; the error is logged.")


EXCEPTION_HANDLERS = {ApiError: api_error, HTTPException: http_error, Exception: server_error}
