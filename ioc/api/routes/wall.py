"""The wall screen: one self-contained page, nothing loaded from the internet."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["wall"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def wall_screen() -> HTMLResponse:
    page = (resources.files("ioc.api") / "static" / "wall.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
