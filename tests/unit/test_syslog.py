"""The syslog listener without sockets: framing (RFC 6587 octet counting and lines, UDP
datagrams), headers (RFC 5424 and RFC 3164, on the RFCs' own examples), a message to the
pipeline's record, and the buffer's backpressure episode on a fake broker; hypothesis:
no bytes, however cut, make the framer, the parser or the pipeline fail."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestors.body import RawRecord
from ingestors.formats import FORMATS
from ingestors.pipeline import judge
from ingestors.publisher import Rejected
from ingestors.syslog import (
    INVALID_RECORD,
    Item,
    RefusalNotice,
    SyslogConfigError,
    SyslogListener,
    SyslogSpec,
    interpret,
    judge_items,
    read_udp_drops,
    udp_drops,
)
from ingestors.syslog_frames import (
    BAD_FRAME,
    FRAME_TOO_LONG,
    Frame,
    HeaderError,
    StreamFramer,
    datagram_frame,
    parse_message,
)
from ioc.cli import main
from ioc.config import Settings
from ioc.events import Event
from tests.probes import FlakyBroker
from tests.unit.formats.samples import (
    AGENCY,
    CEF_SPEC,
    CEF_SYSLOG,
    RECEIVED,
    SURICATA_ALERT,
    SURICATA_DNS,
    WAZUH_ALERT,
    ctx,
)

PROPERTIES = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
VN = timezone(timedelta(hours=7))
SPEC = SyslogSpec(agency=AGENCY)


def frames(framer: StreamFramer, *chunks: bytes, finish: bool = True) -> list[Frame]:
    out: list[Frame] = []
    for chunk in chunks:
        framer.feed(chunk)
        while (frame := framer.next()) is not None:
            out.append(frame)
    if finish:
        last = framer.finish()
        if last is not None:
            out.append(last)
    return out


def datas(found: Sequence[Frame]) -> list[bytes]:
    return [f.data for f in found]


def octets(*messages: bytes) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) for m in messages)


# --- framing --------------------------------------------------------------------------------


def test_a_datagram_is_one_message_its_trailer_dropped() -> None:
    assert datagram_frame(b"<13>hi\n", 100) == Frame(b"<13>hi", 6)
    assert datagram_frame(b"<13>hi\r\n\x00", 100) == Frame(b"<13>hi", 6)
    assert datagram_frame(b"<13>a\nb", 100) == Frame(b"<13>a\nb", 7), "one datagram, one message"
    assert datagram_frame(b"\n\x00", 100) is None
    long = datagram_frame(b"x" * 150, 100)
    assert long is not None and long.reason == FRAME_TOO_LONG
    assert (long.data, long.size) == (b"x" * 100, 150)
    assert "frame of 150 bytes is longer than 100" in (long.error or "")


def test_the_first_byte_decides_the_framing_of_a_connection() -> None:
    digit, other = StreamFramer(100), StreamFramer(100)
    digit.feed(b"5 <1>a")
    other.feed(b"<1>a\n")
    assert (digit.mode, other.mode) == ("octet", "line")


def test_octet_counting_frames_in_one_read_and_across_reads() -> None:
    stream = octets(b"<13>one", b"<13>two\nstill two", b"<13>three")
    assert datas(frames(StreamFramer(100), stream)) == [
        b"<13>one", b"<13>two\nstill two", b"<13>three",
    ]  # fmt: skip
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    assert datas(frames(StreamFramer(100), *one_by_one)) == datas(frames(StreamFramer(100), stream))


def test_octet_counting_tolerates_a_newline_between_frames() -> None:
    stream = b"7 <13>one\n7 <13>two\r\n"
    assert datas(frames(StreamFramer(100), stream)) == [b"<13>one", b"<13>two"]


def test_a_too_long_octet_counted_frame_is_refused_and_the_next_one_read() -> None:
    stream = octets(b"<13>" + b"x" * 196, b"<13>after")
    found = frames(StreamFramer(50), stream[:30], stream[30:120], stream[120:])
    assert [f.reason for f in found] == [FRAME_TOO_LONG, None]
    assert (found[0].data, found[0].size) == ((b"<13>" + b"x" * 196)[:50], 200)
    assert found[1].data == b"<13>after"


@pytest.mark.parametrize(
    ("stream", "why"),
    [
        (b"12x <13>", "expected a space after the octet count b'12'"),
        (b"<13>hello", None),  # not octet counting at all: a line
        (b"5 <13>a" + b"hello", "expected an octet count (digits), got b'hello'"),
        (b"12345678901 x", "more than 10 digits"),
        (b"05 <13>", "cannot start with 0"),
    ],
)
def test_a_lost_octet_count_is_a_bad_frame_and_ends_the_connection(
    stream: bytes, why: str | None
) -> None:
    framer = StreamFramer(100)
    found = frames(framer, stream)
    if why is None:
        assert framer.mode == "line" and not framer.broken
        return
    assert framer.broken
    assert found[-1].reason == BAD_FRAME
    assert why in (found[-1].error or ""), found[-1].error
    framer.feed(b"5 <1>a")
    assert framer.next() is None, "nothing is framed after the framing was lost"


def test_a_connection_closed_inside_an_octet_counted_frame_refuses_it() -> None:
    found = frames(StreamFramer(100), b"20 <13>only part")
    assert [f.reason for f in found] == [BAD_FRAME]
    assert "after 13 of the 20 bytes" in (found[0].error or "")
    too_long = frames(StreamFramer(10), b"20 <13>only part")
    assert [f.reason for f in too_long] == [FRAME_TOO_LONG]
    assert "closed 7 bytes before the end of a frame of 20" in (too_long[0].error or "")


def test_lines_end_at_lf_crlf_or_nul_and_blank_lines_are_skipped() -> None:
    stream = b"<13>a\n<13>b\r\n\n\r\n<13>c\x00\x00<13>d"
    assert datas(frames(StreamFramer(100), stream)) == [b"<13>a", b"<13>b", b"<13>c", b"<13>d"]
    assert datas(frames(StreamFramer(100), stream, finish=False)) == [
        b"<13>a", b"<13>b", b"<13>c",
    ], "a last line without its LF waits for more, or for the connection to end"  # fmt: skip


def test_a_too_long_line_is_refused_with_its_size_and_the_next_line_read() -> None:
    long = b"<13>" + b"y" * 296
    found = frames(StreamFramer(64), long[:10], long[10:200], long[200:] + b"\n<13>next\n")
    assert [f.reason for f in found] == [FRAME_TOO_LONG, None]
    assert (found[0].data, found[0].size) == (long[:64], 300)
    assert found[1].data == b"<13>next"
    framer = StreamFramer(64)
    framer.feed(long)
    assert framer.next() is None and framer.pending == 0, "a too-long line is not held"


# --- headers --------------------------------------------------------------------------------


def test_rfc_5424s_examples() -> None:
    # RFC 5424 §6.5, examples 1 to 4 (the BOM before MSG as the RFC writes it).
    one = parse_message(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        "\ufeff'su root' failed for lonvick on /dev/pts/8",
        RECEIVED,
    )
    assert (one.pri, one.facility, one.severity, one.version) == (34, 4, 2, 1)
    assert one.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, UTC)
    assert (one.hostname, one.app_name, one.procid, one.msgid) == (
        "mymachine.example.com", "su", None, "ID47",
    )  # fmt: skip
    assert one.structured_data is None
    assert one.msg == "'su root' failed for lonvick on /dev/pts/8"

    two = parse_message(
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time "
        "to make the do-nuts.",
        RECEIVED,
    )
    assert two.timestamp == datetime(2003, 8, 24, 12, 14, 15, 3, UTC)
    assert (two.hostname, two.app_name, two.procid, two.msgid) == (
        "192.0.2.1", "myproc", "8710", None,
    )  # fmt: skip
    assert two.msg == "%% It's time to make the do-nuts."

    sd = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    three = parse_message(
        f"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 {sd} "
        "\ufeffAn application event log entry...",
        RECEIVED,
    )
    assert three.structured_data == sd
    assert three.msg == "An application event log entry..."

    four = parse_message(
        f"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        f'{sd}[examplePriority@32473 class="high"]',
        RECEIVED,
    )
    assert four.structured_data == sd + '[examplePriority@32473 class="high"]'
    assert four.msg == ""


def test_structured_data_values_may_hold_escaped_quotes_brackets_and_spaces() -> None:
    message = parse_message(
        r'<14>1 - - - - - [a@1 x="say \"hi\" ] [now]" y=""] CEF:0|msg', RECEIVED
    )
    assert message.structured_data == r'[a@1 x="say \"hi\" ] [now]" y=""]'
    assert message.msg == "CEF:0|msg"


def test_rfc_3164s_examples_and_the_assumed_zone() -> None:
    one = parse_message(
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        RECEIVED,
    )
    assert (one.pri, one.version, one.hostname, one.app_name) == (34, None, "mymachine", "su")
    assert one.timestamp == datetime(2026, 10, 11, 22, 14, 15, tzinfo=VN)
    assert one.bsd_time and one.assumed_zone
    assert one.msg == "'su root' failed for lonvick on /dev/pts/8"

    two = parse_message("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", RECEIVED)
    assert two.timestamp == datetime(2027, 2, 5, 17, 32, 18, tzinfo=VN), "nearest the receipt"
    assert (two.hostname, two.app_name, two.msg) == ("10.0.0.99", None, "Use the BFG!")


def test_a_bsd_time_is_in_the_year_nearest_the_receipt() -> None:
    new_year = datetime(2027, 1, 1, 0, 0, 5, tzinfo=VN)
    late = parse_message("<13>Dec 31 23:59:58 fw CEF:0|x", new_year)
    assert late.timestamp == datetime(2026, 12, 31, 23, 59, 58, tzinfo=VN)
    early = parse_message("<13>Jan  1 00:00:01 fw x", datetime(2026, 12, 31, 23, 59, tzinfo=VN))
    assert early.timestamp == datetime(2027, 1, 1, 0, 0, 1, tzinfo=VN), "a sender's clock ahead"
    with_year = parse_message("<13>Mar  3 2025 10:00:00.250 fw x", new_year)
    assert with_year.timestamp == datetime(2025, 3, 3, 10, 0, 0, 250000, tzinfo=VN)


@pytest.mark.parametrize(
    ("line", "host", "app", "procid", "msg"),
    [
        ("<134>Nov 22 09:47:00 fw-tinh CEF:0|a", "fw-tinh", None, None, "CEF:0|a"),
        ("<134>Nov 22 09:47:00 CEF:0|a", None, None, None, "CEF:0|a"),
        ('<134>Nov 22 09:47:00 sensor suricata[12]: {"a": 1}', "sensor", "suricata", "12",
         '{"a": 1}'),
        ('<134>Nov 22 09:47:00 suricata[12]: {"a": 1}', None, "suricata", "12", '{"a": 1}'),
        ('<134>Nov 22 09:47:00 wazuh-mgr {"a": 1}', "wazuh-mgr", None, None, '{"a": 1}'),
        ("<134>CEF:0|no time", None, None, None, "CEF:0|no time"),
        ("<134>2026-11-22T09:47:00+07:00 fw ossec: hi", "fw", "ossec", None, "hi"),
    ],
)  # fmt: skip
def test_rfc_3164_host_and_tag_are_told_from_the_message(
    line: str, host: str | None, app: str | None, procid: str | None, msg: str
) -> None:
    message = parse_message(line, RECEIVED)
    assert (message.hostname, message.app_name, message.procid, message.msg) == (
        host, app, procid, msg,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("hello", "no PRI: a syslog message starts with <PRI>"),
        ("<x>hello", "PRI must be '<', 1 to 3 digits and '>'"),
        ("<192>hello", "PRI 192 is over 191"),
        ("<13>2 - - - - - -", "VERSION 2 is not 1"),
        ("<13>1 - host app", "RFC 5424 header ends before PROCID"),
        ("<13>1 yesterday h a p m -", "TIMESTAMP 'yesterday' is not an RFC 3339 date-time"),
        ("<13>1 2026-11-22T09:47:00 h a p m -", "is not an RFC 3339 date-time with its offset"),
        ("<13>1 2026-02-30T09:47:00Z h a p m -", "is not a date"),
        ("<13>1 - h " + "a" * 49 + " p m -", "APP-NAME is longer than 48"),
        ("<13>1 - hôst a p m -", "HOSTNAME must be printable ASCII"),
        ("<13>1 - h  p m -", "APP-NAME is empty"),
        ("<13>1 - h a p m x", "STRUCTURED-DATA must be '-' or [SD-ID"),
        ('<13>1 - h a p m [id x="1"', "not closed by ']'"),
        ('<13>1 - h a p m [id x="1]', "PARAM-VALUE is not closed"),
        ("<13>1 - h a p m [id x=1]", 'expected name="value"'),
        ("<13>1 - h a p m -msg", "expected a space between STRUCTURED-DATA and MSG"),
        ("<13>Feb 30 10:00:00 h x", "TIMESTAMP 'Feb 30 10:00:00' is not a date"),
        ("<13>Foo 12 10:00:00 h x", "'Foo' is not a month"),
    ],
)
def test_a_malformed_header_names_what_is_wrong(line: str, why: str) -> None:
    with pytest.raises(HeaderError) as refused:
        parse_message(line, RECEIVED)
    assert why in str(refused.value), str(refused.value)


# --- a message to the pipeline --------------------------------------------------------------


def one(line: str | bytes, spec: SyslogSpec = SPEC) -> Item:
    data = line.encode() if isinstance(line, str) else line
    return interpret(Frame(data, len(data)), "udp", spec, RECEIVED)


def verdict_of(*items: Item, spec: SyslogSpec = SPEC) -> tuple[list[Event], list[Rejected]]:
    batch = judge_items(items, spec)
    return batch.events, batch.rejected


def test_cef_behind_a_syslog_header_is_the_same_event_as_over_http() -> None:
    events, rejected = verdict_of(one(CEF_SYSLOG))
    assert not rejected
    over_http = judge("security", [_raw(CEF_SYSLOG)], ctx()).events
    assert [e.model_dump() for e in events] == [e.model_dump() for e in over_http]


def test_cef_without_its_own_time_or_host_takes_the_headers() -> None:
    bsd, _ = verdict_of(one("<134>Nov 22 09:47:00 fw-tinh " + CEF_SPEC.replace("dst=2.1.2.2 ", "")))
    assert bsd[0].occurred_at == datetime(2026, 11, 22, 9, 47, tzinfo=VN)
    assert bsd[0].payload.asset == "fw-tinh"  # type: ignore[union-attr]
    rfc5424, _ = verdict_of(
        one(
            '<134>1 2026-11-22T02:47:00.5Z fw-5424 FortiGate - - [x@1 a="b"] '
            "\ufeff" + CEF_SPEC.replace("dst=2.1.2.2 ", "")
        )
    )
    assert rfc5424[0].occurred_at == datetime(2026, 11, 22, 2, 47, 0, 500000, UTC)
    assert rfc5424[0].payload.asset == "fw-5424"  # type: ignore[union-attr]
    assert bsd[0].event_id == rfc5424[0].event_id, (
        "one CEF text at one instant (to the second) is one event, whatever the header style"
    )


@pytest.mark.parametrize("record", [SURICATA_ALERT, WAZUH_ALERT])
def test_json_in_msg_is_detected_as_over_http(record: dict[str, object]) -> None:
    line = f"<14>1 2026-11-22T09:47:00+07:00 sensor app - - - {json.dumps(record)}"
    events, rejected = verdict_of(one(line))
    assert not rejected
    over_http = judge("security", [_raw(record)], ctx()).events
    assert [e.event_id for e in events] == [e.event_id for e in over_http]


def test_a_suricata_dns_record_is_skipped_not_refused() -> None:
    events, rejected = verdict_of(
        one("<14>Nov 22 09:47:00 s suricata: " + json.dumps(SURICATA_DNS))
    )
    assert (events, rejected) == ([], [])


@pytest.mark.parametrize(
    ("data", "reason", "why"),
    [
        (b"garbage", "bad_header", "syslog header: no PRI"),
        (b"<13>Nov 22 09:47:00 fw hello world", "unknown_format", "neither CEF"),
        (b"<13>Nov 22 09:47:00 fw", "unknown_format", "no MSG after its syslog header"),
        (b"<13>Nov 22 09:47:00 fw {not json", "invalid_record", "MSG is not valid JSON"),
        (b"<13>Nov 22 09:47:00 fw CEF:0|a|b|1|2|n|99|", "invalid_record", "header.severity"),
        (b"<13>Nov 22 09:47:00 fw \xff\xfe CEF", "not_utf8", "byte 0xff at offset 23"),
    ],
)
def test_refused_messages_keep_their_bytes_and_say_why(data: bytes, reason: str, why: str) -> None:
    batch = judge_items([one(data)], SPEC)
    assert not batch.events and len(batch.rejected) == 1
    refused = batch.rejected[0]
    assert refused.reason == reason and refused.source == "security"
    assert any(why in e for e in refused.errors), refused.errors
    assert batch.refused == {("udp", reason): 1}
    if reason == "not_utf8":
        assert (refused.raw, refused.raw_encoding) == (data, "hex")
    else:
        assert refused.raw == data.decode()


def test_a_named_format_is_used_for_every_message_and_the_agency_setting_fills_in() -> None:
    named = SyslogSpec(format=FORMATS["suricata"], agency=None)
    _, refused = verdict_of(
        one("<13>Nov 22 09:47:00 s " + json.dumps(WAZUH_ALERT), named), spec=named
    )
    assert refused and refused[0].errors, "a Wazuh alert is not Suricata EVE"
    no_agency = SyslogSpec(agency=None)
    _, refused = verdict_of(one(CEF_SPEC.join(["<13>", ""]), no_agency), spec=no_agency)
    assert "no agency" in refused[0].errors[0]
    events, _ = verdict_of(one("<13>" + CEF_SPEC))
    assert events[0].agency == AGENCY


def test_the_settings_are_checked_with_what_to_set() -> None:
    def spec(**values: Any) -> SyslogSpec:
        return SyslogSpec.from_settings(Settings(**values))

    assert spec().source == "security" and spec().format is None
    assert spec(syslog_format="cef").format is FORMATS["cef"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"syslog_format": "dvc"}, "is for filings, not security"),
        ({"syslog_source": "documents", "syslog_format": "edxml"}, "document format"),
        ({"syslog_agency": "H42"}, "not an agency code"),
        ({"syslog_udp_port": 0, "syslog_tcp_port": 0}, "set at least one"),
        ({"syslog_batch_records": 20, "syslog_buffer_records": 10}, "must not exceed"),
    ]
    for values, why in cases:
        with pytest.raises(SyslogConfigError) as refused:
            spec(**values)
        assert why in str(refused.value), values


def _raw(value: object) -> RawRecord:
    return RawRecord(index=0, value=value)


def test_help_says_what_ioc_syslog_needs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["syslog", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for needed in ("Needs:", "IOC_KAFKA_BOOTSTRAP", "no database, no ingest token",
                   "runtime.json", "octet counting", "IOC_SYSLOG_BUFFER_RECORDS"):  # fmt: skip
        assert needed in text, needed


async def test_a_port_it_cannot_have_is_refused_with_what_to_set() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        listener = SyslogListener(SyslogSpec(tcp_port=port, udp_port=None), FlakyBroker(0))
        with pytest.raises(SyslogConfigError) as refused:
            await listener.start()
    finally:
        taken.close()
    said = str(refused.value)
    assert f"cannot listen on TCP 127.0.0.1:{port}" in said, said
    assert "IOC_SYSLOG_TCP_PORT (--tcp-port)" in said and "0 for no TCP" in said


UDP_TABLE = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:1586 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17
  124: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0
"""  # noqa: E501  (/proc/net/udp as Linux writes it)


def test_the_kernels_udp_drops_are_read_for_the_listeners_socket() -> None:
    assert udp_drops(UDP_TABLE, 4242) == 17
    assert udp_drops(UDP_TABLE, 99) == 0
    assert udp_drops(UDP_TABLE, 7) is None and udp_drops("", 4242) is None


@pytest.mark.skipif(not Path("/proc/net/udp").exists(), reason="/proc/net/udp is Linux's")
def test_datagrams_a_full_receive_buffer_drops_are_counted_by_the_kernel() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's least
        receiver.bind(("127.0.0.1", 0))
        inode = os.fstat(receiver.fileno()).st_ino
        assert read_udp_drops(inode) == 0
        for _ in range(200):  # nobody reads: the buffer overflows
            sender.sendto(b"<13>" + b"x" * 1000, receiver.getsockname())
        deadline = time.monotonic() + 10  # delivery on loopback may finish a little later
        while not (read_udp_drops(inode) or 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        dropped = read_udp_drops(inode)
        assert dropped is not None and 0 < dropped <= 200
    finally:
        receiver.close()
        sender.close()


# --- the buffer: backpressure on a fake broker ----------------------------------------------


async def test_a_full_buffer_holds_tcp_drops_udp_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = FlakyBroker(failures=3)
    spec = SyslogSpec(agency=AGENCY, buffer_records=10, batch_records=2, backoff_max_s=0.05)
    listener = SyslogListener(spec, broker)
    lines = [CEF_SPEC.replace("spt=1232", f"spt={i}") for i in range(10)]
    with caplog.at_level(logging.INFO, logger="ingestors.syslog"):
        task = asyncio.create_task(listener.run())
        for line in lines:
            assert not listener.full
            listener.take(Frame(b"<13>" + line.encode(), 4 + len(line)), "tcp")
        assert listener.full and listener.buffered == 10
        for _ in range(3):  # UDP cannot wait: dropped, counted
            listener.drop("udp")
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not listener.buffered:
                break
        listener.stop()
        await task
    assert len(broker.events) == 10 and not listener.full
    assert [e.event_id for e in broker.events] == [
        e.event_id for e in judge("security", [_raw("<13>" + x) for x in lines], ctx()).events
    ], "delivered in the order received"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert sum("the buffer's bound (IOC_SYSLOG_BUFFER_RECORDS)" in m for m in said) == 1, said
    assert sum("UDP messages are dropped" in m for m in said) == 1, said
    assert sum("the broker did not acknowledge" in m for m in said) == 1, said
    assert any("3 UDP messages were dropped meanwhile" in m for m in said), said


def test_refusals_are_logged_once_per_kind_then_at_most_every_ten_minutes() -> None:
    notice = RefusalNotice(every_s=600)
    no_agency = Rejected("security", ["csNLabel=agency: no agency: the record names none"],
                         "CEF:0|…", INVALID_RECORD)  # fmt: skip
    bad_header = Rejected("security", ["header: no <PRI>"], "x", "bad_header")
    first = notice.note(no_agency, 0.0)
    assert first is not None and "no agency" in first and "IOC_SYSLOG_AGENCY" in first
    assert notice.note(no_agency, 1.0) is None and notice.note(no_agency, 599.0) is None
    other = notice.note(bad_header, 2.0)  # another kind: its own line
    assert other is not None and "bad_header" in other and "IOC_SYSLOG_AGENCY" not in other
    again = notice.note(no_agency, 600.0)
    assert again is not None and "(2 more like it since the last line)" in again
    assert notice.note(no_agency, 601.0) is None


class SilentBroker:
    """Never answers: a publish waits until it is given up."""

    async def publish(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None:
        await asyncio.sleep(3600)


async def test_stopping_gives_the_broker_at_most_the_drain_time_then_says_what_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = SyslogSpec(agency=AGENCY, batch_records=1, drain_s=0.5)
    listener = SyslogListener(spec, SilentBroker())
    with caplog.at_level(logging.INFO, logger="ingestors.syslog"):
        task = asyncio.create_task(listener.run())
        line = "<13>" + CEF_SPEC
        listener.take(Frame(line.encode(), len(line)), "tcp")
        await asyncio.sleep(0.1)  # its publish is in flight, unanswered
        started = time.monotonic()
        listener.stop()
        await asyncio.wait_for(task, 10)
    # Within the drain bound (and far from the 60 s a publish may otherwise take), so
    # that `ioc up`, which waits IOC_SYSLOG_DRAIN_S and a little, never has to kill it.
    assert time.monotonic() - started < spec.drain_s + 1.0
    assert listener.undelivered == 1
    said = [r.getMessage() for r in caplog.records]
    assert any("stopped with 1 records the broker did not acknowledge" in m for m in said), said


# --- properties -----------------------------------------------------------------------------


@st.composite
def cut(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` in chunks at arbitrary places."""
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def signature(found: Sequence[Frame]) -> list[tuple[str | None, bytes | None]]:
    """What must not depend on how the stream was cut (a lost octet count quotes what it
    had read, which does)."""
    return [(f.reason, None if f.reason == BAD_FRAME else f.data) for f in found]


streams = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from([b"", b"5 ", b"12 <13>", b"0 ", b"99999999999 ", b"<13>", b"\n\r\x00"]),
    st.binary(max_size=600),
)


@PROPERTIES
@given(data=streams, max_bytes=st.integers(1, 80), parts=st.data())
def test_arbitrary_bytes_in_arbitrary_chunks_never_break_the_framer(
    data: bytes, max_bytes: int, parts: st.DataObject
) -> None:
    chunks = parts.draw(cut(data))
    framer = StreamFramer(max_bytes)
    found = frames(framer, *chunks)
    assert all(len(f.data) <= max_bytes for f in found)
    assert all((f.error is None) == (f.reason is None) for f in found)
    assert all(f.size >= len(f.data) for f in found)
    assert framer.pending <= len(data)
    assert signature(found) == signature(frames(StreamFramer(max_bytes), data))
    datagram = datagram_frame(data, max_bytes)
    assert datagram is None or len(datagram.data) <= max_bytes


@PROPERTIES
@given(
    messages=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=8),
    parts=st.data(),
)
def test_octet_counted_streams_come_back_message_for_message(
    messages: list[bytes], parts: st.DataObject
) -> None:
    stream = octets(*messages)
    found = frames(StreamFramer(100), *parts.draw(cut(stream)))
    assert datas(found) == messages and not any(f.error for f in found)


@PROPERTIES
@given(
    messages=st.lists(
        st.binary(min_size=1, max_size=60).filter(
            lambda m: b"\n" not in m and b"\x00" not in m and not m.endswith(b"\r")
            and m.strip() != b"" and not m[:1].isdigit()
        ),
        min_size=1, max_size=8,
    ),
    trailer=st.sampled_from([b"\n", b"\r\n", b"\x00"]),
    parts=st.data(),
)  # fmt: skip
def test_line_framed_streams_come_back_message_for_message(
    messages: list[bytes], trailer: bytes, parts: st.DataObject
) -> None:
    stream = b"".join(m + trailer for m in messages)
    found = frames(StreamFramer(100), *parts.draw(cut(stream)))
    assert datas(found) == messages


@PROPERTIES
@given(text=st.text(max_size=200) | st.sampled_from([CEF_SYSLOG, "<13>1 - - - - - -"]))
def test_arbitrary_text_is_a_header_or_a_header_error(text: str) -> None:
    try:
        message = parse_message(text, RECEIVED)
    except HeaderError as error:
        assert str(error)
        return
    assert 0 <= message.pri <= 191
    assert message.msg in text


headers = st.sampled_from(
    ["<13>", "<134>Nov 22 09:47:00 fw ", "<14>1 - - - - - - ",
     "<14>1 2026-11-22T09:47:00Z h a p m - ", "<14>Nov 22 09:47:00 s suricata[1]: ", ""]
)  # fmt: skip
payloads = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([CEF_SPEC, CEF_SYSLOG, json.dumps(SURICATA_ALERT), json.dumps(WAZUH_ALERT),
                     json.dumps(SURICATA_DNS), "{}", "[1, 2]", "CEF:0|||||||", "\ud800"]),
    st.text(max_size=100),
)  # fmt: skip


@PROPERTIES
@given(header=headers, payload=payloads, named=st.sampled_from([None, "cef", "suricata"]))
def test_arbitrary_messages_never_break_the_pipeline_and_every_one_is_accounted_for(
    header: str, payload: str | bytes, named: str | None
) -> None:
    data = header.encode() + (
        payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
    )
    spec = SyslogSpec(agency=AGENCY, format=FORMATS[named] if named else None)
    for frame in (datagram_frame(data, 200), *frames(StreamFramer(200), data + b"\n")):
        if frame is None:
            continue
        batch = judge_items([interpret(frame, "tcp", spec, RECEIVED)], spec)
        assert batch.outcomes.total() == 1, "each message is accepted or refused, once"
        assert len(batch.rejected) == batch.outcomes[("tcp", "rejected")]
        for refused in batch.rejected:
            assert refused.errors and refused.reason
