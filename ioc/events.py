"""The canonical event model shared by every stage.

An ingestor turns whatever a source system sends into one of these; the processor
reads only these. `event_id` is unique within its source and stable across
re-sends, which is what makes at-least-once delivery safe: the database keeps the
first copy and ignores the rest. `occurred_at` must carry a time zone (source
systems in Vietnam send +07:00; we store UTC).

What PostgreSQL can store is refused here, per record and per field, never at the
database (where one bad row would block a whole batch):
- strings: no NUL character (text and jsonb refuse U+0000), no lone UTF-16 surrogate
  (not encodable as UTF-8), and every one bounded (identifiers 200 characters, free
  text 500, agency codes by their shape);
- instants (`occurred_at`, `due_at`, `received_at`): from 1970-01-01T00:00:00Z up to,
  not including, 2101-01-01T00:00:00Z, compared in UTC, so an offset cannot push a
  date past what `datetime` holds (9999-12-31T23:30:00-01:00 is simply refused);
- `fee_vnd`: 0 to 10^15 VND (a bigint holds 9.2 x 10^18; no fee comes near either).
The checks are pydantic constraints evaluated in pydantic-core; only the error
messages are rewritten here, and only for refused records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le, Lt
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
)

from ioc.config import SOURCES

# e-government agency code (QCVN 102:2016/BTTTT), e.g. 000.00.31.H42 or 000.00.00.G22.
AgencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}$"),
]
# No whitespace; no NUL either (\S alone would let U+0000 through to PostgreSQL).
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s\x00]+$")
]
ShortText = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]

# The instants IOC stores: anything outside is a wrong year or offset, not an event.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)  # exclusive
Instant = Annotated[AwareDatetime, Ge(EARLIEST), Lt(LATEST)]
MAX_FEE_VND = 10**15
MAX_ERRORS_PER_RECORD = 50
_INSTANT_MSG = (
    "must be from 1970-01-01T00:00:00Z up to (not including) 2101-01-01T00:00:00Z, "
    "compared in UTC; check the year and the UTC offset"
)
# How pydantic-core names the bounds in an error's context (as text, not datetimes).
_BOUNDS = frozenset(
    {EARLIEST.isoformat().replace("+00:00", "Z"), LATEST.isoformat().replace("+00:00", "Z")}
)
_NUL_MSG = "contains a NUL character (\\u0000), which cannot be stored; remove it"

DocumentType = Literal[
    "issued", "sent", "received", "assigned", "processed", "done", "returned", "refused"
]
FilingType = Literal[
    "received",
    "in_process",
    "supplement_requested",
    "supplemented",
    "resolved",
    "result_returned",
    "refused",
    "withdrawn",
]
SecurityType = Literal["raised", "acknowledged", "resolved"]
Severity = Literal["low", "medium", "high", "critical"]

# A filing whose latest event is one of these is no longer open (in the backlog).
FILING_TERMINAL_TYPES: frozenset[str] = frozenset(
    {"resolved", "result_returned", "refused", "withdrawn"}
)
# An alert whose latest event is this one is no longer open.
ALERT_CLOSING_TYPES: frozenset[str] = frozenset({"resolved"})
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DocumentPayload(_Strict):
    document_id: Identifier
    direction: Literal["incoming", "outgoing"]
    electronic: bool = True
    signed: bool = False
    sender_agency: AgencyCode | None = None
    receiver_agency: AgencyCode | None = None
    document_type: ShortText | None = None
    due_at: Instant | None = None


class FilingPayload(_Strict):
    filing_id: Identifier  # MaHoSo
    procedure_code: Identifier  # MaTTHC
    channel: Literal["in_person", "online", "postal"]  # KenhThucHien 1 / 2 / 3
    full_online: bool = False  # toàn trình
    received_at: Instant | None = None  # NgayTiepNhan
    due_at: Instant | None = None  # NgayHenTra
    fee_vnd: Annotated[int, Ge(0), Le(MAX_FEE_VND)] = 0
    paid_online: bool = False
    digitised: bool = False
    commune_code: Identifier | None = None


class SecurityPayload(_Strict):
    alert_id: Identifier
    severity: Severity
    category: Literal[
        "malware",
        "intrusion",
        "web_defacement",
        "ddos",
        "vulnerability",
        "policy",
        "phishing",
        "other",
    ]
    asset: ShortText | None = None
    signature: ShortText | None = None
    src_ip: IPv4Address | IPv6Address | None = None
    dest_ip: IPv4Address | IPv6Address | None = None


class _EventBase(_Strict):
    event_id: Identifier
    occurred_at: Instant
    agency: AgencyCode

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)  # cannot overflow: Instant bounds it first


class DocumentEvent(_EventBase):
    source: Literal["documents"] = "documents"
    type: DocumentType
    payload: DocumentPayload

    @property
    def entity_id(self) -> str:
        return self.payload.document_id


class FilingEvent(_EventBase):
    source: Literal["filings"] = "filings"
    type: FilingType
    payload: FilingPayload

    @property
    def entity_id(self) -> str:
        return self.payload.filing_id


class SecurityEvent(_EventBase):
    source: Literal["security"] = "security"
    type: SecurityType
    payload: SecurityPayload

    @property
    def entity_id(self) -> str:
        return self.payload.alert_id


Event = DocumentEvent | FilingEvent | SecurityEvent
EVENT_MODELS: dict[str, type[DocumentEvent] | type[FilingEvent] | type[SecurityEvent]] = {
    "documents": DocumentEvent,
    "filings": FilingEvent,
    "security": SecurityEvent,
}
assert set(EVENT_MODELS) == set(SOURCES)


class FieldError(BaseModel):
    """One problem with one field, in words an integrator can act on."""

    loc: str
    msg: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.msg}" if self.loc else self.msg


def field_errors(error: ValidationError) -> list[FieldError]:
    """Per-field errors in words an integrator can act on; at most MAX_ERRORS_PER_RECORD."""
    items = error.errors(include_url=False)
    errors = [
        FieldError(loc=".".join(_loc_part(part) for part in item["loc"]), msg=_message(item))
        for item in items[:MAX_ERRORS_PER_RECORD]
    ]
    if len(items) > MAX_ERRORS_PER_RECORD:
        more = len(items) - MAX_ERRORS_PER_RECORD
        errors.append(FieldError(loc="", msg=f"... and {more} more errors in this record"))
    return errors


def _loc_part(part: str | int) -> str:
    """A field name as it can be shown: an unknown key may be long, or not valid Unicode."""
    text = str(part)
    if len(text) > 100:
        text = text[:100] + "..."
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode()


def _message(item: Any) -> str:
    kind, value = item["type"], item.get("input")
    if kind == "string_unicode":
        return (
            "contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode "
            "text and cannot be stored; send valid UTF-8"
        )
    if kind == "string_pattern_mismatch" and isinstance(value, str) and "\x00" in value:
        return _NUL_MSG
    ctx = item.get("ctx") or {}
    if kind in ("greater_than_equal", "less_than") and ctx.get("ge", ctx.get("lt")) in _BOUNDS:
        return _INSTANT_MSG
    return str(item["msg"])


def validate_event(source: str, record: Any) -> Event | list[FieldError]:
    """Validate one canonical record for `source`; errors come back per field, never raised.

    A record may name its source; when it does it must match the endpoint's.
    """
    model = EVENT_MODELS.get(source)
    if model is None:
        return [FieldError(loc="source", msg=f"unknown source {source!r}; use one of {SOURCES}")]
    if not isinstance(record, dict):
        return [FieldError(loc="", msg=f"expected a JSON object, got {type(record).__name__}")]
    named = record.get("source", source)
    if named != source:
        return [
            FieldError(
                loc="source", msg=f"record is for {named!r} but was sent to /ingest/{source}"
            )
        ]
    try:
        return model.model_validate({**record, "source": source})
    except ValidationError as error:
        return field_errors(error)


def decode_event(source: str, data: bytes) -> Event:
    """Decode an event as the ingestors wrote it to Kafka; raises ValidationError."""
    return EVENT_MODELS[source].model_validate_json(data)
