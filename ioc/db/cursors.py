"""The pollers' cursors (`poll_cursors`): where each poller stands in its source system."""

from __future__ import annotations

from ioc.db import Conn


async def load_cursor(conn: Conn, poller: str) -> str | None:
    """The cursor stored for `poller`, or None when it never stored one."""
    value = await conn.fetchval("SELECT cursor FROM poll_cursors WHERE poller = $1", poller)
    return None if value is None else str(value)


async def save_cursor(conn: Conn, poller: str, cursor: str, url: str) -> None:
    """Store `cursor` for `poller` (one row per poller, replaced)."""
    await conn.execute(
        """
        INSERT INTO poll_cursors (poller, cursor, url, updated_at) VALUES ($1, $2, $3, now())
        ON CONFLICT (poller) DO UPDATE
            SET cursor = EXCLUDED.cursor, url = EXCLUDED.url, updated_at = EXCLUDED.updated_at
        """,
        poller,
        cursor,
        url,
    )
