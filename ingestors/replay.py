"""`ioc replay FILE`: send NDJSON ingest records through the HTTP ingest path.

Replaying a file twice stores nothing twice: event ids de-duplicate. Lines that
cannot be routed (not JSON, no source) are reported with their line numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingestors.client import IngestClient
from ingestors.sender import SendSummary, send_records
from ioc.config import SOURCES


def read_records(
    path: Path, source: str | None, summary: SendSummary
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, record) per line; lines that cannot be routed are noted in `summary`."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                summary.unreadable.append((number, f"not valid JSON: {error}"))
                continue
            target = source or (record.get("source") if isinstance(record, dict) else None)
            if target not in SOURCES:
                summary.unreadable.append(
                    (number, f"no usable 'source' ({target!r}); pass --source {'|'.join(SOURCES)}")
                )
                continue
            yield target, record


def count_lines(path: Path) -> int:
    with path.open("rb") as data:
        return sum(1 for line in data if line.strip())


async def replay(path: Path, client: IngestClient, *, source: str | None = None) -> SendSummary:
    summary = SendSummary()
    return await send_records(
        client,
        read_records(path, source, summary),
        label=f"replay {path.name}",
        total=count_lines(path),
        summary=summary,
    )
