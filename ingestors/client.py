"""An HTTP client for `POST /ingest/{source}`, shared by simulate, replay and bench.

Retries what is safe to retry (the broker said 503, the connection failed): the
processor de-duplicates by event id, so sending a record twice never counts it twice.
While ingest cannot take anything (the broker is away, the API restarts), a request is
held and tried again - every few seconds, for at most `patience_s` - with one log line
when the episode starts and one when it ends; the callers' bounded number of requests
in flight is the bound on what is held, and they read no further meanwhile.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.5, 1, 2, 4, 8)  # then every _RETRY_EVERY_S
_RETRY_EVERY_S = 10.0


class IngestError(RuntimeError):
    pass


@dataclass
class IngestResult:
    accepted: int
    rejected: int
    errors: list[tuple[int, list[str]]]


class IngestClient:
    def __init__(
        self, api_url: str, token: str, *, timeout: float = 60.0, patience_s: float = 600.0
    ) -> None:
        self._patience_s = patience_s
        self._waiting_since: float | None = None  # an episode of refusals, for the log
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
        self,
        source: str,
        body: bytes,
        *,
        format: str,
        content_type: str,
        agency: str | None = None,
    ) -> IngestResult:
        """Send a body as the source system wrote it, in the named ingest format; `agency`
        the request's `?agency=` (the agency sending it, for records that need one)."""
        compressed = gzip.compress(body, 1)
        headers = {"Content-Type": content_type, "Content-Encoding": "gzip"}
        params = {"format": format, **({"agency": agency} if agency else {})}
        return await self._post(source, compressed, headers, params)

    async def _post(
        self, source: str, body: bytes, headers: dict[str, str], params: dict[str, str]
    ) -> IngestResult:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = await self._http.post(
                    f"/ingest/{source}", content=body, headers=headers, params=params
                )
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code in (200, 207, 422):
                    self._recovered()
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
            waited = time.monotonic() - started
            if waited >= self._patience_s:
                raise IngestError(
                    f"POST /ingest/{source} kept failing for {waited:.0f} s: {problem}"
                )
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
                log.warning(
                    "ingest cannot take records now (%s); holding what is in flight and "
                    "trying again every few seconds, for at most %.0f s", problem,
                    self._patience_s,
                )  # fmt: skip
            delay = _RETRY_DELAYS[attempt] if attempt < len(_RETRY_DELAYS) else _RETRY_EVERY_S
            attempt += 1
            await asyncio.sleep(min(delay, max(0.0, self._patience_s - waited)))

    def _recovered(self) -> None:
        if self._waiting_since is not None:
            log.warning(
                "ingest takes records again, after %.0f s", time.monotonic() - self._waiting_since
            )
            self._waiting_since = None
