"""`ioc syslog`: security devices' syslog over UDP and TCP, through the format pipeline.

Firewalls, IDS sensors and SIEM relays forward alerts as syslog: a header (RFC 5424 or
RFC 3164, read by `ingestors.syslog_frames`) and a MSG that carries the alert - a CEF
line (`CEF:0|…`) or a JSON record (Suricata EVE, Wazuh, ECS, canonical). The listener
frames each message (UDP: a datagram; TCP: octet counting or one per line, decided per
connection), reads its header, and hands its MSG to the same pipeline as
`POST /ingest/{source}` (`ingestors.pipeline.judge`, then `Publisher.publish`) for
`IOC_SYSLOG_SOURCE` (default `security`) in `IOC_SYSLOG_FORMAT` (empty: CEF when MSG
starts with `CEF:`, else JSON detected per record). `IOC_SYSLOG_AGENCY` plays the part
of `?agency=` for records that name no agency.

**What the header adds.** Only what a format reads from it: CEF takes the header's
time and host when its own fields give none (`rt`, `dhost`…), as it does for a CEF line
posted with its syslog header; the JSON formats carry their own and take nothing from
it. No field is made up from the header.

**Refused, never dropped silently.** A frame too long (`IOC_SYSLOG_MAX_FRAME_BYTES`), a
broken octet count, a header that cannot be read, a message that is not UTF-8, a MSG
that is neither CEF nor JSON, or a record its format refuses: each goes to the
dead-letter topic with its bytes (as text, or as hex when they are not UTF-8) and the
reason (`frame_too_long`, `bad_frame`, `bad_header`, `not_utf8`, `unknown_format`,
`invalid_record`), and `ioc_syslog_refused_total{transport,reason}` moves.

**Batches and the buffer.** Messages are judged and published in batches of at most
`IOC_SYSLOG_BATCH_RECORDS`, or what came within `IOC_SYSLOG_BATCH_MS` of a batch's first
message; one publish is in flight at a time, so they arrive in order, and the batches
that queued behind it go together in the next. Everything received and not yet
acknowledged by the broker counts against `IOC_SYSLOG_BUFFER_RECORDS`. When that bound
is reached - the broker is down, or messages come faster than they can be published -
TCP connections stop reading (the senders' own buffers hold what they send next; TCP
tells them to wait) and UDP messages are dropped and counted
(`ioc_syslog_dropped_total`: UDP cannot be told to wait), until the buffer has drained
to half. One log line when TCP stops reading, one at the first UDP drop, one when it is
over, never one per message. Batches the broker does not acknowledge are retried with
backoff (1 s doubling, at most `IOC_SYSLOG_BACKOFF_MAX_S`) and delivered in order once
it is back; a batch retried after a partial send may put some records twice, which the
processor de-duplicates by event id. On SIGTERM/SIGINT the listener stops taking
messages, frames what its connections had already read, and delivers everything it holds
(for at most `IOC_SYSLOG_DRAIN_S`, then says how many records it could not deliver).

The pure parts (a frame to a record, records to a batch) come first; `SyslogListener`
is the I/O shell around them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
from aiokafka.errors import KafkaError
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge, start_http_server
from pydantic import TypeAdapter, ValidationError

from ingestors import metrics, pipeline
from ingestors.body import RawRecord, parse_records
from ingestors.formats import FORMATS, Format, MapContext, UnknownFormat, format_named
from ingestors.pipeline import Judgement, judge, received_now
from ingestors.poller import Trouble
from ingestors.publisher import Publisher, Rejected
from ingestors.syslog_frames import (
    Frame,
    HeaderError,
    StreamFramer,
    SyslogMessage,
    datagram_frame,
    parse_message,
)
from ioc.config import Settings
from ioc.events import Event
from ioc.fields import AgencyCode

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 60.0  # the producer gives up by itself after its request timeout
# One publish (one wait for the broker's acknowledgement) is in flight at a time, so that
# batches arrive in order and a retry resends exactly what failed; what queued up behind
# it goes in the next one, up to this many batches.
PUBLISH_BATCHES = 10
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024  # asked of the kernel; it may grant less (rmem_max)

# Why a message was refused: the dead letter's `reason` and the metric's label.
BAD_HEADER = "bad_header"
NOT_UTF8 = "not_utf8"
UNKNOWN_FORMAT = "unknown_format"
INVALID_RECORD = "invalid_record"
Transport = str  # "udp" or "tcp"

MESSAGES = MetricCounter(
    "ioc_syslog_messages_total",
    "Syslog messages received, by transport (including refused and dropped ones)",
    ["transport"],
)
DROPPED = MetricCounter(
    "ioc_syslog_dropped_total",
    "Syslog messages dropped because the buffer was full (UDP only: TCP stops reading)",
    ["transport"],
)
RECORDS = MetricCounter(
    "ioc_syslog_records_total",
    "Syslog messages the broker acknowledged: accepted (on the source topic) or rejected "
    "(on the dead-letter topic)",
    ["transport", "outcome"],
)
REFUSED = MetricCounter(
    "ioc_syslog_refused_total",
    "Syslog messages dead-lettered, by reason: frame_too_long, bad_frame, bad_header, "
    "not_utf8, unknown_format, invalid_record (refused by its format)",
    ["transport", "reason"],
)
BUFFERED = Gauge(
    "ioc_syslog_buffered_records",
    "Syslog messages received and not yet acknowledged by the broker (bounded by "
    "IOC_SYSLOG_BUFFER_RECORDS)",
)
BACKPRESSURE = Gauge(
    "ioc_syslog_backpressure",
    "1 while the buffer is full: TCP connections do not read, UDP messages are dropped",
)
KERNEL_DROPS = Gauge(
    "ioc_syslog_udp_kernel_drops",
    "Datagrams the kernel dropped for the listener's UDP socket before the listener read "
    "them (its receive buffer was full), as /proc/net/udp counts them; Linux only",
)
CONNECTIONS = Gauge("ioc_syslog_tcp_connections", "Open TCP connections of the syslog listener")
ACCEPTED_CONNECTIONS = MetricCounter(
    "ioc_syslog_tcp_connections_accepted_total", "TCP connections the syslog listener accepted"
)


class SyslogConfigError(ValueError):
    """The listener's settings cannot work; the message says what to set."""


# --- pure: a message to a record -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyslogSpec:
    """What the listener needs, checked once (`from_settings`). A port of None is off;
    0 asks the system for a free one (tests)."""

    source: str = "security"
    format: Format | None = None  # None: CEF or JSON, detected per message
    agency: str | None = None
    host: str = "127.0.0.1"
    udp_port: int | None = 0
    tcp_port: int | None = 0
    max_frame_bytes: int = 64 * 1024
    buffer_records: int = 10_000
    batch_records: int = 500
    batch_s: float = 0.05
    backoff_max_s: float = 30.0
    drain_s: float = 30.0

    @property
    def low_water(self) -> int:
        """Where a full buffer must drain to before TCP reads and UDP is taken again."""
        return self.buffer_records // 2

    @classmethod
    def from_settings(cls, s: Settings) -> SyslogSpec:
        try:
            chosen = format_named(s.syslog_source, s.syslog_format.strip() or None)
        except UnknownFormat as error:
            raise SyslogConfigError(f"IOC_SYSLOG_FORMAT: {error}") from None
        if chosen is not None and not carried_by_syslog(chosen):
            raise SyslogConfigError(
                f"IOC_SYSLOG_FORMAT={chosen.name} is a document format, not one a syslog MSG "
                f"carries: use cef or a JSON format ({', '.join(syslog_formats(s.syslog_source))})"
            )
        agency = s.syslog_agency.strip() or None
        if agency is not None:
            try:
                TypeAdapter(AgencyCode).validate_python(agency)
            except ValidationError:
                raise SyslogConfigError(
                    f"IOC_SYSLOG_AGENCY={agency!r} is not an agency code (e.g. 000.00.31.H42)"
                ) from None
        udp = s.syslog_udp_port or None
        tcp = s.syslog_tcp_port or None
        if udp is None and tcp is None:
            raise SyslogConfigError(
                "IOC_SYSLOG_UDP_PORT and IOC_SYSLOG_TCP_PORT are both 0 (off): set at least one"
            )
        if s.syslog_batch_records > s.syslog_buffer_records:
            raise SyslogConfigError(
                f"IOC_SYSLOG_BATCH_RECORDS ({s.syslog_batch_records}) must not exceed "
                f"IOC_SYSLOG_BUFFER_RECORDS ({s.syslog_buffer_records})"
            )
        return cls(
            source=s.syslog_source,
            format=chosen,
            agency=agency,
            host=s.syslog_host,
            udp_port=udp,
            tcp_port=tcp,
            max_frame_bytes=s.syslog_max_frame_bytes,
            buffer_records=s.syslog_buffer_records,
            batch_records=s.syslog_batch_records,
            batch_s=s.syslog_batch_ms / 1000,
            backoff_max_s=s.syslog_backoff_max_s,
            drain_s=s.syslog_drain_s,
        )


CEF = FORMATS["cef"]


def carried_by_syslog(fmt: Format) -> bool:
    """CEF lines and the JSON formats fit in a syslog MSG; XML documents do not."""
    return fmt is CEF or fmt.parser is parse_records


def syslog_formats(source: str) -> list[str]:
    return [f.name for f in FORMATS.values() if source in f.sources and carried_by_syslog(f)]


@dataclass(frozen=True, slots=True)
class Item:
    """One received message, ready for a batch: a record to judge in `format` (None:
    detected per record), or a refusal already decided (framing, header, encoding)."""

    transport: Transport
    received_at: datetime
    record: RawRecord | None = None
    format: Format | None = None
    refused: Rejected | None = None


def interpret(frame: Frame, transport: Transport, spec: SyslogSpec, at: datetime) -> Item:
    """What one frame becomes. Pure; never raises."""

    def refuse(reason: str, error: str, *, hex: bool = False) -> Item:
        raw = frame.data if hex else frame.data.decode("utf-8", "replace")
        rejected = Rejected(
            source=spec.source, errors=[error], raw=raw, reason=reason,
            raw_encoding="hex" if hex else "text",
        )  # fmt: skip
        return Item(transport, at, refused=rejected)

    if frame.error is not None:
        return refuse(frame.reason or "bad_frame", frame.error)
    try:
        text = frame.data.decode("utf-8")
    except UnicodeDecodeError as error:
        return refuse(
            NOT_UTF8,
            f"the message is not UTF-8: byte 0x{frame.data[error.start]:02x} at offset "
            f"{error.start} ({error.reason}); send UTF-8 (RFC 5424 MSG-UTF8)",
            hex=True,
        )
    try:
        message = parse_message(text, at)
    except HeaderError as error:
        return refuse(BAD_HEADER, f"syslog header: {error}")
    body = message.msg.strip()
    fmt = spec.format
    if fmt is None:
        if body.startswith("CEF:"):
            if spec.source not in CEF.sources:
                return refuse(UNKNOWN_FORMAT, f"MSG is CEF, which is not a format of {spec.source}")
            fmt = CEF
        elif not body:
            return refuse(UNKNOWN_FORMAT, "the message has no MSG after its syslog header")
        elif not body.startswith(("{", "[")):
            shown = body if len(body) <= 40 else body[:40] + "..."
            return refuse(
                UNKNOWN_FORMAT,
                f"MSG is neither CEF ('CEF:0|...') nor JSON ('{{...}}'): it starts {shown!r}",
            )
    if fmt is CEF:
        record = RawRecord(index=0, value=cef_line(message, body), raw=frame.data)
        return Item(transport, at, record=record, format=fmt)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        record = RawRecord(index=0, error=f"MSG is not valid JSON: {error}", raw=frame.data)
    else:
        record = RawRecord(index=0, value=value, raw=frame.data)
    return Item(transport, at, record=record, format=fmt)


_PLAIN_BSD = re.compile(r"[A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2}")


def cef_line(message: SyslogMessage, body: str) -> str:
    """The CEF text behind the header's time and host, in a form the CEF format reads
    (`ingestors.formats.cef`), and nothing else of the header: a plain BSD time as sent
    (CEF takes it as Vietnam time, with its warning), any other as RFC 5424's."""
    pri = f"<{message.pri}>"
    stamp = message.timestamp_text
    if message.bsd_time and stamp is not None and _PLAIN_BSD.fullmatch(stamp):
        host = f" {message.hostname}" if message.hostname else ""
        return f"{pri}{stamp}{host} {body}"
    if message.timestamp is None and message.hostname is None:
        return f"{pri}{body}"
    when = message.timestamp.isoformat() if message.timestamp is not None else "-"
    return f"{pri}1 {when} {message.hostname or '-'} {body}"


@dataclass
class Batch:
    """Messages judged together: what to publish, and what to count once it is."""

    items: int = 0
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    verdicts: list[Judgement] = field(default_factory=list)
    outcomes: Counter[tuple[Transport, str]] = field(default_factory=Counter)
    refused: Counter[tuple[Transport, str]] = field(default_factory=Counter)


def judge_items(items: Sequence[Item], spec: SyslogSpec) -> Batch:
    """The pipeline's verdict on a batch of messages (their receipt time: the first's).
    Pure; never raises."""
    batch = Batch(items=len(items))
    if not items:
        return batch
    groups: dict[tuple[Transport, str | None], list[RawRecord]] = {}
    formats: dict[str | None, Format | None] = {}
    for item in items:
        if item.refused is not None:
            batch.rejected.append(item.refused)
            batch.outcomes[(item.transport, "rejected")] += 1
            batch.refused[(item.transport, item.refused.reason)] += 1
        elif item.record is not None:
            name = item.format.name if item.format is not None else None
            formats[name] = item.format
            groups.setdefault((item.transport, name), []).append(item.record)
    ctx = MapContext(source=spec.source, received_at=items[0].received_at, agency=spec.agency)
    for (transport, name), records in groups.items():
        verdict = judge(spec.source, records, ctx, formats[name])
        batch.verdicts.append(verdict)
        batch.events += verdict.events
        batch.rejected += verdict.rejected
        batch.outcomes[(transport, "accepted")] += verdict.accepted
        if verdict.refused:
            batch.outcomes[(transport, "rejected")] += verdict.refused
            batch.refused[(transport, INVALID_RECORD)] += verdict.refused
    return batch


REFUSAL_LOG_EVERY_S = 600.0


class RefusalNotice:
    """When to log a refused message: a syslog sender gets no answer, so the operator must
    learn from the log what is wrong and what to fix - but a device sending the same bad
    message a thousand times a minute must not flood it. One line per kind of refusal
    (its reason and the field its first error names), then at most one every
    `every_s` seconds for that kind, saying how many were refused meanwhile. Pure: the
    caller passes the (monotonic) time."""

    def __init__(self, every_s: float = REFUSAL_LOG_EVERY_S) -> None:
        self.every_s = every_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def note(self, refused: Rejected, now: float) -> str | None:
        """The line to log for this refusal, or None while its kind was logged lately."""
        first = refused.errors[0] if refused.errors else refused.reason
        kind = (refused.reason, first.split(":", 1)[0])
        last = self._last.get(kind)
        if last is not None and now - last[0] < self.every_s:
            self._last[kind] = (last[0], last[1] + 1)
            return None
        since = f" ({last[1]} more like it since the last line)" if last and last[1] else ""
        self._last[kind] = (now, 0)
        hint = (
            "; devices whose messages name no agency need IOC_SYSLOG_AGENCY"
            if "no agency" in first
            else ""
        )
        return (
            f"syslog: refused a message ({refused.reason}): {first}{hint}{since}; it is on "
            f"the dead-letter topic, and more like it are counted (ioc_syslog_refused_total), "
            f"logged again in {self.every_s / 60:g} min at most"
        )


def udp_drops(table: str, inode: int) -> int | None:
    """The `drops` of the socket with this inode in a /proc/net/udp (or udp6) table: the
    datagrams the kernel dropped for it (None when it is not there). Pure."""
    wanted = str(inode)
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 13 and fields[9] == wanted and fields[-1].isdigit():
            return int(fields[-1])
    return None


def read_udp_drops(inode: int) -> int | None:
    """`udp_drops` of this machine's tables; None where there are none (not Linux)."""
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path, encoding="ascii", errors="replace") as table:
                found = udp_drops(table.read(), inode)
        except OSError:
            continue
        if found is not None:
            return found
    return None


# --- the I/O shell ---------------------------------------------------------------------------


class Sink(Protocol):
    async def publish(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None: ...


@dataclass
class _Episode:
    """One stretch of a full buffer, for its log lines: from the first fill to the buffer
    drained again (a full buffer may refill before it has drained, under a load it cannot
    keep up with; that is the same episode)."""

    since: float
    fills: int = 1
    dropped: int = 0


class SyslogListener:
    """UDP and TCP servers feeding one buffer of batches, and the task that publishes them."""

    def __init__(
        self,
        spec: SyslogSpec,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = received_now,
    ) -> None:
        self.spec = spec
        self._sink = sink
        self._clock = clock
        self._now = now
        self._open: list[Item] = []
        self._opened_at = 0.0
        self._closed: deque[Batch] = deque()
        self.buffered = 0
        self.full = False
        self._closing = False
        self._episode: _Episode | None = None
        self._connections: set[_TcpConnection] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._broker = Trouble(spec.backoff_max_s)
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self.undelivered = 0  # records left when stopped with the broker still down
        self._refusals = RefusalNotice()
        self._received = {t: MESSAGES.labels(t) for t in ("udp", "tcp")}
        BUFFERED.set_function(lambda: self.buffered)
        BACKPRESSURE.set(0)

    # -- the servers -----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the UDP and TCP ports that are on. Raises SyslogConfigError when a port
        cannot be had (in use, or below 1024 without the right to it)."""
        loop = asyncio.get_running_loop()
        spec = self.spec
        if spec.tcp_port is not None:
            try:
                self._tcp = await loop.create_server(
                    lambda: _TcpConnection(self), spec.host, spec.tcp_port, reuse_address=True
                )
            except OSError as error:
                raise _unbound("TCP", spec.host, spec.tcp_port, error) from None
        if spec.udp_port is not None:
            family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
                sock.bind((spec.host, spec.udp_port))
            except OSError as error:
                sock.close()
                if self._tcp is not None:
                    self._tcp.close()
                raise _unbound("UDP", spec.host, spec.udp_port, error) from None
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), sock=sock
            )  # fmt: skip
            inode = os.fstat(sock.fileno()).st_ino
            KERNEL_DROPS.set_function(lambda: float(read_udp_drops(inode) or 0))

    @property
    def tcp_port(self) -> int | None:
        if self._tcp is None or not self._tcp.sockets:
            return None
        return int(self._tcp.sockets[0].getsockname()[1])

    @property
    def udp_port(self) -> int | None:
        if self._udp is None:
            return None
        return int(self._udp.get_extra_info("sockname")[1])

    def where(self) -> str:
        parts = [f"UDP {self.spec.host}:{self.udp_port}"] if self._udp is not None else []
        if self._tcp is not None:
            parts.append(f"TCP {self.spec.host}:{self.tcp_port}")
        return " and ".join(parts)

    # -- taking messages -------------------------------------------------------------------

    def take(self, frame: Frame, transport: Transport) -> None:
        """One message into the open batch (the buffer's bound is the callers' to check)."""
        self._received[transport].inc()
        item = interpret(frame, transport, self.spec, self._now())
        if not self._open:
            self._opened_at = self._clock()
            self._wake.set()  # the sender times this batch
        self._open.append(item)
        self.buffered += 1
        if len(self._open) >= self.spec.batch_records:
            self._close_open()
        if not self.full and not self._closing and self.buffered >= self.spec.buffer_records:
            self._fill()

    def drop(self, transport: Transport) -> None:
        """A UDP message that found the buffer full."""
        self._received[transport].inc()
        DROPPED.labels(transport).inc()
        episode = self._episode
        if episode is not None:
            episode.dropped += 1
            if episode.dropped == 1:
                log.warning(
                    "syslog: the buffer is full: UDP messages are dropped, and counted in "
                    "ioc_syslog_dropped_total, until it drains to %d records",
                    self.spec.low_water,
                )

    def _close_open(self) -> None:
        items, self._open = self._open, []
        self._closed.append(judge_items(items, self.spec))
        self._wake.set()

    def _fill(self) -> None:
        self.full = True
        BACKPRESSURE.set(1)
        for connection in list(self._connections):
            connection.pause()
        if self._episode is not None:
            self._episode.fills += 1
            return
        self._episode = _Episode(self._clock())
        tcp = (
            "TCP connections stop reading (their senders wait)" if self._tcp is not None
            else "nothing more is taken"
        )  # fmt: skip
        log.warning(
            "syslog: %d records wait for the broker's acknowledgement, the buffer's bound "
            "(IOC_SYSLOG_BUFFER_RECORDS): %s until it drains to %d",
            self.buffered, tcp, self.spec.low_water,
        )  # fmt: skip

    def _drained(self) -> None:
        """After a batch was delivered: resume below the low-water mark."""
        if self.full and self.buffered <= self.spec.low_water:
            self.full = False
            BACKPRESSURE.set(0)
            for connection in list(self._connections):
                connection.resume()
        episode = self._episode
        if (
            episode is not None
            and not self.full
            and (self.buffered <= min(self.spec.batch_records, self.spec.low_water))
        ):
            self._episode = None
            log.info(
                "syslog: the buffer has drained (%d records wait) after %.0f s full%s; "
                "TCP connections read again%s",
                self.buffered, self._clock() - episode.since,
                f" {episode.fills} times" if episode.fills > 1 else "",
                f"; {episode.dropped} UDP messages were dropped meanwhile"
                if episode.dropped else "",
            )  # fmt: skip

    # -- publishing ------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish batches until stopped; then stop taking messages and deliver what is
        held (for at most `drain_s`). Call `start` first."""
        try:
            await self._send(until_stopped=True)
        finally:
            self._closing = True
            self.full = False
            if self._tcp is not None:
                self._tcp.close()
            if self._udp is not None:
                self._udp.close()
            for connection in list(self._connections):
                connection.close()
            if self._open:
                self._close_open()
            deadline = self._clock() + self.spec.drain_s
            if self._closed:
                log.info(
                    "syslog: stopping: delivering the %d records held (for at most %g s)",
                    self.buffered,
                    self.spec.drain_s,
                )
                await self._send(until_stopped=False, deadline=deadline)
            if self._tcp is not None:
                await self._tcp.wait_closed()
            self.undelivered = self.buffered
            if self.buffered:
                log.error(
                    "syslog: stopped with %d records the broker did not acknowledge within "
                    "IOC_SYSLOG_DRAIN_S (%g s): they are lost; their senders sent them once",
                    self.buffered, self.spec.drain_s,
                )  # fmt: skip

    async def _send(self, *, until_stopped: bool, deadline: float | None = None) -> None:
        while True:
            if self._closed:
                batches = self._waiting()
                if not await self._publish(batches, deadline):
                    return
                for _ in batches:
                    self._delivered(self._closed.popleft())
                continue
            if until_stopped and self._stopping.is_set():
                return
            if not until_stopped and not self._open:
                return
            wait: float | None = None
            if self._open:
                wait = self._opened_at + self.spec.batch_s - self._clock()
                if wait <= 0 or not until_stopped:
                    self._close_open()
                    continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

    def _waiting(self) -> list[Batch]:
        """The batches to publish next, in order: the oldest, and those queued behind it
        up to PUBLISH_BATCHES batches - one publish, one wait for the broker, for all that
        came while the previous one was in flight (or while the broker was away)."""
        return [self._closed[i] for i in range(min(PUBLISH_BATCHES, len(self._closed)))]

    async def _publish(self, batches: list[Batch], deadline: float | None) -> bool:
        """Publish until the broker acknowledged; False when stopped first (or the drain
        deadline passed)."""
        events = [e for batch in batches for e in batch.events]
        rejected = [r for batch in batches for r in batch.rejected]
        if not events and not rejected:
            return True
        while True:
            # Draining, no attempt outlives the deadline: `ioc up` waits IOC_SYSLOG_DRAIN_S
            # (and a little) before it kills the listener, and the loss must be logged.
            budget = PUBLISH_TIMEOUT_S
            if deadline is not None:
                budget = min(budget, deadline - self._clock())
                if budget <= 0:
                    return False
            try:
                if not await self._attempt(events, rejected, budget, stoppable=deadline is None):
                    return False  # told to stop: the drain tries again, within its bound
                break
            except (KafkaError, TimeoutError) as error:
                delay, news = self._broker.failed("broker", self._clock())
                if news:
                    log.warning(
                        "syslog: the broker did not acknowledge (%s); holding %d records, "
                        "retrying with backoff up to %g s",
                        type(error).__name__, self.buffered, self.spec.backoff_max_s,
                    )  # fmt: skip
                if deadline is None:
                    if not await self._pause(delay):
                        return False
                else:
                    left = deadline - self._clock()
                    if left <= 0:
                        return False
                    await asyncio.sleep(min(delay, left))
        ended = self._broker.recovered(self._clock())
        if ended is not None:
            log.info(
                "syslog: the broker acknowledges again (%d failed attempts over %.0f s); "
                "delivering the %d records held", ended.attempts, ended.seconds, self.buffered,
            )  # fmt: skip
        return True

    async def _attempt(
        self, events: list[Event], rejected: list[Rejected], budget: float, *, stoppable: bool
    ) -> bool:
        """One publish, for at most `budget` seconds; False when told to stop meanwhile
        (`stoppable`), the records still held. Raises what the publish raised."""
        publish = asyncio.ensure_future(
            asyncio.wait_for(self._sink.publish(events, rejected), budget)
        )
        if stoppable:
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({publish, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not publish.done():
                publish.cancel()
                with contextlib.suppress(asyncio.CancelledError, KafkaError, TimeoutError):
                    await publish
                return False
        await publish
        return True

    def _delivered(self, batch: Batch) -> None:
        self.buffered -= batch.items
        for refused in batch.rejected:
            line = self._refusals.note(refused, self._clock())
            if line is not None:
                log.warning("%s", line)
        for verdict in batch.verdicts:
            pipeline.count(verdict)
        framing = sum(n for (_, reason), n in batch.refused.items() if reason != INVALID_RECORD)
        if framing:  # refused before any format was chosen
            metrics.RECORDS.labels(self.spec.source, "syslog", "rejected").inc(framing)
        for (transport, outcome), n in batch.outcomes.items():
            RECORDS.labels(transport, outcome).inc(n)
        for (transport, reason), n in batch.refused.items():
            REFUSED.labels(transport, reason).inc(n)
        self._drained()

    async def _pause(self, seconds: float) -> bool:
        """Wait `seconds`; False when told to stop meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False


def _unbound(transport: str, host: str, port: int, error: OSError) -> SyslogConfigError:
    what = error.strerror or str(error)
    hint = (
        "ports below 1024 need root or CAP_NET_BIND_SERVICE: use one above (5514)"
        if port < 1024 and isinstance(error, PermissionError)
        else "another process listens there, or the address is not this machine's"
    )
    variable = f"IOC_SYSLOG_{transport}_PORT"
    return SyslogConfigError(
        f"cannot listen on {transport} {host}:{port} ({what}): {hint}; set {variable} "
        f"(--{transport.lower()}-port) to a free port, 0 for no {transport}, or "
        "IOC_SYSLOG_HOST (--host)"
    )


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, listener: SyslogListener) -> None:
        self._listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        listener = self._listener
        frame = datagram_frame(data, listener.spec.max_frame_bytes)
        if frame is None:
            return
        if listener.full:
            listener.drop("udp")
        else:
            listener.take(frame, "udp")

    def error_received(self, exc: Exception) -> None:
        log.debug("syslog: UDP socket error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    """One sender's connection: its framer, and its reading paused while the buffer is
    full (what it had read by then stays in the framer, at most one read)."""

    def __init__(self, listener: SyslogListener) -> None:
        self._listener = listener
        self._framer = StreamFramer(listener.spec.max_frame_bytes)
        self._transport: asyncio.Transport | None = None
        self._paused = False
        self._ended = False  # the peer closed, or we did

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._listener._connections.add(self)
        CONNECTIONS.inc()
        ACCEPTED_CONNECTIONS.inc()
        if self._listener.full:
            self.pause()

    def data_received(self, data: bytes) -> None:
        self._framer.feed(data)
        self._pump()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._pump()

    def pause(self) -> None:
        if not self._paused and not self._ended and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._pump()  # what it read before it paused comes first
            if not self._paused and not self._ended and self._transport is not None:
                self._transport.resume_reading()
        elif self._ended:
            self._pump()

    def close(self) -> None:
        """The listener stops: take what was read (regardless of the bound), and close."""
        self._ended = True
        self._pump()
        if self._transport is not None:
            self._transport.close()

    def _pump(self) -> None:
        listener = self._listener
        framer = self._framer
        while True:
            if listener.full:
                if not self._ended:
                    self.pause()
                return  # the rest waits in the framer until `resume`
            frame = framer.next()
            if frame is None:
                break
            listener.take(frame, "tcp")
        if framer.broken and not self._ended and self._transport is not None:
            self._transport.close()  # nothing after a lost octet count can be framed
            return
        if self._ended and self in listener._connections:
            last = framer.finish()
            if last is not None:
                listener.take(last, "tcp")
            listener._connections.discard(self)
            CONNECTIONS.dec()


async def run_syslog(settings: Settings) -> None:
    """`ioc syslog`: the listener of `settings`, with its own producer (waiting for the
    broker at start as long as it takes: `ioc.waiting`)."""
    from ioc.kafka import make_producer
    from ioc.waiting import reach, started

    spec = SyslogSpec.from_settings(settings)
    producer = await reach(
        started(lambda: make_producer(settings)), f"Kafka at {settings.kafka_bootstrap}",
        "IOC_KAFKA_BOOTSTRAP",
    )  # fmt: skip
    try:
        listener = SyslogListener(spec, Publisher(producer, settings))
        await listener.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, listener.stop)
        if settings.syslog_metrics_port:
            start_http_server(settings.syslog_metrics_port, addr="127.0.0.1")
        log.info(
            "syslog: listening on %s for %s (%s format%s); batches of %d or %g ms, buffer %d",
            listener.where(), spec.source, spec.format.name if spec.format else "detected",
            f", agency {spec.agency}" if spec.agency else "", spec.batch_records,
            spec.batch_s * 1000, spec.buffer_records,
        )  # fmt: skip
        await listener.run()
        log.info("syslog: stopped")
    finally:
        try:
            await asyncio.wait_for(producer.stop(), 15)
        except TimeoutError:
            log.warning("syslog: the producer did not stop within 15 s")
