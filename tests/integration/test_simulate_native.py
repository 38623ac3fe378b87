"""`ioc simulate --format native` against a running API and processor: events of every
format are stored; alerts carry the ids the server derives from each format, and the
acknowledgements and resolutions sent canonically open and close those same alerts; filings
sent as DVC snapshots and documents as edXML messages land once each on their topics and
end in the states the simulator's own events give them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingestors.render import NATIVE, FormatChoice, Natives
from ingestors.simulator import generate
from ioc.clock import Calendar, working_calendar
from ioc.config import Settings
from ioc.domains import DOMAINS
from ioc.runtime import Runtime, write_runtime
from ioc.working_time import VN_TZ
from tests.roles import start_api, start_role, wait_until
from tests.unit.test_render import canonical, dvc_view, fold_all

pytestmark = pytest.mark.integration

SEED, COUNT, START = 11, 3000, "2026-01-05T08:00:00+07:00"


def _ioc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return subprocess.run(
        [sys.executable, "-m", "ioc", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def _accepted_by_format(api_url: str) -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    text = httpx.get(f"{api_url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ioc_ingest_records_total":
                key = (sample.labels["source"], sample.labels["format"], sample.labels["outcome"])
                counts[key] += int(sample.value)
    return counts


def _entities(api_url: str, kind: str, key: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    cursor = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{api_url}/api/{kind}", params=params).json()
        found.update((a[key], a) for a in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _alerts(api_url: str) -> dict[str, dict]:
    return _entities(api_url, "alerts", "alert_id")


def _second(value: str | datetime | None) -> datetime | None:
    """An instant (API text or a state's datetime) to the second, for comparing."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(microsecond=0)


def _stored_as_folded(
    api_url: str,
    source: str,
    views: list[dict],
    calendar: Calendar,
    fields: tuple[str, ...],
    instants: tuple[str, ...],
) -> list[tuple[dict, Any]]:
    """Each entity of `source` as the API lists it beside the state its events (as the
    format carries them: `views`) fold to; `fields` equal, `instants` to the second."""
    folded = fold_all(source, views, calendar)
    stored = _entities(api_url, source, DOMAINS[source].entity_field)  # /api/filings, ...
    assert set(stored) == set(folded)
    for entity_id, state in folded.items():
        got = stored[entity_id]
        for field in fields:
            assert got[field] == getattr(state, field), (entity_id, field, got, state)
        for field in instants:
            assert _second(got[field]) == _second(getattr(state, field)), (entity_id, field)
    return [(stored[entity_id], state) for entity_id, state in folded.items()]


def _check_states(api_url: str, records: list[dict], calendar: Calendar) -> None:
    """Filings and documents stored in the states the simulator's own events give them,
    folded in the calendar the processor judges with."""
    # Filings as DVC can say them (to the second, no commune); every document is carried by
    # edXML or, on paper, canonically (see ingestors.render.edxml for what edXML changes).
    filings = _stored_as_folded(
        api_url, "filings", [dvc_view(r) for r in records if r["source"] == "filings"],
        calendar,
        ("status", "is_open", "verdict", "supplement_requests", "channel", "procedure_code",
         "fee_vnd", "paid_online", "events", "agency"),
        ("received_at", "due_at", "processing_end_at"),
    )  # fmt: skip
    verdicts = Counter(state.verdict for _, state in filings)
    assert verdicts["late"] and verdicts["on_time"] + verdicts["early"], verdicts

    documents = _stored_as_folded(
        api_url, "documents",
        [canonical(r) for r in records if r["source"] == "documents"], calendar,
        ("status", "is_open", "events", "agency", "electronic", "sender_agency",
         "receiver_agency", "document_type"),
        ("sent_at", "received_at", "assigned_at", "done_at", "due_at"),
    )  # fmt: skip
    for got, state in documents:
        assert bool(got["signed"]) == bool(state.signed)
        if state.issued_at is not None:  # edXML dates a promulgation: its day, at 00:00
            day = datetime.fromisoformat(got["issued_at"]).astimezone(VN_TZ).date()
            assert day == state.issued_at.astimezone(VN_TZ).date()
    statuses = Counter(state.status for _, state in documents)
    assert statuses["done"] and statuses["received"] + statuses["assigned"], statuses


def test_simulate_native_stores_every_format_and_alerts_open_and_close(
    settings: Settings, tmp_path: Path
) -> None:
    processor = start_role(settings, "process", tmp_path)
    api, settings = start_api(settings, tmp_path)
    try:
        write_runtime(
            settings.runtime_file,
            Runtime(api_url=settings.api_url, kafka_bootstrap=settings.kafka_bootstrap,
                    database_url=settings.database_url, ingest_token=settings.ingest_token,
                    pid=api.process.pid),
        )  # fmt: skip
        done = _ioc(
            "simulate", "--format", "native", "--seed", str(SEED), "--count", str(COUNT),
            "--start", START, "--data-dir", str(settings.data_dir), cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"{COUNT:,} accepted, 0 rejected" in done.stderr, done.stderr
        assert "security: suricata 35%, wazuh 30%, ecs 20%, cef 15%" in done.stderr
        assert "documents: edxml 100%; filings: dvc 100%" in done.stderr

        # What the same seed and start give, rendered the same way in-process.
        records = list(generate(SEED, COUNT, datetime.fromisoformat(START), pace="demo"))
        natives = Natives(FormatChoice.parse("native"), "demo")
        rendered = [natives.render(r) for r in records]
        expected = dict(Counter(r["source"] for r in records))

        def stored() -> dict | None:
            kpis = httpx.get(f"{settings.api_url}/api/kpis").json()
            return kpis if kpis["events"] == expected else None

        wait_until(stored, 90, "every simulated event stored", processor, api)

        sent = Counter((r.source, r.format) for r in rendered)
        accepted = _accepted_by_format(settings.api_url)
        sources = {"dvc": "filings", "edxml": "documents"}
        for format in NATIVE:
            source = sources.get(format, "security")
            assert sent[source, format] >= 30, sent
            assert accepted[source, format, "accepted"] == sent[source, format]
            assert accepted[source, format, "rejected"] == 0
        assert sent["filings", "canonical"] == 0  # DVC carries every filing
        assert sent["documents", "canonical"] > 0  # paper documents, and edXML's few gaps
        assert not any(n for (_, _, outcome), n in accepted.items() if outcome == "rejected")

        # Filings and documents: each step once (the KPI counts above), in the right state.
        _check_states(settings.api_url, records, working_calendar(settings))

        # Each natively sent alert is stored under the id the server derived, and its
        # lifecycle, sent canonically under that id, moved it.
        alerts = _alerts(settings.api_url)
        last: dict[str, str] = {}
        formats: dict[str, str] = {}
        for record in records:
            carrier = natives.carrier(record) if record["source"] == "security" else None
            if carrier is None:
                continue
            alert_id = carrier.entity_id(record)
            formats[alert_id] = carrier.name
            last[alert_id] = record["type"]
        assert set(formats) <= set(alerts)
        assert set(Counter(formats.values())) == set(NATIVE) - set(sources)
        for alert_id, format in formats.items():
            alert = alerts[alert_id]
            assert alert_id.startswith(f"{format}-")
            assert alert["status"] == last[alert_id], alert
            assert alert["events"] >= 1
            if last[alert_id] == "resolved":
                assert not alert["is_open"] and alert["resolved_at"] is not None
        outcomes = Counter(last.values())
        assert outcomes["raised"] and outcomes["acknowledged"] and outcomes["resolved"], outcomes
        acknowledged = [a for a in formats if alerts[a]["acknowledged_at"] is not None]
        assert len(acknowledged) >= outcomes["acknowledged"]
    finally:
        api.stop()
        processor.stop()
