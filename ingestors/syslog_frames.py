"""Syslog without sockets: frames out of a byte stream or a datagram, headers out of a frame.

Pure (sans-I/O), so the listener's shell (`ingestors.syslog`) stays thin and all of this
is tested on bytes alone; nothing here raises for any input but `HeaderError`, and every
buffer is bounded.

**Framing** (RFC 6587 over TCP, RFC 5426 over UDP):
- UDP: one datagram is one message; a trailing LF, CRLF or NUL is dropped.
- TCP: `StreamFramer` decides per connection from its first byte: a digit means
  octet counting (`MSG-LEN SP SYSLOG-MSG`, RFC 6587 §3.4.1), anything else
  non-transparent framing, a message per line (LF; a CR before it is dropped, and NUL
  ends a message too, as some senders use it, §3.4.2). Blank lines are skipped.
- A frame longer than `max_bytes` is refused (`frame_too_long`): its first `max_bytes`
  are kept for the dead-letter topic, the rest is read and thrown away without being
  held, and the connection goes on with the next frame. Octet counting whose length
  cannot be read (`12x`, no space, a length over 10 digits) leaves no way to find the
  next frame: that is `bad_frame`, and the connection has to be closed (`broken`).
- Memory per connection: the bytes fed and not yet taken (one read) plus at most
  `max_bytes` of a frame in progress.

**Headers**: `parse_message` reads RFC 5424 (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID
MSGID STRUCTURED-DATA [MSG]`) and RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`,
whose timestamp and hostname a relay may leave out, §4.3.3). A BSD timestamp has no year
and no zone: it is taken as Asia/Ho_Chi_Minh local time (UTC+07:00) in the year that puts
it nearest the receipt (`assumed_zone` says so). A PRI that is missing or over 191, an
RFC 5424 header with a field missing, too long or not printable ASCII, a timestamp that
is no date, or structured data that does not close, is a `HeaderError` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from ingestors.formats.base import VN_TZ, year_nearest

# Fixed words for metric labels and the dead letters' `reason` (never text from the input).
FRAME_TOO_LONG = "frame_too_long"
BAD_FRAME = "bad_frame"

MAX_LENGTH_DIGITS = 10  # an octet count beyond this cannot be a frame worth waiting for
_DELIMITER = re.compile(rb"[\n\x00]")
_BETWEEN_FRAMES = b"\n\r\x00"  # tolerated between octet-counted frames (some senders add LF)


@dataclass(frozen=True, slots=True)
class Frame:
    """One message's bytes as framed, or a framing failure.

    `data` is the message (at most the framer's `max_bytes`: the start of a frame that
    was longer); `size` its whole length as sent; `error` and `reason` say why it is
    refused when it is (`frame_too_long`, `bad_frame`)."""

    data: bytes
    size: int
    error: str | None = None
    reason: str | None = None


def datagram_frame(data: bytes, max_bytes: int) -> Frame | None:
    """The message of one UDP datagram; None for an empty one."""
    end = len(data)
    while end and data[end - 1] in b"\n\r\x00":
        end -= 1
    if end == 0:
        return None
    if end > max_bytes:
        return _too_long(data[:max_bytes], end, max_bytes)
    return Frame(data[:end] if end < len(data) else data, end)


def _too_long(kept: bytes, size: int, max_bytes: int) -> Frame:
    return Frame(
        kept,
        size,
        f"frame of {size} bytes is longer than {max_bytes} (IOC_SYSLOG_MAX_FRAME_BYTES); "
        f"its first {len(kept)} bytes are kept here",
        FRAME_TOO_LONG,
    )


class StreamFramer:
    """Frames of one TCP connection: `feed` what was read, take frames with `next` until
    it answers None, and call `finish` once the connection ended."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.mode: Literal["octet", "line"] | None = None
        self.broken = False  # octet counting lost: nothing more can be framed
        self._buf = bytearray()
        self._pos = 0  # where the bytes not taken yet start
        self._scan = 0  # line mode: where to look for the next delimiter
        self._long: bytes | None = None  # the kept start of a frame too long
        self._long_size = 0  # its length (so far, in line mode)
        self._skip = 0  # octet mode: bytes of a too-long frame still to come

    @property
    def pending(self) -> int:
        """Bytes fed and not framed yet (what this connection holds)."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        if self.broken or not data:
            return
        if self.mode is None:
            self.mode = "octet" if data[:1].isdigit() else "line"
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._scan -= self._pos
            self._pos = 0
        self._buf += data

    def next(self) -> Frame | None:
        """The next complete frame, or None until more is fed."""
        if self.broken or self.mode is None:
            return None
        return self._next_line() if self.mode == "line" else self._next_octet()

    def finish(self) -> Frame | None:
        """What is left when the connection ended: a last line without its LF is a message;
        a frame cut short is refused. Call `next` until None first."""
        if self.broken or self.mode is None:
            return None
        if self.mode == "line":
            rest = bytes(self._buf[self._pos :])
            self._drop_all()
            if self._long is not None:
                kept, size = self._long, self._long_size + len(rest)
                self._long = None
                return _too_long(kept, size, self.max_bytes)
            rest = rest.rstrip(b"\r")
            return self._line(rest) if rest.strip() else None
        if self._long is not None:
            kept, missing, size = self._long, self._skip, self._long_size
            self._long, self._skip = None, 0
            return Frame(
                kept, size,
                f"the connection closed {missing} bytes before the end of a frame of {size} "
                f"bytes (longer than {self.max_bytes}, IOC_SYSLOG_MAX_FRAME_BYTES)",
                FRAME_TOO_LONG,
            )  # fmt: skip
        rest = bytes(self._buf[self._pos :])
        self._drop_all()
        if not rest.strip(_BETWEEN_FRAMES):
            return None
        head = re.match(rb"[\n\r\x00]*(\d+) ", rest)
        if head is None:
            return Frame(
                rest[: self.max_bytes], len(rest),
                f"the connection closed in the middle of an octet count "
                f"({_show(rest)}): no frame follows", BAD_FRAME,
            )  # fmt: skip
        body = rest[head.end() :]
        return Frame(
            body[: self.max_bytes], len(body),
            f"the connection closed after {len(body)} of the {int(head[1])} bytes its octet "
            "count announced: the frame is cut short", BAD_FRAME,
        )  # fmt: skip

    # -- non-transparent framing -----------------------------------------------------------

    def _next_line(self) -> Frame | None:
        while True:
            found = _DELIMITER.search(self._buf, self._scan)
            if found is None:
                self._scan = len(self._buf)
                waiting = len(self._buf) - self._pos
                if self._long is not None:
                    self._long_size += waiting
                    self._drop_all()
                elif waiting > self.max_bytes:
                    self._long = bytes(self._buf[self._pos : self._pos + self.max_bytes])
                    self._long_size = waiting
                    self._drop_all()
                return None
            end = found.start()
            line = bytes(self._buf[self._pos : end])
            self._pos = self._scan = end + 1
            if self._long is not None:
                kept, size = self._long, self._long_size + len(line)
                self._long = None
                return _too_long(kept, size, self.max_bytes)
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                continue  # a blank line, or CRLF/NUL pairs: nothing was sent
            return self._line(line)

    def _line(self, line: bytes) -> Frame:
        if len(line) > self.max_bytes:
            return _too_long(line[: self.max_bytes], len(line), self.max_bytes)
        return Frame(line, len(line))

    # -- octet counting --------------------------------------------------------------------

    def _next_octet(self) -> Frame | None:
        if self._long is not None:
            taken = min(self._skip, len(self._buf) - self._pos)
            if len(self._long) < self.max_bytes:  # keep its start, throw the rest away
                wanted = self.max_bytes - len(self._long)
                self._long += bytes(self._buf[self._pos : self._pos + min(taken, wanted)])
            self._pos += taken
            self._skip -= taken
            if self._skip:
                return None
            kept, size = self._long, self._long_size
            self._long = None
            return _too_long(kept, size, self.max_bytes)
        buf, pos = self._buf, self._pos
        while pos < len(buf) and buf[pos] in _BETWEEN_FRAMES:
            pos += 1
        self._pos = pos
        digits = pos
        while digits < len(buf) and digits - pos <= MAX_LENGTH_DIGITS and 48 <= buf[digits] <= 57:
            digits += 1
        count = digits - pos
        if digits == len(buf) and count <= MAX_LENGTH_DIGITS:
            return None  # the length is still coming
        if count == 0 or count > MAX_LENGTH_DIGITS or buf[digits] != 32 or buf[pos] == 48:
            return self._break(buf, pos, count)
        length = int(buf[pos:digits])
        start = digits + 1
        if length > self.max_bytes:
            self._long, self._long_size, self._skip = b"", length, length
            self._pos = start
            return self._next_octet()
        if len(buf) - start < length:
            return None  # the frame is still coming
        self._pos = start + length
        return Frame(bytes(buf[start : self._pos]), length)

    def _break(self, buf: bytearray, pos: int, count: int) -> Frame:
        seen = bytes(buf[pos : pos + self.max_bytes])
        if count == 0:
            why = f"expected an octet count (digits), got {_show(seen)}"
        elif count > MAX_LENGTH_DIGITS:
            why = f"an octet count of more than {MAX_LENGTH_DIGITS} digits ({_show(seen)})"
        elif buf[pos] == 48:
            why = f"an octet count cannot start with 0 ({_show(seen)})"
        else:
            why = f"expected a space after the octet count {_show(seen[:count])}, got {_show(seen)}"
        self.broken = True
        self._drop_all()
        return Frame(
            seen, len(seen),
            f"octet-counting framing (RFC 6587) lost: {why}; the connection is closed, as no "
            "later frame can be found", BAD_FRAME,
        )  # fmt: skip

    def _drop_all(self) -> None:
        self._buf.clear()
        self._pos = self._scan = 0


def _show(data: bytes, size: int = 40) -> str:
    """Bytes as an error message may quote them: short, printable."""
    text = repr(data[:size])
    return text + ("..." if len(data) > size else "")


# --- headers ---------------------------------------------------------------------------------


class HeaderError(ValueError):
    """The message's syslog header cannot be read; the message names the field."""


@dataclass(frozen=True, slots=True)
class SyslogMessage:
    """A message's header, read, and its MSG (a leading byte order mark removed).

    `version` is 1 for RFC 5424, None for RFC 3164. `timestamp_text` is the header's time
    as sent, `timestamp` the instant it names (None when the header has none);
    `bsd_time` says it was a BSD `Mmm dd hh:mm:ss` time (which CEF reads itself) and
    `assumed_zone` that it had no zone (taken as Asia/Ho_Chi_Minh). Absent fields
    (RFC 5424's `-`) are None."""

    pri: int
    version: int | None
    timestamp: datetime | None
    timestamp_text: str | None
    bsd_time: bool
    assumed_zone: bool
    hostname: str | None
    app_name: str | None
    procid: str | None
    msgid: str | None
    structured_data: str | None
    msg: str

    @property
    def facility(self) -> int:
        return self.pri >> 3

    @property
    def severity(self) -> int:
        return self.pri & 7


_PRI = re.compile(r"<(\d{1,3})>")
_VERSION = re.compile(r"([0-9]{1,3}) ")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)
_BSD = re.compile(
    r"([A-Za-z]{3}) ( \d|\d{1,2}) (?:(\d{4}) )?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?= |$)"
)
_TAG = re.compile(r"([A-Za-z0-9_./@-]{1,48})(?:\[([!-\\^-~]{1,128})\])?:(?: |$)")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip
# RFC 5424 §6: the fields and their longest values.
_FIELDS = (("HOSTNAME", 255), ("APP-NAME", 48), ("PROCID", 128), ("MSGID", 32))
_PRINTUSASCII = re.compile(r"[!-~]+")
_SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")  # PRINTUSASCII but '=', ']', '"' (and SP)


def parse_message(text: str, received_at: datetime) -> SyslogMessage:
    """The header and MSG of one message (already UTF-8 decoded). Raises HeaderError."""
    pri = _PRI.match(text)
    if pri is None:
        if text.startswith("<"):
            raise HeaderError(f"PRI must be '<', 1 to 3 digits and '>', got {_quote(text)}")
        raise HeaderError(
            f"no PRI: a syslog message starts with <PRI> (e.g. <134>), got {_quote(text)}"
        )
    value = int(pri[1])
    if value > 191:
        raise HeaderError(f"PRI {value} is over 191 (facility 23, severity 7 is the most)")
    rest = text[pri.end() :]
    version = _VERSION.match(rest)
    if version is not None:
        return _rfc5424(value, int(version[1]), rest[version.end() :])
    return _rfc3164(value, rest, received_at)


def _rfc5424(pri: int, version: int, rest: str) -> SyslogMessage:
    if version != 1:
        raise HeaderError(f"VERSION {version} is not 1 (RFC 5424 knows version 1 only)")
    parts = rest.split(" ", 5)
    names = ("TIMESTAMP", *(name for name, _ in _FIELDS), "STRUCTURED-DATA")
    if len(parts) < 6:
        raise HeaderError(
            f"RFC 5424 header ends before {names[len(parts)]}: it needs TIMESTAMP HOSTNAME "
            "APP-NAME PROCID MSGID STRUCTURED-DATA, each '-' when absent, one space apart"
        )
    stamp, *fields, tail = parts
    values: list[str | None] = []
    for (name, longest), field in zip(_FIELDS, fields, strict=True):
        if field == "-":
            values.append(None)
        elif not field:
            raise HeaderError(f"{name} is empty (two spaces in a row); write '-' when absent")
        elif len(field) > longest:
            raise HeaderError(f"{name} is longer than {longest} characters: {_quote(field)}")
        elif _PRINTUSASCII.fullmatch(field) is None:
            raise HeaderError(f"{name} must be printable ASCII, got {_quote(field)}")
        else:
            values.append(field)
    if not stamp:
        raise HeaderError("TIMESTAMP is empty (two spaces in a row); write '-' when absent")
    when = None if stamp == "-" else _rfc3339(stamp)
    structured, msg = _structured_data(tail)
    return SyslogMessage(
        pri=pri, version=1, timestamp=when, timestamp_text=None if stamp == "-" else stamp,
        bsd_time=False, assumed_zone=False, hostname=values[0], app_name=values[1],
        procid=values[2], msgid=values[3], structured_data=structured,
        msg=msg.removeprefix("\ufeff"),
    )  # fmt: skip


def _rfc3339(stamp: str) -> datetime:
    match = _RFC3339.fullmatch(stamp)
    if match is None:
        raise HeaderError(
            f"TIMESTAMP {_quote(stamp)} is not an RFC 3339 date-time with its offset "
            "(e.g. 2026-11-22T09:47:00.123+07:00), nor '-'"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        if offset == "Z":
            zone = UTC
        else:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError(f"offset {offset} out of range")
            delta = timedelta(hours=hours, minutes=minutes)
            zone = timezone(-delta if offset[0] == "-" else delta)
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
    except ValueError as error:
        raise HeaderError(f"TIMESTAMP {_quote(stamp)} is not a date ({error})") from None


def _structured_data(tail: str) -> tuple[str | None, str]:
    """(STRUCTURED-DATA as sent, or None for '-'; MSG) of what follows MSGID."""
    if tail.startswith("-"):
        end = 1
    elif tail.startswith("["):
        end = _sd_elements(tail)
    else:
        raise HeaderError(
            f"STRUCTURED-DATA must be '-' or [SD-ID param=\"value\" ...], got {_quote(tail)}"
        )
    after = tail[end:]
    if after and not after.startswith(" "):
        raise HeaderError(f"expected a space between STRUCTURED-DATA and MSG, got {_quote(after)}")
    return (None if end == 1 and tail[0] == "-" else tail[:end]), after[1:]


def _sd_elements(tail: str) -> int:
    """Where the SD-ELEMENTs at the start of `tail` end (RFC 5424 §6.3)."""
    i = 0
    while i < len(tail) and tail[i] == "[":
        sd_id = _SD_NAME.match(tail, i + 1)
        if sd_id is None:
            raise HeaderError(f"STRUCTURED-DATA: an SD-ID must follow '[' at {_quote(tail[i:])}")
        i = sd_id.end()
        while i < len(tail) and tail[i] == " ":
            name = _SD_NAME.match(tail, i + 1)
            if name is None or tail[name.end() : name.end() + 2] != '="':
                raise HeaderError(
                    f'STRUCTURED-DATA: expected name="value" at {_quote(tail[i + 1 :])}'
                )
            i = name.end() + 2
            while True:  # PARAM-VALUE: '"', '\' and ']' are escaped with '\'
                if i >= len(tail):
                    raise HeaderError("STRUCTURED-DATA: a PARAM-VALUE is not closed by '\"'")
                if tail[i] == "\\":
                    i += 2
                    continue
                if tail[i] == '"':
                    i += 1
                    break
                i += 1
        if i >= len(tail) or tail[i] != "]":
            raise HeaderError(
                f"STRUCTURED-DATA: an SD-ELEMENT is not closed by ']' at {_quote(tail[i:])}"
            )
        i += 1
    return i


def _rfc3164(pri: int, rest: str, received_at: datetime) -> SyslogMessage:
    when: datetime | None = None
    stamp: str | None = None
    bsd = assumed = False
    hostname: str | None = None
    body = rest
    match = _BSD.match(rest)
    iso = None if match else re.match(r"\S+(?= |$)", rest)
    if match is not None:
        stamp, bsd, assumed = match[0], True, True
        when = _bsd_time(match, received_at)
        body = rest[match.end() :].removeprefix(" ")
    elif iso is not None and _RFC3339.fullmatch(iso[0]):  # rsyslog's high-precision form
        stamp = iso[0]
        when = _rfc3339(stamp)
        body = rest[iso.end() :].removeprefix(" ")
    if stamp is not None:  # a HOSTNAME follows the time, unless the sender left it out
        word = re.match(r"[!-~]{1,255}(?= |$)", body)
        if word is not None and not _not_a_host(word[0]):
            hostname = word[0]
            body = body[word.end() :].removeprefix(" ")
    tag = _TAG.match(body)
    app_name = procid = None
    if tag is not None:
        app_name, procid = tag[1], tag[2]
        body = body[tag.end() :]
    return SyslogMessage(
        pri=pri, version=None, timestamp=when, timestamp_text=stamp, bsd_time=bsd,
        assumed_zone=assumed, hostname=hostname, app_name=app_name, procid=procid,
        msgid=None, structured_data=None, msg=body,
    )  # fmt: skip


def _not_a_host(word: str) -> bool:
    """A word after the time that starts the message rather than naming a host: a TAG
    (`sshd[12]:`, `suricata:`), CEF, JSON."""
    return word.endswith(":") or "[" in word or word.startswith(("CEF:", "{", '"'))


def _bsd_time(match: re.Match[str], received_at: datetime) -> datetime:
    name, day, year, hour, minute, second, fraction = match.groups()
    month = _MONTHS.get(name.lower())
    if month is None:
        raise HeaderError(f"TIMESTAMP {_quote(match[0])}: {name!r} is not a month")
    try:
        when_year = int(year) if year else year_nearest(month, int(day), received_at, VN_TZ)
        return datetime(
            when_year, month, int(day), int(hour), int(minute), int(second),
            int((fraction or "0").ljust(6, "0")), VN_TZ,
        )  # fmt: skip
    except ValueError as error:
        raise HeaderError(f"TIMESTAMP {_quote(match[0])} is not a date ({error})") from None


def _quote(text: str, size: int = 40) -> str:
    return repr(text[:size]) + ("..." if len(text) > size else "")
