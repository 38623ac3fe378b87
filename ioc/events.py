"""The canonical event model shared by every stage.

An ingestor turns whatever a source system sends into one of these; the processor
reads only these. `event_id` is unique within its source and stable across
re-sends, which is what makes at-least-once delivery safe: the database keeps the
first copy and ignores the rest. `occurred_at` must carry a time zone (source
systems in Vietnam send +07:00; we store UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
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
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]

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
    due_at: AwareDatetime | None = None


class FilingPayload(_Strict):
    filing_id: Identifier  # MaHoSo
    procedure_code: Identifier  # MaTTHC
    channel: Literal["in_person", "online", "postal"]  # KenhThucHien 1 / 2 / 3
    full_online: bool = False  # toàn trình
    received_at: AwareDatetime | None = None  # NgayTiepNhan
    due_at: AwareDatetime | None = None  # NgayHenTra
    fee_vnd: int = Field(0, ge=0)
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
    occurred_at: AwareDatetime
    agency: AgencyCode

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


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
    return [
        FieldError(loc=".".join(str(part) for part in item["loc"]), msg=item["msg"])
        for item in error.errors(include_url=False)
    ]


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
