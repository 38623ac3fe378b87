"""edXML (QCVN 102:2016/BTTTT): the message header of a document sent between agencies over the
document exchange axis, and the status packet an agency sends back about it.

**Parsing** is hardened, since the XML comes from other agencies' systems: `defusedxml`
refuses any document type declaration (`<!DOCTYPE …>`, so no entity can be declared, expanded
or fetched: no billion laughs, no external entities), and IOC bounds the depth
(`MAX_DEPTH` elements) and the number of elements (`MAX_ELEMENTS`); the body's size is bounded
by ingest before. Each breach is a precise 400 (the body is dead-lettered), never a crash or a
hang. One body is one XML document; each `MessageHeader` in it, and each `Status` (an element
with a `StatusCode`), is one record. Elements are matched by their local name, whatever the
namespace or prefix (`edXML:`, the QCVN namespace, or none, as implementations differ).
Recognised, when `?format=` is omitted, by a body that starts with `<`.

**The message header** (`edXMLEnvelope/edXMLHeader/MessageHeader`, with its
`TraceHeaderList` and `Signature` beside it) of a document sent by `From` to `To[]`:
- posted by the sender's side (or the axis): `issued` at `PromulgationInfo/PromulgationDate`
  (a date: 00:00 Vietnam time; left out when absent) and `sent` at the sender's
  `TraceHeader/Timestamp` (else the first one, else the receipt time, with a warning), at
  agency `From/OrganId`, direction `outgoing`;
- posted by a receiver (`?agency=` is one of the `To/OrganId`): `received` at that agency,
  at its own `TraceHeader/Timestamp` (else the last one, else the receipt time), direction
  `incoming`;
- a header whose `Bussiness/BussinessDocType` is 1 (revocation) makes no event (`skipped`,
  kind `revoke`): the recall is followed through the status packets 13, 15, 16.

**The status packet** (`Status`: `ResponseFor`, `From`, `StatusCode`, `Description`,
`Timestamp`, `StaffInfo`) is one event at agency `From/OrganId` (the agency reporting), at
`Timestamp`, typed by `STATUS_CODES` below; an unknown code is an error naming the allowed ones.

The document (`payload.document_id`) is `DocumentId` (`ResponseFor/DocumentId` in a status),
else `<OrganId>,<yyyy/MM/dd of PromulgationDate>,<CodeNumber>/<CodeNotation>` built from the
sender's code and promulgation date, the shape real systems give `DocumentId`. Event ids are
derived from content (`edxml-` + SHA-256 of the document, agency, type and instant), so a
message sent again is stored once. Payload: `electronic` true (it came over edXML), `signed`
true when the header carries a `Signature` (left out otherwise), `sender_agency` /
`receiver_agency` (`From`, and `To` when there is exactly one), `document_type`
(`DocumentType/TypeName`, else `Type`), `due_at` (`DueDate`; a date is due at 23:59:59 Vietnam
time that day).

Dates: ISO 8601, `dd/MM/yyyy HH:mm[:ss]`, `yyyy/MM/dd HH:mm[:ss]`, `yyyyMMddHHmmss`, or a date
alone; without a time zone a date-time is taken as Asia/Ho_Chi_Minh, with a warning.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse

from ingestors.body import BodyError, RawRecord, TooManyRecords
from ingestors.formats.base import (
    VN_TZ,
    Format,
    Issue,
    MapContext,
    Mapped,
    as_identifier,
    content_id,
    iso,
    naive_warning,
    shown,
)
from ioc.fields import EARLIEST, LATEST

MAX_DEPTH = 64  # an edXML envelope is about 8 deep
MAX_ELEMENTS = 200_000

# StatusCode -> (canonical event type, or None for a status that is no step of IOC's, meaning).
STATUS_CODES: dict[str, tuple[str | None, str]] = {
    "01": (None, "arrived, awaiting receipt (đã đến)"),
    "02": ("refused", "refused / returned (từ chối tiếp nhận)"),
    "03": ("received", "received (đã tiếp nhận)"),
    "04": ("assigned", "assigned for handling (phân công)"),
    "05": ("processed", "in process (đang xử lý)"),
    "06": ("done", "completed (hoàn thành)"),
    "13": (None, "recall requested (yêu cầu thu hồi)"),
    "15": ("returned", "recall agreed (đồng ý thu hồi)"),
    "16": (None, "recall refused (từ chối thu hồi)"),
}
SKIPPED_KIND = {"01": "arrived", "13": "recall_requested", "16": "recall_refused"}
REVOKE = "1"  # BussinessDocType of a revocation

_AGENCY = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}$")
_DATE_FORMATS = ("%d/%m/%Y", "%Y/%m/%d", "%Y-%m-%d", "%Y%m%d")
_DATETIME_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%d-%m-%Y %H:%M:%S",
)


# -- parsing -------------------------------------------------------------------------------


def sniff(head: bytes) -> bool:
    return head.startswith(b"<")


def local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1] if isinstance(tag, str) else ""


def parse(body: bytes, max_records: int | None = None) -> list[RawRecord]:
    """Records of one edXML document: each MessageHeader and each Status packet.

    Raises BodyError for a body that is not well-formed XML, has a DTD or entities, or is
    deeper or larger than the bounds; TooManyRecords past `max_records`."""
    if not body.strip():
        raise BodyError("body is empty; send one edXML message (QCVN 102:2016)")
    root = _parse_bounded(body)
    records: list[RawRecord] = []
    for parent in root.iter():
        children = list(parent)
        names = [local_name(c.tag) for c in children]
        for child, name in zip(children, names, strict=True):
            value: dict[str, Any] | None = None
            if name == "MessageHeader":
                value = {"MessageHeader": to_value(child), "Signed": "Signature" in names}
                if "TraceHeaderList" in names:
                    trace = children[names.index("TraceHeaderList")]
                    value["TraceHeaderList"] = to_value(trace)
            elif name == "Status" and any(local_name(c.tag) == "StatusCode" for c in child):
                value = {"Status": to_value(child)}
            if value is None:
                continue
            if max_records is not None and len(records) == max_records:
                raise TooManyRecords(f"more than {max_records} records; split them")
            records.append(RawRecord(len(records), value, raw=ET.tostring(child)))
    if not records:
        name = local_name(root.tag)
        return [
            RawRecord(
                0,
                error=f"XML with root <{name[:60]}> holds no edXML MessageHeader or Status "
                "(QCVN 102:2016); send an edXML message or status packet",
                raw=body,
            )
        ]
    if len(records) == 1:  # the whole message, as sent, for the dead-letter topic
        records[0] = RawRecord(0, records[0].value, raw=body)
    return records


def _parse_bounded(body: bytes) -> ET.Element:
    depth = elements = 0
    root: ET.Element | None = None
    try:
        for event, element in iterparse(io.BytesIO(body), ("start", "end"), forbid_dtd=True):
            if event == "end":
                depth -= 1
                continue
            depth += 1
            elements += 1
            if root is None:
                root = element
            if depth > MAX_DEPTH:
                raise BodyError(
                    f"XML is nested more than {MAX_DEPTH} elements deep; an edXML message "
                    "needs about 8"
                )
            if elements > MAX_ELEMENTS:
                raise BodyError(
                    f"XML has more than {MAX_ELEMENTS} elements; send one message per request"
                )
    except BodyError:
        raise
    except DTDForbidden as error:
        raise BodyError(
            f"XML with a document type declaration (<!DOCTYPE {error.name}>) is refused: it "
            "could declare entities (an XML bomb) or fetch external files, and edXML needs "
            "none; send the message without it"
        ) from None
    except (EntitiesForbidden, ExternalReferenceForbidden) as error:
        raise BodyError(
            f"XML declaring or referencing entities is refused ({error}); send the message "
            "without a DTD or entities"
        ) from None
    except ET.ParseError as error:
        raise BodyError(f"body is not well-formed XML ({error}); send one edXML message") from None
    except ValueError as error:  # any other refusal of defusedxml (all are ValueErrors)
        raise BodyError(f"XML refused: {error}") from None
    assert root is not None  # iterparse raises on a document without an element
    return root


def to_value(element: ET.Element) -> str | dict[str, Any]:
    """An element as plain data: its text when it has no child elements, else a dict by child
    local name (a name that repeats holds a list). Attributes are not used by edXML."""
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        name, value = local_name(child.tag), to_value(child)
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]
    return out


# -- mapping -------------------------------------------------------------------------------


def map_record(record: Any, ctx: MapContext) -> Mapped:
    if isinstance(record, Mapping):
        if "Status" in record:
            return _status(record["Status"], ctx)
        if "MessageHeader" in record:
            return _header(record, ctx)
    return Mapped(
        errors=[Issue("", f"expected an edXML MessageHeader or Status, got {shown(record)}")]
    )


def _status(status: Any, ctx: MapContext) -> Mapped:
    if not isinstance(status, Mapping):
        return Mapped(
            errors=[
                Issue(
                    "Status",
                    f"must hold ResponseFor, From, StatusCode and Timestamp, got {shown(status)}",
                )
            ]
        )
    errors: list[Issue] = []
    warnings: list[Issue] = []
    raw_code = text(status.get("StatusCode"))
    code = raw_code.zfill(2) if raw_code and raw_code.isdigit() else raw_code
    if code not in STATUS_CODES:
        allowed = ", ".join(f"{c} ({meaning})" for c, (_, meaning) in STATUS_CODES.items())
        errors.append(
            Issue("Status.StatusCode", f"unknown code {shown(raw_code)}; allowed: {allowed}")
        )
    response = status.get("ResponseFor")
    if not isinstance(response, Mapping):
        errors.append(Issue("Status.ResponseFor", "required: the document this status is about"))
        response = {}
    document_id = _document_id(
        response.get("DocumentId"),
        response.get("OrganId"),
        response.get("PromulgationDate"),
        text(response.get("Code")),
        "Status.ResponseFor",
        errors,
    )
    agency, agency_from = _agency(_organ(status.get("From")), "Status.From.OrganId", ctx, errors)
    when = when_of(status.get("Timestamp"), "Status.Timestamp", errors, warnings, required=True)
    if errors or code is None or when is None or document_id is None:
        return Mapped(errors=errors, warnings=warnings)
    kind, meaning = STATUS_CODES[code]
    if kind is None:
        return Mapped(
            skipped=SKIPPED_KIND[code],
            note=f"StatusCode {code} ({meaning}) is counted, not a step of the document",
            warnings=warnings,
        )
    payload: dict[str, Any] = {"document_id": document_id}
    if kind == "received":
        payload |= {"direction": "incoming", "electronic": True, "receiver_agency": agency}
        sender = _organ(response)
        if sender is not None and _AGENCY.match(sender):
            payload["sender_agency"] = sender
    event = _event(document_id, kind, when, agency, payload)
    origins = {
        "agency": agency_from,
        "payload.receiver_agency": agency_from,
        "payload.document_id": "Status.ResponseFor.DocumentId",
    }
    return Mapped(events=[event], warnings=warnings, origins=origins)


def _header(record: Mapping[str, Any], ctx: MapContext) -> Mapped:
    header = record["MessageHeader"]
    if not isinstance(header, Mapping):
        return Mapped(
            errors=[
                Issue(
                    "MessageHeader",
                    f"must hold From, To, Code and the document's details, got {shown(header)}",
                )
            ]
        )
    errors: list[Issue] = []
    warnings: list[Issue] = []
    trace = record.get("TraceHeaderList")
    trace = trace if isinstance(trace, Mapping) else {}
    business = trace.get("Bussiness", header.get("Bussiness"))
    if isinstance(business, Mapping) and text(business.get("BussinessDocType")) == REVOKE:
        return Mapped(
            skipped="revoke",
            note="BussinessDocType 1 (revocation): followed through the status packets",
        )
    sender, sender_from = _agency(
        _organ(header.get("From")), "MessageHeader.From.OrganId", None, errors
    )
    receivers = [r for r in (_organ(to) for to in as_list(header.get("To"))) if r]
    code = header.get("Code")
    code = code if isinstance(code, Mapping) else {}
    number, notation = text(code.get("CodeNumber")), text(code.get("CodeNotation"))
    promulgation = header.get("PromulgationInfo")
    promulgated = (
        promulgation.get("PromulgationDate") if isinstance(promulgation, Mapping) else None
    )
    document_id = _document_id(
        header.get("DocumentId"),
        _organ(header.get("From")),
        promulgated,
        "/".join(p for p in (number, notation) if p) or None,
        "MessageHeader",
        errors,
    )
    issued_at = when_of(
        promulgated, "MessageHeader.PromulgationInfo.PromulgationDate", errors, warnings
    )
    due_at = when_of(
        header.get("DueDate"), "MessageHeader.DueDate", errors, warnings, end_of_day=True
    )
    receiving = bool(ctx.agency) and ctx.agency in receivers and ctx.agency != sender
    hops = [h for h in as_list(trace.get("TraceHeader")) if isinstance(h, Mapping)]
    own = ctx.agency if receiving else sender
    hop = next((h for h in hops if _text_of(h, "OrganId") == own), None)
    if hop is None and hops:
        hop = hops[-1] if receiving else hops[0]
    when = None
    if hop is not None:
        when = when_of(
            hop.get("Timestamp"), "TraceHeaderList.TraceHeader.Timestamp", errors, warnings
        )
    if errors or document_id is None:
        return Mapped(errors=errors, warnings=warnings)
    if when is None:
        when = ctx.received_at
        warnings.append(
            Issue(
                "TraceHeaderList.TraceHeader.Timestamp",
                "absent; the time ingest received the message is used",
                "no_time",
            )
        )
    payload: dict[str, Any] = {"document_id": document_id, "electronic": True}
    if record.get("Signed") is True:
        payload["signed"] = True
    payload["sender_agency"] = sender
    if len(receivers) == 1 and _AGENCY.match(receivers[0]):
        payload["receiver_agency"] = receivers[0]
    doc_type = header.get("DocumentType")
    if isinstance(doc_type, Mapping):
        name = text(doc_type.get("TypeName")) or text(doc_type.get("Type"))
        if name:
            payload["document_type"] = name[:500]
    if due_at is not None:
        payload["due_at"] = iso(due_at)
    origins = {
        "payload.document_id": "MessageHeader.DocumentId",
        "payload.sender_agency": sender_from,
        "payload.receiver_agency": "MessageHeader.To.OrganId",
        "payload.document_type": "MessageHeader.DocumentType.TypeName",
    }
    if receiving:
        assert ctx.agency is not None
        payload |= {"direction": "incoming"}
        events = [_event(document_id, "received", when, ctx.agency, payload)]
        return Mapped(events=events, warnings=warnings, origins={**origins, "agency": "?agency="})
    payload |= {"direction": "outgoing"}
    events = [_event(document_id, "sent", when, sender, payload)]
    if issued_at is not None and issued_at <= when:
        events.insert(0, _event(document_id, "issued", issued_at, sender, payload))
    return Mapped(events=events, warnings=warnings, origins={**origins, "agency": sender_from})


def _event(
    document_id: str, kind: str, when: datetime, agency: str, payload: dict[str, Any]
) -> dict[str, Any]:
    instant = iso(when.astimezone(VN_TZ))
    return {
        "event_id": content_id("edxml", [document_id, agency, kind, instant]),
        "type": kind,
        "occurred_at": iso(when),
        "agency": agency,
        "payload": dict(payload),
    }


def text(value: Any) -> str | None:
    """An element's text (stripped), None when absent, empty or not text."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _text_of(value: Mapping[str, Any], name: str) -> str | None:
    return text(value.get(name))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _organ(party: Any) -> str | None:
    if isinstance(party, list):  # a repeated From: the first
        party = party[0] if party else None
    return text(party.get("OrganId")) if isinstance(party, Mapping) else None


def _agency(
    code: str | None, where: str, ctx: MapContext | None, errors: list[Issue]
) -> tuple[str, str]:
    if code is not None:
        return code, where
    if ctx is not None and ctx.agency:
        return ctx.agency.strip(), "?agency="
    errors.append(Issue(where, "required: the agency code (e.g. 000.00.31.H42)"))
    return "", where


def _document_id(
    given: Any, organ: Any, promulgated: Any, code: str | None, where: str, errors: list[Issue]
) -> str | None:
    """`DocumentId`, else `<OrganId>,<yyyy/MM/dd>,<code>`."""
    document_id = as_identifier(text(given))
    if document_id is not None:
        return document_id
    if text(given) is not None:
        errors.append(
            Issue(
                f"{where}.DocumentId",
                f"must be an id without spaces of at most 200 characters, got {shown(given)}",
            )
        )
        return None
    scratch: list[Issue] = []
    day = when_of(promulgated, "", scratch, [])
    organ_id = text(organ)
    if organ_id is None or day is None or code is None:
        errors.append(
            Issue(
                f"{where}.DocumentId",
                "required: the document's id, or the sender's OrganId, the PromulgationDate and "
                "the Code to make it from",
            )
        )
        return None
    built = as_identifier(re.sub(r"\s+", "", f"{organ_id},{day:%Y/%m/%d},{code}"))
    if built is None:
        errors.append(
            Issue(
                f"{where}.DocumentId",
                "required: the id made from OrganId, PromulgationDate and Code is too long",
            )
        )
    return built


def when_of(
    value: Any,
    where: str,
    errors: list[Issue],
    warnings: list[Issue],
    *,
    required: bool = False,
    end_of_day: bool = False,
) -> datetime | None:
    """An edXML date or date-time (see the module docstring); None when absent."""
    raw = text(value)
    if raw is None:
        if required:
            errors.append(
                Issue(where, "required: when it happened (e.g. 2026-11-22T08:15:00+07:00)")
            )
        return None
    when: datetime | None = None
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        when = datetime.combine(day.date(), time(23, 59, 59) if end_of_day else time(0), VN_TZ)
        break
    if when is None:
        for fmt in _DATETIME_FORMATS:
            try:
                when = datetime.strptime(raw, fmt)
            except ValueError:
                continue
            break
    if when is None:
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            errors.append(
                Issue(where, f"{shown(raw)} is not a date (ISO 8601 or dd/MM/yyyy HH:mm:ss)")
            )
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=VN_TZ)
        warnings.append(naive_warning(where))
    if not EARLIEST <= when < LATEST:
        errors.append(Issue(where, f"{shown(raw)} is before 1970 or after 2100; check the year"))
        return None
    return when


FORMAT = Format(
    name="edxml",
    title="edXML (QCVN 102:2016) message header and status packet",
    sources=frozenset({"documents"}),
    parser=parse,
    mapper=map_record,
    sniff=sniff,
)
