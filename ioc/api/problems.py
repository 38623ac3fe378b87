"""One shape for every error the HTTP API answers: RFC 9457 problem details.

    HTTP/1.1 413 Content Too Large
    Content-Type: application/problem+json

    {"type": "urn:ioc:problem:body-too-large", "title": "Content Too Large",
     "status": 413, "detail": "body over 33554432 bytes; split it", "limit": 33554432}

`type` names the kind of problem (a stable URN an integrator can switch on;
`about:blank` when the status says it all), `title` is the status's reason phrase,
`detail` says what happened and what to do, in words. Extra keys carry what a client
can use (`errors` of a 422, `retry_after` of a 503, `dead_lettered` of a 400).
Answers that describe records (200/207/422 of ingest) keep their own shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
URN = "urn:ioc:problem:"


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def title_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    detail: str,
    *,
    type: str = "about:blank",
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """An `application/problem+json` response. `type` is a URN suffix (`body-too-large`)
    or a full URI; extra keyword arguments become extra members."""
    if type != "about:blank" and ":" not in type:
        type = URN + type
    body = {"type": type, "title": title or title_of(status), "status": status, "detail": detail}
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}) or None)


class Problem(StarletteHTTPException):
    """Raise from a route or dependency to answer with a problem of a given `type`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status, detail, headers=dict(headers or {}) or None)
        self.type = type
        self.extra = extra


async def _http_exception(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else title_of(error.status_code)
    if isinstance(error, Problem):
        return problem(
            error.status_code, detail, type=error.type, headers=error.headers, **error.extra
        )
    return problem(error.status_code, detail, headers=error.headers)


async def _request_validation(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": ".".join(str(part) for part in item.get("loc", ())), "msg": str(item.get("msg"))}
        for item in error.errors()
    ]
    return problem(
        422,
        "the request's parameters are not valid: " + "; ".join(e["msg"] for e in errors[:5]),
        type="invalid-request",
        errors=errors,
    )


async def _unexpected(request: Request, error: Exception) -> ProblemResponse:
    # Starlette's ServerErrorMiddleware still re-raises, so the traceback is logged once
    # by the server; the client gets the same shape as every other error, and no trace.
    return problem(500, "an unexpected error occurred; it has been logged", type="internal")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every HTTP error of `app` (its own, FastAPI's and Starlette's) as a problem."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(Exception, _unexpected)
