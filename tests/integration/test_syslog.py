"""The syslog listener against the real embedded broker: UDP, TCP with octet counting and
TCP with one message per line, each with real CEF and Suricata EVE alerts and refusals,
checked by exactly what lands on the source and dead-letter topics; `ioc syslog` as a
process; and the broker stopped and restarted: TCP records held and delivered, TCP
reading stopped at the buffer's bound, UDP drops counted."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from ingestors.publisher import Publisher
from ingestors.syslog import SyslogListener, SyslogSpec, interpret, judge_items
from ingestors.syslog_frames import Frame
from ioc.config import Settings
from ioc.embedded.process import free_port
from ioc.kafka import make_consumer, make_producer
from tests.roles import async_wait_until, own_broker, restart_between_attempts, start_role
from tests.unit.formats.samples import AGENCY, RECEIVED, SURICATA_ALERT, SURICATA_DNS

pytestmark = pytest.mark.integration
MAX_FRAME = 2048


def cef(i: int) -> bytes:
    """A FortiGate IPS alert as a relay forwards it (RFC 3164 header, CEF), the `i`-th."""
    return (
        f"<134>Nov 22 09:47:00 fw-tinh CEF:0|Fortinet|FortiGate|7.2.5|13056|"
        f"HTTP.URI.SQL.Injection|High|src=203.0.113.7 dst=10.20.0.15 spt={40000 + i} "
        f"dhost=dichvucong.hatinh.gov.vn act=dropped cat=ips cs1Label=agency cs1={AGENCY} "
        f"rt=1795315620000"
    ).encode()


def suricata(record: dict[str, Any]) -> bytes:
    """Suricata's EVE as its syslog output sends it, behind an RFC 5424 header."""
    return (
        b"<14>1 2026-11-22T09:45:00.123+07:00 ids-01 suricata 2211 - "
        b'[meta@32473 sensor="dmz"] \xef\xbb\xbf' + json.dumps(record).encode()
    )


GOOD = [cef(0), suricata(SURICATA_ALERT), suricata(SURICATA_DNS), cef(1)]
BAD = {
    b"this is not syslog": "bad_header",
    b"<13>Nov 22 09:47:00 fw-tinh user admin logged in": "unknown_format",
    b"<13>Nov 22 09:47:00 fw-tinh CEF:0|Fortinet|FortiGate|7|1|n|99|src=1.2.3.4": (
        "invalid_record"
    ),
    b"<13>Nov 22 09:47:00 fw-tinh CEF:0|\xff\xfe|x": "not_utf8",
    b"<13>Nov 22 09:47:00 fw-tinh CEF:0|" + b"x" * MAX_FRAME: "frame_too_long",
}


def expected(messages: list[bytes]) -> tuple[list[str], list[tuple[str, str]]]:
    """(event ids, (reason, raw) of each dead letter) the pipeline makes of `messages`."""
    spec = SyslogSpec(agency=AGENCY, max_frame_bytes=MAX_FRAME)
    items = []
    for data in messages:
        frame = Frame(data[:MAX_FRAME], len(data))
        if len(data) > MAX_FRAME:
            frame = Frame(data[:MAX_FRAME], len(data), "too long", "frame_too_long")
        items.append(interpret(frame, "udp", spec, RECEIVED))
    batch = judge_items(items, spec)
    letters = [
        (r.reason, r.raw.hex() if isinstance(r.raw, bytes) else r.raw) for r in batch.rejected
    ]
    return [e.event_id for e in batch.events], letters


@asynccontextmanager
async def listening(settings: Settings, **options: Any) -> AsyncIterator[SyslogListener]:
    """A listener running in this process, as `ioc syslog` runs one, until the block ends."""
    spec = SyslogSpec(
        agency=AGENCY, max_frame_bytes=MAX_FRAME, batch_s=0.02, backoff_max_s=2, **options
    )
    producer = make_producer(settings)
    await producer.start()
    listener = SyslogListener(spec, Publisher(producer, settings))
    await listener.start()
    task = asyncio.create_task(listener.run())
    try:
        yield listener
    finally:
        listener.stop()
        await asyncio.wait_for(task, 90)
        await asyncio.wait_for(producer.stop(), 30)


async def exactly(settings: Settings, topic: str, count: int, quiet_s: float = 2) -> list[Any]:
    """Every record on `topic`: waits (60 s at most) for `count`, then until nothing more
    comes for `quiet_s`, so that an extra record would show."""
    consumer = make_consumer(settings, topic, group_id=None)
    await consumer.start()
    got: list[Any] = []
    try:
        quiet_since, deadline = None, time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=250)
            got.extend(m for messages in batch.values() for m in messages)
            if batch or len(got) < count:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                break
    finally:
        await consumer.stop()
    return got


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def send_udp(port: int, messages: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for message in messages:
            sock.sendto(message, ("127.0.0.1", port))
            await asyncio.sleep(0.002)  # one sender's pace: the test is not a UDP flood


async def send_tcp(port: int, stream: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(stream)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def octets(messages: list[bytes]) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) for m in messages)


def lines(messages: list[bytes], trailers: tuple[bytes, ...] = (b"\n", b"\r\n", b"\x00")) -> bytes:
    return b"".join(m + trailers[i % len(trailers)] for i, m in enumerate(messages))


@pytest.mark.parametrize("transport", ["udp", "tcp octet counting", "tcp lines"])
async def test_each_transport_lands_exactly_the_right_records(
    settings: Settings, transport: str
) -> None:
    messages = [*GOOD[:2], *BAD, *GOOD[2:]]  # the good ones go on after every refusal
    event_ids, letters = expected(messages)
    assert len(event_ids) == 3 and len(letters) == len(BAD)  # the dns record is no event
    label = transport.split()[0]
    before = {reason: metric("ioc_syslog_refused_total", transport=label, reason=reason)
              for reason in BAD.values()}  # fmt: skip
    received = metric("ioc_syslog_messages_total", transport=label)
    async with listening(settings) as listener:
        assert listener.udp_port and listener.tcp_port
        if transport == "udp":
            await send_udp(listener.udp_port, messages)
        elif transport == "tcp octet counting":
            stream = octets(messages)
            await send_tcp(listener.tcp_port, stream[:100])  # one connection per part...
            _, writer = await asyncio.open_connection("127.0.0.1", listener.tcp_port)
            for i in range(0, len(stream), 700):  # ...and one sent in pieces
                writer.write(stream[i : i + 700])
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.close()
            await writer.wait_closed()
            # The first connection held 100 bytes: the start of a frame, refused as cut short.
            count = len(str(len(messages[0]))) + 1  # "LEN "
            letters.append(("bad_frame", stream[count:100].decode()))
        else:
            await send_tcp(listener.tcp_port, lines(messages))

        events = await exactly(settings, settings.source_topics["security"], len(event_ids))
        dead = await exactly(settings, settings.deadletter_topic, len(letters))

    stored = [json.loads(m.value) for m in events]
    assert sorted(e["event_id"] for e in stored) == sorted(event_ids)
    for message, event in zip(events, stored, strict=True):  # keyed by the alert
        assert message.key.decode() == event["payload"]["alert_id"]
    fortigate = next(e for e in stored if e["event_id"].startswith("cef-"))
    assert fortigate["agency"] == AGENCY and fortigate["payload"]["severity"] == "high"
    assert fortigate["payload"]["asset"] == "dichvucong.hatinh.gov.vn"
    assert fortigate["occurred_at"].startswith("2026-11-22T02:47:00")

    got = [json.loads(m.value) for m in dead]
    assert sorted((d["reason"], d["raw"]) for d in got) == sorted(letters)
    assert {d["stage"] for d in got} == {"ingest"} and all(d["errors"] for d in got)
    too_long = next(d for d in got if d["reason"] == "frame_too_long")
    assert (
        f"frame of {len(max(messages, key=len))} bytes is longer than {MAX_FRAME}"
        in too_long["errors"][0]
    )
    assert len(too_long["raw"]) == MAX_FRAME
    not_utf8 = next(d for d in got if d["reason"] == "not_utf8")
    assert not_utf8["raw_encoding"] == "hex" and "byte 0xff" in not_utf8["errors"][0]
    for reason in BAD.values():
        assert metric("ioc_syslog_refused_total", transport=label, reason=reason) == (
            before[reason] + 1
        ), reason
    sent = len(messages) + (1 if transport == "tcp octet counting" else 0)
    assert metric("ioc_syslog_messages_total", transport=label) == received + sent


async def test_ioc_syslog_runs_as_a_process_and_delivers_what_it_holds_on_sigterm(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    role = start_role(
        settings, "syslog", tmp_path, IOC_SYSLOG_UDP_PORT=str(port),
        IOC_SYSLOG_TCP_PORT=str(port), IOC_SYSLOG_AGENCY=AGENCY,
        IOC_SYSLOG_BATCH_MS="60000", IOC_SYSLOG_BATCH_RECORDS="1000",
    )  # fmt: skip
    try:

        async def listening_now() -> bool:
            return "syslog: listening on" in role.log()

        await async_wait_until(listening_now, 60, "ioc syslog listening", role)
        messages = [cef(i) for i in range(20)]
        await send_tcp(port, lines(messages[:10]))
        await send_udp(port, messages[10:])
        await asyncio.sleep(1)  # taken, and held: the batch waits for a minute or 1,000
        role.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(role.process.wait, 60) == 0, role.log()
    finally:
        role.stop()
    event_ids, _ = expected(messages)
    events = await exactly(settings, settings.source_topics["security"], 20)
    assert sorted(json.loads(m.value)["event_id"] for m in events) == sorted(event_ids)
    assert "delivering the 20 records held" in role.log(), role.log()


async def test_a_broker_outage_holds_tcp_records_stops_reading_and_counts_udp_drops(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker, settings = await own_broker(settings, tmp_path)
    topic = settings.source_topics["security"]
    dropped = metric("ioc_syslog_dropped_total", transport="udp")
    try:
        with caplog.at_level(logging.INFO, logger="ingestors.syslog"):
            async with listening(settings, buffer_records=40, batch_records=5) as listener:
                assert listener.tcp_port and listener.udp_port
                await send_tcp(listener.tcp_port, octets([cef(i) for i in range(5)]))
                before = await exactly(settings, topic, 5, quiet_s=0.5)
                assert len(before) == 5

                broker.stop()
                # Held while the broker is down: 25 records, below the bound.
                _, writer = await asyncio.open_connection("127.0.0.1", listener.tcp_port)
                writer.write(lines([cef(i) for i in range(5, 30)]))
                await writer.drain()

                async def buffered(n: int) -> bool:
                    return listener.buffered == n

                await async_wait_until(lambda: buffered(25), 30, "25 records held")
                assert not listener.full

                # 60 more on the same connection: the buffer fills at 40, and TCP stops
                # reading; what it had read waits in the connection, not in the buffer.
                writer.write(lines([cef(i) for i in range(30, 90)]))
                await writer.drain()
                await async_wait_until(lambda: buffered(40), 30, "the buffer full")
                assert listener.full
                assert metric("ioc_syslog_backpressure") == 1
                await asyncio.sleep(1)
                assert listener.buffered == 40, "no more is read past the bound"

                # UDP cannot wait: each message is dropped and counted.
                await send_udp(listener.udp_port, [cef(i) for i in range(1000, 1010)])

                async def all_dropped() -> bool:
                    return metric("ioc_syslog_dropped_total", transport="udp") == dropped + 10

                await async_wait_until(all_dropped, 30, "10 UDP drops counted")

                await restart_between_attempts(broker, listener._broker, settings)
                await async_wait_until(lambda: buffered(0), 120, "everything delivered")
                assert not listener.full and metric("ioc_syslog_backpressure") == 0
                writer.close()
                await writer.wait_closed()
            after = await exactly(settings, topic, 85)
        tcp_ids, _ = expected([cef(i) for i in range(5, 90)])
        got = [json.loads(m.value)["event_id"] for m in after]
        assert set(got) == set(tcp_ids), "every TCP record, once the broker is back"
        udp_ids, _ = expected([cef(i) for i in range(1000, 1010)])
        assert not set(udp_ids) & set(got), "the dropped UDP messages are not there"
        said = [r.getMessage() for r in caplog.records if r.name == "ingestors.syslog"]
        assert sum("TCP connections stop reading" in m for m in said) == 1, said
        assert sum("UDP messages are dropped" in m for m in said) == 1, said
        assert sum("the broker did not acknowledge" in m for m in said) == 1, said
        assert any("10 UDP messages were dropped meanwhile" in m for m in said), said
    finally:
        broker.stop()
