"""Send a stream of (source, record) pairs through HTTP ingest: chunked per source, a few
requests in flight, optionally paced to a rate, with progress lines; `send_rendered` sends
records in a source system's own format (`ingestors.render`) the same way.

Shared by `ioc replay`, `ioc simulate` and `ioc bench`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ingestors.client import IngestClient, IngestResult
from ingestors.render import Rendered, bodies
from ioc.progress import Progress

Record = dict[str, Any]


@dataclass
class SendSummary:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)
    first_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and not self.unreadable


async def send_records(
    client: IngestClient,
    records: Iterable[tuple[str, Any]],
    *,
    label: str,
    total: int | None = None,
    rate: float | None = None,
    chunk: int = 500,
    in_flight: int = 4,
    summary: SendSummary | None = None,
    on_sent: Callable[[str, list[Record]], None] | None = None,
    post: Callable[[str, list[Any]], Awaitable[IngestResult]] | None = None,
) -> SendSummary:
    """Send everything; with `rate` (records/s) chunks are flushed at least once a second.

    Records are chunked by their key, the source; with `post`, the key is the caller's
    (e.g. source and format) and `post(key, chunk)` sends a chunk instead of
    `client.send(source, chunk)`."""
    summary = summary or SendSummary()
    progress = Progress(label, total=total)
    slots = asyncio.Semaphore(in_flight)
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    if rate:
        chunk = max(1, min(chunk, int(rate)))

    async def send(source: str, batch: list[Record]) -> None:
        try:
            if on_sent is not None:
                on_sent(source, batch)
            if post is not None:
                result = await post(source, batch)
            else:
                result = await client.send(source, batch)
        finally:
            slots.release()
        summary.accepted += result.accepted
        summary.rejected += result.rejected
        for index, errors in result.errors[: max(0, 5 - len(summary.first_errors))]:
            summary.first_errors.append(f"{source} #{index}: {'; '.join(errors)}")
        progress.advance(len(batch), f"{summary.rejected:,} rejected")

    async def flush(source: str, batch: list[Record]) -> None:
        await slots.acquire()  # back-pressure: read no further ahead than the sender
        task = asyncio.create_task(send(source, batch))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    buffers: dict[str, list[Any]] = {}
    last_flush = time.monotonic()
    for source, record in records:
        summary.sent += 1
        buffers.setdefault(source, []).append(record)
        if rate:
            # Sleep until this record is due, flushing what waits at least every second.
            due = started + summary.sent / rate
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            if time.monotonic() - last_flush >= 1.0:
                for s, batch in buffers.items():
                    if batch:
                        await flush(s, batch)
                        buffers[s] = []
                last_flush = time.monotonic()
        if len(buffers[source]) >= chunk:
            await flush(source, buffers[source])
            buffers[source] = []
    for source, batch in buffers.items():
        if batch:
            await flush(source, batch)
    while tasks:
        await asyncio.gather(*list(tasks))
    progress.finish(
        f"{summary.accepted:,} accepted, {summary.rejected:,} rejected"
        + (f", {len(summary.unreadable)} unreadable lines" if summary.unreadable else "")
    )
    return summary


async def send_rendered(
    client: IngestClient,
    records: Iterable[Rendered],
    *,
    label: str,
    total: int | None = None,
    rate: float | None = None,
) -> SendSummary:
    """Send `ingestors.render.Rendered` records: the canonical ones as `send_records` does,
    the others as their source system writes them (`IngestClient.send_raw`, `?format=`
    naming the format, `?agency=` when the record needs it), chunked per source, format and
    agency; an edXML chunk goes one message per request, one after the other."""

    async def post(key: str, batch: list[Any]) -> IngestResult:
        source, format, agency = key.split("/")
        if format == "canonical":
            return await client.send(source, batch)
        total = IngestResult(0, 0, [])
        offset = 0
        for data, content_type in bodies(format, batch):
            result = await client.send_raw(
                source, data, format=format, content_type=content_type, agency=agency or None
            )
            total.accepted += result.accepted
            total.rejected += result.rejected
            total.errors += [(offset + index, errors) for index, errors in result.errors]
            offset += result.accepted + result.rejected
        return total

    return await send_records(
        client,
        ((f"{r.source}/{r.format}/{r.agency or ''}", r.record) for r in records),
        label=label,
        total=total,
        rate=rate,
        post=post,
    )
