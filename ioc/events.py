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
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, field_validator, model_validator

from ioc.config import SOURCES
from ioc.domains import DOMAINS
from ioc.domains.documents import DocumentPayload, DocumentType
from ioc.domains.filings import FilingPayload, FilingType
from ioc.domains.security import SEVERITIES, SecurityPayload, SecurityType
from ioc.fields import EARLIEST, LATEST, AgencyCode, Identifier, Instant
from ioc.fields import Strict as _Strict

__all__ = ["SEVERITIES", "Event", "FieldError", "decode_event", "validate_event"]

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


class _EventBase(_Strict):
    source: str
    type: str
    event_id: Identifier
    occurred_at: Instant
    agency: AgencyCode
    payload: _Strict

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)  # cannot overflow: Instant bounds it first

    @model_validator(mode="after")
    def _creating_needs(self) -> _EventBase:
        """An event that opens an entity must say what the entity is; later ones need not."""
        missing = DOMAINS[self.source].missing_to_create(self.type, self.payload.__dict__)
        if missing:
            raise ValueError(
                f"a {self.type!r} event opens the entity and must give "
                f"payload.{', payload.'.join(missing)}"
            )
        return self

    @property
    def entity_id(self) -> str:
        return str(getattr(self.payload, DOMAINS[self.source].entity_field))


class DocumentEvent(_EventBase):
    source: Literal["documents"] = "documents"
    type: DocumentType
    payload: DocumentPayload


class FilingEvent(_EventBase):
    source: Literal["filings"] = "filings"
    type: FilingType
    payload: FilingPayload


class SecurityEvent(_EventBase):
    source: Literal["security"] = "security"
    type: SecurityType
    payload: SecurityPayload


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
    if kind == "value_error":  # our own checks: the message is already the whole story
        return str(item["msg"]).removeprefix("Value error, ")
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
