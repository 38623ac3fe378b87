"""Security alerts and their state, filtered and paginated."""

from __future__ import annotations

import typing
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ioc.api.deps import PoolDep
from ioc.api.routes._listing import (
    LIMIT_DEFAULT,
    CursorQuery,
    LimitQuery,
    NowDep,
    listing,
    pick_state,
    split_list,
)
from ioc.domains.security import SEVERITIES, Category

CATEGORIES: tuple[str, ...] = typing.get_args(Category)

router = APIRouter(prefix="/api", tags=["entities"])


@router.get("/alerts")
async def alerts(
    pool: PoolDep,
    now: NowDep,
    state: Annotated[str | None, Query(description="open, unacknowledged or flagged")] = None,
    severity: Annotated[
        list[str] | None, Query(description="e.g. critical,high (the highest seen)")
    ] = None,
    agency: Annotated[str | None, Query(description="agency code")] = None,
    category: Annotated[list[str] | None, Query(description="e.g. malware,intrusion")] = None,
    limit: LimitQuery = LIMIT_DEFAULT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Alerts with their whole state, `{"items": [...], "next_cursor": ...}`.

    `state`: `open` (not resolved since its last raise); `unacknowledged` (open and
    nobody acknowledged it); `flagged`; none: every alert. `severity` and `category`
    take one or more values, separated by commas. Open and unacknowledged alerts come
    oldest first (by their first event, then id), so the one waiting longest is on top;
    `flagged` and none by id.
    """
    f = pick_state("security", state, "alert", now)
    return await listing(
        pool, "security", f, limit=limit, cursor=cursor, equals=[("agency", agency)],
        any_of=[("severity", split_list("severity", severity or [], SEVERITIES)),
                ("category", split_list("category", category or [], CATEGORIES))],
    )  # fmt: skip
