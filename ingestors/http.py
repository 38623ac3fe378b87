"""The HTTP receiver: `POST /ingest/{source}`.

Answers per record. Status: 200 all accepted; 207 some refused (the rest are
stored); 422 none accepted; 400 the body as a whole is unreadable; 401 bad token;
413 too large; 503 the broker did not acknowledge (retry the whole request:
records already stored are de-duplicated by event id).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from ingestors import metrics
from ingestors.body import BodyError, decompress, parse_records
from ingestors.formats import UnknownFormat, adapter_for
from ingestors.publisher import Publisher, Rejected
from ioc.config import SOURCES, Settings
from ioc.events import Event

log = logging.getLogger(__name__)

router = APIRouter(tags=["ingest"])


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _publisher(request: Request) -> Publisher:
    return request.app.state.publisher


# async: a plain def dependency would run in a thread pool on every request.
async def require_token(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    expected = _settings(request).ingest_token
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), expected):
        raise HTTPException(
            401,
            "missing or wrong bearer token: send 'Authorization: Bearer <IOC_INGEST_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _fail(source: str, status: int, message: str, **headers: str) -> JSONResponse:
    metrics.REQUESTS.labels(source=source, status=str(status)).inc()
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


@router.post("/ingest/{source}", dependencies=[Depends(require_token)])
async def ingest(
    source: str,
    request: Request,
    format: Annotated[str | None, Query(description="adapter name; canonical when omitted")] = None,
    content_encoding: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    settings = _settings(request)
    if source not in SOURCES:
        return _fail(source, 404, f"unknown source {source!r}; use one of: {', '.join(SOURCES)}")
    try:
        format_name, adapter = adapter_for(format)
    except UnknownFormat as error:
        return _fail(source, 400, str(error))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.ingest_max_body_bytes:
        return _fail(source, 413, f"body over {settings.ingest_max_body_bytes} bytes; split it")
    body = await request.body()
    if len(body) > settings.ingest_max_body_bytes:
        return _fail(source, 413, f"body over {settings.ingest_max_body_bytes} bytes; split it")
    try:
        records = parse_records(decompress(body, content_encoding, settings.ingest_max_body_bytes))
    except BodyError as error:
        await _dead_letter_body(request, source, body, str(error))
        return _fail(source, 400, str(error))
    if len(records) > settings.ingest_max_records:
        return _fail(source, 413, f"more than {settings.ingest_max_records} records; split them")

    accepted: list[Event] = []
    rejected: list[Rejected] = []
    results: list[dict[str, Any]] = []
    for record in records:
        outcome = adapter(source, record.value) if record.error is None else None
        if isinstance(outcome, Event):
            accepted.append(outcome)
            results.append(
                {"index": record.index, "status": "accepted", "event_id": outcome.event_id}
            )
            continue
        errors = [record.error] if record.error else [str(e) for e in outcome or []]
        rejected.append(Rejected(source=source, errors=errors, raw=record.text))
        results.append({"index": record.index, "status": "rejected", "errors": errors})

    try:
        await _publisher(request).publish(accepted, rejected)
    except KafkaError as error:
        log.warning("broker did not acknowledge %d records: %s", len(records), error)
        return _fail(
            source, 503,
            f"the broker did not acknowledge ({type(error).__name__}); nothing is lost by "
            "retrying the whole request, records already stored are de-duplicated",
            **{"Retry-After": "5"},
        )  # fmt: skip

    metrics.RECORDS.labels(source, format_name, "accepted").inc(len(accepted))
    metrics.RECORDS.labels(source, format_name, "rejected").inc(len(rejected))
    status = 200 if not rejected else (207 if accepted else 422)
    metrics.REQUESTS.labels(source=source, status=str(status)).inc()
    return JSONResponse(
        {
            "source": source,
            "format": format_name,
            "accepted": len(accepted),
            "rejected": len(rejected),
            "results": results,
        },
        status_code=status,
    )


async def _dead_letter_body(request: Request, source: str, body: bytes, reason: str) -> None:
    """Keep an unreadable body on the dead-letter topic, so nothing sent is ever lost."""
    try:
        await _publisher(request).publish(
            [],
            [
                Rejected(
                    source=source,
                    errors=[reason],
                    raw=body[:1_000_000].hex(),
                    reason="unreadable_body",
                )
            ],
        )
        metrics.RECORDS.labels(source, "body", "rejected").inc()
    except KafkaError as error:
        log.warning("could not dead-letter an unreadable body: %s", error)
