"""Poison records on the source topics - values the database can never store - among good
ones: every good record is stored once, every poison record is dead-lettered with its
reason, and no partition stalls (its offsets move past the poison)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import asyncpg
import pytest

from ioc.config import Settings
from ioc.kafka import make_producer
from tests.probes import event_totals, read_topic
from tests.records import alert, document, filing
from tests.roles import async_wait_until, start_role

pytestmark = pytest.mark.integration


def _poison() -> list[tuple[str, dict]]:
    """One record per class of poison, as a buggy or hostile producer could write them."""
    nul_agency = document("p-nul-agency", "D-P1")
    nul_agency["agency"] = "000.00\u000031.H42"
    nul_payload = alert("p-nul-payload", "A-P2")
    nul_payload["payload"]["asset"] = "web\u0000server"
    long_id = filing("p-" + secrets.token_hex(6000), "F-P3")
    # Valid as an event, refused by a constraint the test adds to the table.
    constrained = filing("refuse-me", "F-P5")
    return [
        ("documents", nul_agency),
        ("security", nul_payload),
        ("filings", long_id),
        ("filings", constrained),
    ]


async def test_poison_records_are_dead_lettered_and_never_stall_a_partition(
    settings: Settings, tmp_path: Path
) -> None:
    good = [("filings", filing(f"g{i}", f"F-{i}", "received", i % 60)) for i in range(600)]
    good += [("documents", document(f"d{i}", f"D-{i}")) for i in range(200)]
    poison = _poison()
    # Lone surrogates written as raw JSON escapes: they cannot be encoded to UTF-8.
    surrogate = json.dumps(alert("p-surrogate", "A-P4")).replace("portal", "portal\\ud800")
    records: list[tuple[str, bytes, bytes]] = []
    for source, record in good[:300] + poison + good[300:]:
        key = next(iter(record["payload"].values())).encode()
        records.append((source, key, json.dumps(record).encode()))
    records.insert(150, ("security", b"A-P4", surrogate.encode()))

    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "ALTER TABLE events ADD CONSTRAINT test_refuses CHECK (event_id <> 'refuse-me')"
        )
    finally:
        await conn.close()
    producer = make_producer(settings)
    await producer.start()
    try:
        for source, key, value in records:
            await producer.send(settings.source_topics[source], value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    processor = start_role(settings, "process", tmp_path)
    try:
        expected = {"filings": 600, "documents": 200, "security": 0}

        async def all_good_stored() -> bool:
            stored = await event_totals(settings.database_url)
            assert all(stored[s] <= n for s, n in expected.items()), f"double count {stored}"
            return stored == expected

        await async_wait_until(all_good_stored, 60, f"{expected} stored", processor)
        letters = [
            json.loads(m.value)
            for m in await read_topic(settings, settings.deadletter_topic, 5, processor)
        ]
        assert len(letters) == 5
        assert {letter["stage"] for letter in letters} == {"processor"}
        assert all(letter["errors"] and letter["raw"] for letter in letters)
        assert {letter["reason"] for letter in letters} <= {"invalid_event", "database_refused"}
        refused = [letter for letter in letters if letter["reason"] == "database_refused"]
        assert any("test_refuses" in error for letter in refused for error in letter["errors"])

        # Nothing is left waiting behind the poison: a record sent now is stored too.
        producer = make_producer(settings)
        await producer.start()
        try:
            after = filing("after-poison", "F-AFTER")
            await producer.send_and_wait(
                settings.source_topics["filings"], json.dumps(after).encode(), key=b"F-AFTER"
            )
        finally:
            await producer.stop()
        expected["filings"] += 1
        await async_wait_until(all_good_stored, 30, "the record after the poison", processor)
        assert "retrying the same batch" not in processor.log()
    finally:
        processor.stop()
