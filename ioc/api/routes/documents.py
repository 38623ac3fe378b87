"""Documents (văn bản đi/đến) and their state, filtered and paginated."""

from __future__ import annotations

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
)

router = APIRouter(prefix="/api", tags=["entities"])


@router.get("/documents")
async def documents(
    pool: PoolDep,
    now: NowDep,
    state: Annotated[str | None, Query(description="open, overdue or flagged")] = None,
    agency: Annotated[str | None, Query(description="agency code")] = None,
    limit: LimitQuery = LIMIT_DEFAULT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Documents with their whole state, `{"items": [...], "next_cursor": ...}`.

    `state`: `open` (not done, returned or refused); `overdue` (open and its due date
    has passed - a document done late is not open any more, its `overdue` column says
    so); `flagged`; none: every document. Sorted by due date (none last), then id;
    `flagged` and none by id.
    """
    f = pick_state("documents", state, "document", now)
    return await listing(
        pool, "documents", f, limit=limit, cursor=cursor, equals=[("agency", agency)]
    )
