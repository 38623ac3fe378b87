"""`ioc replay FILE`: send a file of records through the HTTP ingest path.

Without `--format`, the file is NDJSON of canonical records, each naming its source
(or all of `--source`); lines that cannot be routed (not JSON, no source) are reported
with their line numbers. With `--format F --source S`, the file is what a source
system wrote, in any ingest format: a file that is one document (XML, a JSON array)
goes in one request, any other in requests of `LINES_PER_REQUEST` lines (NDJSON, CEF
or syslog lines), and the server parses and maps it exactly as `POST /ingest` does.
Replaying a file twice stores nothing twice: event ids de-duplicate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingestors.client import IngestClient
from ingestors.sender import SendSummary, send_records
from ioc.config import SOURCES
from ioc.progress import Progress

LINES_PER_REQUEST = 500
IN_FLIGHT = 4
# One request's worth of a document file: larger ones must be split by the sender.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


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


def bodies(data: bytes) -> list[tuple[bytes, str, int]]:
    """(body, content type, lines) per request for a file in a source system's format."""
    head = data.lstrip()[:1]
    if head in (b"<", b"["):  # one document: XML, or a JSON array
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ValueError(
                f"the file is one document of {len(data):,} bytes, over the "
                f"{MAX_DOCUMENT_BYTES:,} a request may carry; split it into several files"
            )
        kind = "application/xml" if head == b"<" else "application/json"
        return [(data, kind, 1)]
    lines = [line for line in data.splitlines(keepends=True) if line.strip()]
    return [
        (b"".join(lines[start : start + LINES_PER_REQUEST]), "text/plain",
         len(lines[start : start + LINES_PER_REQUEST]))
        for start in range(0, len(lines), LINES_PER_REQUEST)
    ]  # fmt: skip


async def replay_format(
    data: bytes, name: str, client: IngestClient, *, source: str, format: str
) -> SendSummary:
    """Send a file (`data`, called `name`) written by a source system, in `format`, to
    /ingest/`source`; ValueError if it cannot be cut into requests."""
    summary = SendSummary()
    requests = bodies(data)
    progress = Progress(f"replay {name} ({format})", total=sum(n for *_, n in requests))
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def send(body: bytes, content_type: str, lines: int) -> None:
        async with slots:
            result = await client.send_raw(source, body, format=format, content_type=content_type)
        summary.sent += result.accepted + result.rejected
        summary.accepted += result.accepted
        summary.rejected += result.rejected
        for index, errors in result.errors[: max(0, 5 - len(summary.first_errors))]:
            summary.first_errors.append(f"{source} #{index}: {'; '.join(errors)}")
        progress.advance(lines, f"{summary.accepted:,} accepted, {summary.rejected:,} rejected")

    await asyncio.gather(*(send(*request) for request in requests))
    progress.finish(f"{summary.accepted:,} accepted, {summary.rejected:,} rejected")
    return summary
