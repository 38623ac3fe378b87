"""The provincial formats over HTTP, against the real app, the real embedded broker, and a real
processor writing to the real database: DVC filing sync records on `/ingest/filings`, edXML on
`/ingest/documents` - what the answers say, exactly what lands on the source and dead-letter
topics, and that a snapshot posted again adds no event to the database."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import asyncpg
import pytest

from ioc.config import Settings
from streams.processor import Processor
from tests.integration.test_ingest_formats import _exactly, _ingest_app, _ndjson
from tests.probes import committed_total, event_totals
from tests.roles import async_wait_until
from tests.unit.formats.test_dvc import DVC_IN_PROCESS, DVC_RETURNED, FILING
from tests.unit.formats.test_edxml import (
    BILLION_LAUGHS,
    DOCUMENT,
    EDXML_MESSAGE,
    EDXML_STATUS,
    status_packet,
)

pytestmark = pytest.mark.integration
AGENCY = "000.00.12.H42"


async def test_provincial_formats_land_once_and_a_resent_snapshot_adds_nothing(
    settings: Settings,
) -> None:
    bad_dvc = {**copy.deepcopy(DVC_RETURNED), "MaHoSo": "000.12.31.H42-261120-0099"}
    bad_dvc["TrangThaiHoSo"] = "12"
    bad_dvc["tienTrinhDongBo"] = []
    events: dict[str, list[str]] = {"filings": [], "documents": []}
    refused: list[tuple[str, list[str]]] = []
    processor = Processor(settings)
    running = asyncio.create_task(processor.run())
    try:
        async with _ingest_app(settings) as http:

            async def post(source: str, body: bytes, status: int, **params: str) -> Any:
                # Filings name the agency per request (their DonViXuLy is a name); an edXML
                # header is posted by its sender's side, so without a receiver's ?agency=.
                agency = {"agency": AGENCY} if source == "filings" else {}
                response = await http.post(
                    f"/ingest/{source}", content=body, params={**agency, **params}
                )
                assert response.status_code == status, response.text
                answer = response.json()
                if status == 400:
                    refused.append(("body", [answer["detail"]]))
                    return answer
                for result, line in zip(answer["results"], body.split(b"\n"), strict=False):
                    if result["status"] == "accepted":
                        events[source].extend(result["event_ids"])
                    else:
                        refused.append((line.decode(), result["errors"]))
                return answer

            # DVC snapshots, named: a returned filing (6 events), a bad one, an open one (2).
            answer = await post(
                "filings", _ndjson(DVC_RETURNED, bad_dvc, DVC_IN_PROCESS), 207, format="dvc"
            )
            assert (answer["format"], answer["detected"], answer["events"]) == ("dvc", False, 8)
            assert [len(r.get("event_ids", [])) for r in answer["results"]] == [6, 0, 2]
            assert answer["results"][1]["errors"] == [
                "TrangThaiHoSo: unknown code '12'; allowed: 1 (newly registered (mới đăng ký)), "
                "2 (received (đã tiếp nhận)), 3 (not accepted (không được tiếp nhận)), "
                "4 (in process (đang xử lý)), 5 (supplement requested (yêu cầu bổ sung)), "
                "6 (financial obligation requested (yêu cầu thực hiện nghĩa vụ tài chính)), "
                "7 (withdrawn by the citizen (công dân rút hồ sơ)), "
                "8 (processing stopped (dừng xử lý)), 9 (processed (đã xử lý xong)), "
                "10 (result returned (đã trả kết quả))"
            ]
            first_ids = answer["results"][0]["event_ids"]

            # edXML, recognised by its framing: the header (issued, sent), then a status.
            answer = await post("documents", EDXML_MESSAGE.encode(), 200)
            assert (answer["format"], answer["detected"], answer["events"]) == ("edxml", True, 2)
            answer = await post("documents", EDXML_STATUS.encode(), 200, format="edxml")
            assert answer["results"][0]["event_ids"] and answer["events"] == 1
            # An unknown status code: refused with the allowed ones (422, dead-lettered).
            answer = await post("documents", status_packet("07").encode(), 422)
            assert answer["results"][0]["errors"][0].startswith(
                "Status.StatusCode: unknown code '07'; allowed: 01 (arrived"
            )
            # An XML bomb: a precise 400, the body dead-lettered, nothing else queued.
            answer = await post("documents", BILLION_LAUGHS, 400)
            assert answer["type"] == "urn:ioc:problem:unreadable-body"
            assert answer["detail"].startswith(
                "XML with a document type declaration (<!DOCTYPE lolz>) is refused"
            )

            async def stored(want: dict[str, int]) -> bool:
                return await event_totals(settings.database_url) == want

            want = {"filings": 8, "documents": 3, "security": 0}
            await async_wait_until(lambda: stored(want), 90, "the first posts stored")

            # The same snapshot again, detected this time, and the same edXML header.
            answer = await post("filings", _ndjson(DVC_RETURNED), 200)
            assert (answer["format"], answer["detected"]) == ("dvc", True)
            assert answer["results"][0]["event_ids"] == first_ids
            await post("documents", EDXML_MESSAGE.encode(), 200)

        # Exactly what the answers listed is on the topics, each filing keyed by its id.
        on_topic = await _exactly(settings, settings.source_topics["filings"], 14)
        assert sorted(json.loads(m.value)["event_id"] for m in on_topic) == sorted(
            events["filings"]
        )
        assert {m.key.decode() for m in on_topic} == {FILING, "000.00.31.H42-261122-0112"}
        documents = await _exactly(settings, settings.source_topics["documents"], 5)
        assert {m.key.decode() for m in documents} == {DOCUMENT}
        letters = await _exactly(settings, settings.deadletter_topic, len(refused))
        reasons = sorted(json.loads(m.value)["reason"] for m in letters)
        assert len(reasons) == 3 and "invalid_record" in reasons

        # The processor has read every record posted, and stored each event once.
        async def all_read() -> bool:
            return await committed_total(settings, settings.processor_group) >= 19

        await async_wait_until(all_read, 60, "the processor to read the re-posts")
        assert await event_totals(settings.database_url) == want
        conn = await asyncpg.connect(settings.database_url)
        try:
            state = await conn.fetchrow(
                "SELECT status, is_open, supplement_requests, verdict, fee_vnd, channel, agency"
                " FROM filing_state WHERE filing_id = $1",
                FILING,
            )
            document = await conn.fetchrow(
                "SELECT status, direction, signed, sender_agency, receiver_agency, agency"
                " FROM document_state WHERE document_id = $1",
                DOCUMENT,
            )
        finally:
            await conn.close()
        assert dict(state) == {
            "status": "result_returned", "is_open": False, "supplement_requests": 1,
            "verdict": "early", "fee_vnd": 75000, "channel": "online", "agency": AGENCY,
        }  # fmt: skip
        assert dict(document) == {
            "status": "received", "direction": "incoming", "signed": True,
            "sender_agency": "000.00.00.H42", "receiver_agency": AGENCY, "agency": AGENCY,
        }  # fmt: skip
    finally:
        processor.stop()
        await asyncio.wait_for(running, 60)


async def test_a_dvc_filing_at_a_commune_agency_carries_its_commune(settings: Settings) -> None:
    # The sync record has no commune: the shipped reference data's commune of the
    # processing agency (UBND phường Thành Sen, 000.21.32.H42 -> ward 18073) is it.
    record = copy.deepcopy(DVC_IN_PROCESS)
    record["hoSo"] |= {"DonViXuLy": "000.21.32.H42", "MaHoSo": "000.21.32.H42-261122-0001"}
    for step in record["tienTrinhDongBo"]:
        step["MaHoSo"] = record["hoSo"]["MaHoSo"]
    async with _ingest_app(settings) as http:
        answer = await http.post("/ingest/filings", content=_ndjson(record))
        assert answer.status_code == 200, answer.text
    on_topic = await _exactly(settings, settings.source_topics["filings"], 2)
    assert {json.loads(m.value)["payload"]["commune_code"] for m in on_topic} == {"18073"}
