"""What the entity listings (`/api/filings`, `/api/documents`, `/api/alerts`) share: the
clock, `limit` and `cursor`, the page's JSON, and parameter errors as problems.

A cursor is opaque to clients: URL-safe base64 of JSON `{"o": <order>, "k": <last sort
key>}`. The order is kept in it so that a cursor sent to a listing sorted differently is
refused with a reason instead of silently skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import asyncpg
from fastapi import Depends, Query

from ioc.api.problems import Problem
from ioc.db import queries
from ioc.db.queries import Filter, Page

LIMIT_DEFAULT = 50
LIMIT_MAX = 500


def utc_now() -> datetime:
    """The time the filters judge against; a dependency, so a test can pin it with
    `app.dependency_overrides[utc_now]`."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(utc_now)]
LimitQuery = Annotated[
    int, Query(description=f"rows per page, 1 to {LIMIT_MAX}", examples=[LIMIT_DEFAULT])
]
CursorQuery = Annotated[
    str | None,
    Query(description="the `next_cursor` of the previous page; omit for the first page"),
]


def invalid(param: str, message: str) -> NoReturn:
    """Refuse a query parameter: 422 `invalid-request`, the same shape FastAPI's own
    validation errors take, with `message` saying what to send instead."""
    raise Problem(
        422, message, type="invalid-request", errors=[{"loc": f"query.{param}", "msg": message}]
    )


def pick_state(source: str, state: str | None, noun: str, now: datetime) -> Filter:
    """The filter `state=` names, judged at `now`; every entity without one."""
    if state is None:
        return queries.ALL
    states = queries.STATES[source]
    if state not in states:
        invalid(
            "state",
            f"unknown state {state!r}; send one of {', '.join(states)}, "
            f"or omit state for every {noun}",
        )
    return states[state](now)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= LIMIT_MAX:
        invalid("limit", f"limit must be from 1 to {LIMIT_MAX} (got {limit}); "
                f"send e.g. limit={LIMIT_DEFAULT}, or omit it for {LIMIT_DEFAULT}")  # fmt: skip
    return limit


def split_list(param: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """A list parameter, comma-separated and/or repeated (`severity=critical,high`)."""
    items = [item.strip() for value in values for item in value.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown:
        invalid(
            param,
            f"unknown {param} {', '.join(map(repr, unknown))}; send one or more of "
            f"{', '.join(allowed)}, separated by commas",
        )
    return items


def _order_name(source: str, f: Filter) -> str:
    return ",".join(c.name for c in queries.sort_key(source, f))


def encode_cursor(source: str, f: Filter, key: Sequence[Any]) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    text = json.dumps({"o": _order_name(source, f), "k": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(source: str, f: Filter, cursor: str | None) -> tuple[Any, ...] | None:
    """The sort key a cursor carries, checked against the listing's order and types."""
    if cursor is None:
        return None
    again = "send the next_cursor of the previous page unchanged, or omit cursor for the first page"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        order, values = body["o"], body["k"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        invalid("cursor", f"cursor is not one this API gave out; {again}")
    if order != _order_name(source, f):
        invalid(
            "cursor",
            f"cursor belongs to a listing in another order ({order}); send it with the "
            "state it came from, or omit cursor for the first page",
        )
    key = queries.sort_key(source, f)
    if not isinstance(values, list) or len(values) != len(key):
        invalid("cursor", f"cursor is not one this API gave out; {again}")
    out: list[Any] = []
    for column, value in zip(key, values, strict=True):
        if value is None and column.nullable:
            out.append(None)
        elif column.sql_type == "timestamptz" and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                invalid("cursor", f"cursor is not one this API gave out; {again}")
            if moment.tzinfo is None:
                invalid("cursor", f"cursor is not one this API gave out; {again}")
            out.append(moment)
        elif column.sql_type == "text" and isinstance(value, str):
            out.append(value)
        else:
            invalid("cursor", f"cursor is not one this API gave out; {again}")
    return tuple(out)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, list | tuple):
        return list(value)
    return value


def page_json(source: str, f: Filter, page: Page) -> dict[str, Any]:
    """`{"items": [state rows], "next_cursor": str | null}`."""
    return {
        "items": [{name: _json(value) for name, value in row.items()} for row in page.rows],
        "next_cursor": None
        if page.next_after is None
        else encode_cursor(source, f, page.next_after),
    }


async def listing(
    pool: asyncpg.Pool,
    source: str,
    f: Filter,
    *,
    limit: int,
    cursor: str | None,
    equals: Sequence[tuple[str, str | None]] = (),
    any_of: Sequence[tuple[str, Sequence[str]]] = (),
) -> dict[str, Any]:
    """One page of a listing as JSON, after checking `limit` and `cursor`. Filters
    whose value is None or empty (`agency=`) are left out."""
    check_limit(limit)
    after = decode_cursor(source, f, cursor)
    async with pool.acquire() as conn:
        page = await queries.list_states(
            conn, source, f,
            equals=[(name, value) for name, value in equals if value],
            any_of=[(name, values) for name, values in any_of if values],
            after=after, limit=limit,
        )  # fmt: skip
    return page_json(source, f, page)
