"""`ioc simulate --format native` against a running API and processor: events of every
security format are stored, alerts carry the ids the server derives from each format, and
the acknowledgements and resolutions sent canonically open and close those same alerts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingestors.render import NATIVE, FormatChoice, Natives
from ingestors.simulator import generate
from ioc.config import Settings
from ioc.runtime import Runtime, write_runtime
from tests.roles import start_api, start_role, wait_until

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


def _alerts(api_url: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    cursor = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{api_url}/api/alerts", params=params).json()
        found.update((a["alert_id"], a) for a in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


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

        # What the same seed and start give, rendered the same way in-process.
        records = list(generate(SEED, COUNT, datetime.fromisoformat(START), pace="demo"))
        natives = Natives(FormatChoice.parse("native"))
        rendered = [natives.render(r) for r in records]
        expected = dict(Counter(r["source"] for r in records))

        def stored() -> dict | None:
            kpis = httpx.get(f"{settings.api_url}/api/kpis").json()
            return kpis if kpis["events"] == expected else None

        wait_until(stored, 90, "every simulated event stored", processor, api)

        sent = Counter((r.source, r.format) for r in rendered)
        accepted = _accepted_by_format(settings.api_url)
        for format in NATIVE:
            assert sent["security", format] >= 30, sent
            assert accepted["security", format, "accepted"] == sent["security", format]
            assert accepted["security", format, "rejected"] == 0
        assert not any(n for (_, _, outcome), n in accepted.items() if outcome == "rejected")

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
        assert set(Counter(formats.values())) == set(NATIVE)
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
