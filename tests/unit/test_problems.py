"""Every error answer of the API has one shape: RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from ioc.api.problems import Problem, install_problem_handlers, problem


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/typed")
    async def typed(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/http")
    async def http() -> None:
        raise HTTPException(401, "no", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/problem")
    async def raise_problem() -> None:
        raise Problem(409, "taken", type="conflict", headers={"X-A": "1"}, holder="x")

    @app.get("/returned")
    async def returned() -> Any:
        return problem(503, "later", type="broker-unavailable", headers={"Retry-After": "5"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body  # type: ignore[no-any-return]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_query_validation_error_is_a_problem_with_the_errors(
    client: httpx.AsyncClient,
) -> None:
    body = _problem(await client.get("/typed?n=abc"), 422)
    assert body["type"] == "urn:ioc:problem:invalid-request"
    assert body["errors"][0]["loc"] == "query.n"


async def test_not_found_and_method_not_allowed_are_problems(client: httpx.AsyncClient) -> None:
    assert _problem(await client.get("/nowhere"), 404) == {
        "type": "about:blank", "title": "Not Found", "status": 404, "detail": "Not Found",
    }  # fmt: skip
    _problem(await client.post("/typed"), 405)


async def test_http_exceptions_keep_their_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/http")
    assert _problem(response, 401)["detail"] == "no"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_raised_problem_carries_its_type_and_extra_members(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/problem")
    body = _problem(response, 409)
    assert body["type"] == "urn:ioc:problem:conflict" and body["holder"] == "x"
    assert body["title"] == "Conflict" and response.headers["X-A"] == "1"


async def test_a_returned_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/returned")
    assert _problem(response, 503)["type"] == "urn:ioc:problem:broker-unavailable"
    assert response.headers["Retry-After"] == "5"


async def test_an_unexpected_error_is_a_problem_without_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/boom")
    body = _problem(response, 500)
    assert "secret" not in response.text and body["type"] == "urn:ioc:problem:internal"
