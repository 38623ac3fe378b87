"""`ioc bench --json` keeps its contract: a smoke run, the figures live in the README."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

CONTRACT = ("throughput_eps", "ceiling_eps", "ratio", "latency_p50_ms", "latency_p99_ms", "rss_mb")
PROCESSOR = ("processor_eps", "processor_eps_from_start", "processor_ratio", "processor_startup_s")
PHASES = {"idle", "decode", "write", "dead_letter", "announce", "commit", "other"}


def test_bench_prints_one_json_object_with_the_contract_keys() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    done = subprocess.run(
        [sys.executable, "-m", "ioc", "bench", "--events", "6000", "--json", "--processors", "2"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert all(result[key] > 0 for key in CONTRACT), result
    assert result["events"] == 6000
    assert result["ratio"] == pytest.approx(result["throughput_eps"] / result["ceiling_eps"])
    assert result["latency_p50_ms"] <= result["latency_p99_ms"]
    assert set(result["rss_mb_by_process"]) == {"serve", "process-1", "process-2"}
    assert result["processors"] == 2
    assert "ceiling:" in done.stderr and "steady:" in done.stderr  # progress lines
    # The processor-only stage, against the ceiling of the same run.
    assert all(result[key] > 0 for key in PROCESSOR), result
    assert result["processor_ratio"] == pytest.approx(
        result["processor_eps"] / result["ceiling_eps"]
    )
    assert result["processor_eps_from_start"] < result["processor_eps"]
    # The validated ceiling: the same consume with each record validated and stored,
    # no domain logic - below the plain ceiling, and what the processor is set against.
    assert 0 < result["validated_ceiling_eps"] < result["ceiling_eps"]
    assert result["validated_ceiling_ratio"] == pytest.approx(
        result["validated_ceiling_eps"] / result["ceiling_eps"]
    )
    assert result["processor_to_validated_ratio"] == pytest.approx(
        result["processor_eps"] / result["validated_ceiling_eps"]
    )
    assert "validated ceiling:" in done.stderr
    # Its breakdown, read from the processor's /metrics: shares of the measured window.
    shares = result["processor_phase_share"]
    assert set(shares) == PHASES
    assert shares["write"] > 0
    # At 6,000 events (three batches) every batch may already be polled and decoded,
    # ahead of the write, before the first commit opens the window: decode may be 0.
    assert 0 <= shares["decode"] < 1
    # decode runs while the previous batch is written: the loop's other phases add up.
    assert sum(v for k, v in shares.items() if k != "decode") == pytest.approx(1)
    assert set(result["processor_write_step_share"]) == {
        "stage", "insert", "counts", "refold", "commit"
    }  # fmt: skip
    assert result["processor_write_step_share"]["refold"] > 0
    # Ingest alone per transport, against a bare producer of the same run.
    transports = result["ingest_transport_eps"]
    assert set(transports) == {"http_ndjson", "http_json_array", "syslog_tcp", "syslog_udp"}
    assert result["bare_producer_eps"] > 0 and all(eps > 0 for eps in transports.values())
    for name, ratio in result["ingest_transport_ratio"].items():
        assert ratio == pytest.approx(transports[name] / result["bare_producer_eps"])
    # Syslog over UDP says what became of every datagram: read or lost before the
    # listener read it; read, then delivered or dropped by the listener (buffer full).
    udp = result["syslog_udp"]
    assert udp["sent"] == 6000
    assert udp["sent"] == udp["read"] + udp["lost_in_kernel"]
    assert udp["read"] == udp["delivered"] + udp["dropped_buffer_full"]
    assert 0 <= udp["kernel_counted"] <= udp["lost_in_kernel"]  # the kernel's own count
    assert "over syslog UDP" in done.stderr
