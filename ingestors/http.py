"""The HTTP receiver: `POST /ingest/{source}`.

A thin shell around the pipeline (`ingestors.pipeline`): read the body within its
bounds, gunzip, then parse, judge and publish as every transport does. Answers per
record. Status: 200 all accepted; 207 some refused (the rest are
stored); 422 none accepted; 400 the body as a whole is unreadable; 401 no known
token, 403 a token for other sources (`ioc.api.deps.ingest_principal`); 413 too
large; 503 the broker did not acknowledge (retry the whole request: records already
stored are de-duplicated by event id).

No input answers 5xx but that 503: every error is an RFC 9457 problem
(`ioc.api.problems`), and whatever is refused is dead-lettered (refused records, and
unreadable bodies, which the 400 marks `"dead_lettered": true`) or refused whole
before anything was taken (401, 403, 404, 413, unknown `format`), so nothing is dropped
without the sender being told.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from ingestors import metrics
from ingestors.body import BodyError, TooManyRecords, decompress
from ingestors.formats import MapContext, UnknownFormat, format_named
from ingestors.pipeline import count, judge, read_body, received_now
from ingestors.publisher import Publisher, Rejected
from ioc.api.deps import ingest_principal
from ioc.api.problems import problem
from ioc.config import SOURCES, Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["ingest"])


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _publisher(request: Request) -> Publisher:
    return request.app.state.publisher


def _fail(source: str, status: int, message: str, type: str, **extra: Any) -> JSONResponse:
    label = source if source in SOURCES else "unknown"  # no label per made-up source
    metrics.REQUESTS.labels(source=label, status=str(status)).inc()
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return problem(status, message, type=type, headers=headers, **extra)


def _content_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "").strip()
    # isdigit() alone would take "²" (and int() then raise): ASCII digits only.
    return int(declared) if declared.isascii() and declared.isdigit() else None


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is over `limit` bytes (never holding more)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/ingest/{source}", dependencies=[Depends(ingest_principal)])
async def ingest(
    source: str,
    request: Request,
    format: Annotated[
        str | None,
        Query(description="the format's name (see the README's Formats); detected when omitted"),
    ] = None,
    agency: Annotated[
        str | None,
        Query(
            description="agency code for records that name none: a security format's "
            "(e.g. a sensor that watches one agency's network), a DVC record without "
            "DonViXuLy, an edXML status packet"
        ),
    ] = None,
    content_encoding: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    settings = _settings(request)
    if source not in SOURCES:
        shown = source if len(source) <= 100 else source[:100] + "..."
        return _fail(
            source, 404, f"unknown source {shown!r}; use one of: {', '.join(SOURCES)}",
            "unknown-source",
        )  # fmt: skip
    try:
        format_named(source, format)
    except UnknownFormat as error:
        return _fail(source, 400, str(error), "unknown-format", dead_lettered=False)
    limit = settings.ingest_max_body_bytes
    too_large = f"body over {limit} bytes; split it"
    declared = _content_length(request)
    if declared is not None and declared > limit:
        return _fail(source, 413, too_large, "body-too-large", limit=limit)
    body = await _read_body(request, limit)
    if body is None:
        return _fail(source, 413, too_large, "body-too-large", limit=limit)
    try:
        parsed = read_body(
            source, decompress(body, content_encoding, limit), format, settings.ingest_max_records
        )
    except TooManyRecords as error:
        return _fail(source, 413, str(error), "too-many-records", limit=settings.ingest_max_records)
    except BodyError as error:
        if not await _dead_letter_body(request, source, body, str(error)):
            return _broker_unavailable(source)
        return _fail(source, 400, str(error), "unreadable-body", dead_lettered=True)

    context = MapContext(source=source, received_at=received_now(), agency=agency,
                         communes=request.app.state.communes)  # fmt: skip
    verdict = judge(source, parsed.records, context, parsed.format, detected=parsed.detected)
    try:
        await _publisher(request).publish(verdict.events, verdict.rejected)
    except KafkaError as error:
        log.warning("broker did not acknowledge %d records: %s", len(parsed.records), error)
        return _broker_unavailable(source, error)

    count(verdict)
    metrics.REQUESTS.labels(source=source, status=str(verdict.status)).inc()
    return JSONResponse(verdict.response(), status_code=verdict.status)


def _broker_unavailable(source: str, error: KafkaError | None = None) -> JSONResponse:
    what = f" ({type(error).__name__})" if error is not None else ""
    return _fail(
        source, 503,
        f"the broker did not acknowledge{what}; nothing is lost by retrying the whole "
        "request, records already stored are de-duplicated",
        "broker-unavailable", retry_after=5,
    )  # fmt: skip


async def _dead_letter_body(request: Request, source: str, body: bytes, reason: str) -> bool:
    """Keep an unreadable body on the dead-letter topic (its first 256 KiB, as hex, with
    its length and sha256); False when the broker did not take it, so the sender is told
    to retry rather than have the body vanish."""
    try:
        await _publisher(request).publish(
            [],
            [
                Rejected(
                    source=source,
                    errors=[reason],
                    raw=body,
                    reason="unreadable_body",
                    raw_encoding="hex",
                )
            ],
        )
    except KafkaError as error:
        log.warning("could not dead-letter an unreadable body: %s", error)
        return False
    metrics.RECORDS.labels(source, "body", "rejected").inc()
    return True
