"""`ioc simulate --out` then `ioc replay` twice, through a running API found via runtime.json:
the second replay stores nothing new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ioc.config import Settings
from ioc.domains.filings import TERMINAL
from ioc.embedded.process import free_port
from ioc.events import validate_event
from ioc.runtime import Runtime, write_runtime
from tests.roles import start_api, start_role, wait_until

pytestmark = pytest.mark.integration


def _ioc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No IOC_* variables: the command must find the system through runtime.json alone.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return subprocess.run(
        [sys.executable, "-m", "ioc", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_replaying_a_file_twice_counts_each_event_once(settings: Settings, tmp_path: Path) -> None:
    metrics_port = free_port()
    processor = start_role(
        settings, "process", tmp_path, IOC_PROCESSOR_METRICS_PORT=str(metrics_port)
    )
    api, settings = start_api(settings, tmp_path)
    try:
        write_runtime(
            settings.runtime_file,
            Runtime(api_url=settings.api_url, kafka_bootstrap=settings.kafka_bootstrap,
                    database_url=settings.database_url, ingest_token=settings.ingest_token,
                    pid=api.process.pid),
        )  # fmt: skip
        data_dir = str(settings.data_dir)
        out = tmp_path / "events.ndjson"
        made = _ioc("simulate", "--seed", "7", "--count", "3000", "--out", str(out), cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        lines = out.read_text().splitlines()
        assert len(lines) == 3000
        again = tmp_path / "again.ndjson"
        _ioc("simulate", "--seed", "7", "--count", "3000", "--out", str(again), cwd=tmp_path)
        assert again.read_text() == out.read_text(), "simulate must be deterministic"

        records = [json.loads(line) for line in lines]
        events = [validate_event(r["source"], r) for r in records]
        expected = dict(Counter(r["source"] for r in records))
        assert not any(isinstance(e, list) for e in events)
        # A filing is open until one of its events ends it (in any order of arrival).
        ended = {e.entity_id for e in events if e.source == "filings" and e.type in TERMINAL}
        filings = {e.entity_id for e in events if e.source == "filings"}
        expected_open = len(filings - ended)

        for attempt in (1, 2):
            done = _ioc("replay", str(out), "--data-dir", data_dir, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "3,000 accepted, 0 rejected" in done.stderr, done.stderr
            assert "replay events.ndjson:" in done.stderr  # progress lines

            def settled() -> dict | None:
                kpis = httpx.get(f"{settings.api_url}/api/kpis").json()
                return kpis if kpis["events"] == expected else None

            kpis = wait_until(settled, 60, f"replay {attempt} stored", processor, api)
            assert kpis["filings"]["open"] == expected_open

        # Once the processor has seen the whole second replay - every event recognised as
        # already stored - the counts are still exactly `expected`.
        def duplicates() -> float:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            line = next(x for x in text.splitlines() if x.startswith("ioc_processor_dup"))
            return float(line.split()[-1])

        wait_until(lambda: duplicates() >= 3000, 60, "the second replay processed", processor)
        assert httpx.get(f"{settings.api_url}/api/kpis").json()["events"] == expected
    finally:
        api.stop()
        processor.stop()


def test_replay_reports_lines_it_cannot_route(settings: Settings, tmp_path: Path) -> None:
    api, settings = start_api(settings, tmp_path)
    try:
        write_runtime(
            settings.runtime_file,
            Runtime(api_url=settings.api_url, kafka_bootstrap="", database_url="",
                    ingest_token=settings.ingest_token, pid=api.process.pid),
        )  # fmt: skip
        bad = tmp_path / "bad.ndjson"
        bad.write_text('{"event_id": "x"}\nnot json\n')
        done = _ioc("replay", str(bad), "--data-dir", str(settings.data_dir), cwd=tmp_path)
        assert done.returncode == 1
        assert "line 1: no usable 'source'" in done.stderr
        assert "line 2: not valid JSON" in done.stderr
    finally:
        api.stop()


def test_replay_sends_a_source_systems_file_in_its_format_and_twice_stores_it_once(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.unit.formats.samples import SURICATA_ALERT, fresh

    processor = start_role(settings, "process", tmp_path)
    api, settings = start_api(settings, tmp_path)
    try:
        write_runtime(
            settings.runtime_file,
            Runtime(api_url=settings.api_url, kafka_bootstrap=settings.kafka_bootstrap,
                    database_url=settings.database_url, ingest_token=settings.ingest_token,
                    pid=api.process.pid),
        )  # fmt: skip
        alerts = []
        for n in range(1, 1201):  # 1,200 detections of 40 attackers: several requests
            record = fresh(SURICATA_ALERT)
            record["src_ip"] = f"203.0.113.{n % 40}"
            record["timestamp"] = f"2026-11-22T09:{n // 60:02d}:{n % 60:02d}.000000+0700"
            record["agency"] = "000.00.31.H42"
            alerts.append(json.dumps(record))
        eve = tmp_path / "eve.json"
        eve.write_text("\n".join([*alerts, "{not json"]) + "\n")
        for attempt in (1, 2):
            done = _ioc(
                "replay", str(eve), "--format", "suricata", "--source", "security",
                "--data-dir", str(settings.data_dir), cwd=tmp_path,
            )  # fmt: skip
            assert done.returncode == 1, done.stderr  # the broken line is refused
            assert "1,200 accepted, 1 rejected" in done.stderr, done.stderr
            assert "replay eve.json (suricata):" in done.stderr

            def stored() -> dict | None:
                kpis = httpx.get(f"{settings.api_url}/api/kpis").json()
                return kpis if kpis["events"].get("security") == 1200 else None

            wait_until(stored, 60, f"replay {attempt} stored", processor, api)
        missing = _ioc("replay", str(eve), "--format", "suricata",
                       "--data-dir", str(settings.data_dir), cwd=tmp_path)  # fmt: skip
        assert missing.returncode != 0 and "--format needs --source" in missing.stderr
    finally:
        api.stop()
        processor.stop()
