"""An HTTP client for `POST /ingest/{source}`, shared by simulate, replay and bench.

Retries what is safe to retry (the broker said 503, the connection failed): the
processor de-duplicates by event id, so sending a record twice never counts it twice.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.5, 1, 2, 4, 8)


class IngestError(RuntimeError):
    pass


@dataclass
class IngestResult:
    accepted: int
    rejected: int
    errors: list[tuple[int, list[str]]]


class IngestClient:
    def __init__(self, api_url: str, token: str, *, timeout: float = 60.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=api_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=16),
        )

    async def __aenter__(self) -> IngestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, source: str, records: Sequence[dict[str, Any]]) -> IngestResult:
        """Send canonical records, as gzip NDJSON."""
        body = gzip.compress(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode(), 1
        )
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        return await self._post(source, body, headers, {})

    async def send_raw(
        self, source: str, body: bytes, *, format: str, content_type: str
    ) -> IngestResult:
        """Send a body as the source system wrote it, in the named ingest format."""
        compressed = gzip.compress(body, 1)
        headers = {"Content-Type": content_type, "Content-Encoding": "gzip"}
        return await self._post(source, compressed, headers, {"format": format})

    async def _post(
        self, source: str, body: bytes, headers: dict[str, str], params: dict[str, str]
    ) -> IngestResult:
        for attempt, delay in enumerate((*_RETRY_DELAYS, None)):
            try:
                response = await self._http.post(
                    f"/ingest/{source}", content=body, headers=headers, params=params
                )
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code in (200, 207, 422):
                    data = response.json()
                    errors = [
                        (r["index"], r["errors"])
                        for r in data["results"]
                        if r["status"] == "rejected"
                    ]
                    return IngestResult(data["accepted"], data["rejected"], errors)
                if response.status_code != 503:
                    status, text = response.status_code, response.text[:500]
                    raise IngestError(f"POST /ingest/{source} answered {status}: {text}")
                problem = f"503: {response.text[:200]}"
            if delay is None:
                break
            log.warning(
                "ingest attempt %d failed (%s); retrying in %ss", attempt + 1, problem, delay
            )
            await asyncio.sleep(delay)
        raise IngestError(f"POST /ingest/{source} kept failing: {problem}")
