"""edXML (QCVN 102:2016): a document sent over the exchange axis as its message header, and
what happens to it afterwards as the status packets the handling agency sends back.

What it writes (the server's `ingestors.formats.edxml` reads it back), one XML document per
message, UTF-8, every text escaped:
- **the message header** (`edXML/edXMLEnvelope/edXMLHeader/MessageHeader`, the QCVN
  namespace under the `edXML:` prefix): `From` / `To` with `OrganId` and `OrganName`,
  `Code` (`CodeNumber` drawn from the document id, `CodeNotation` from the type and the
  sender, as Decree 30 writes them: `QĐ-UBND`, `SNV-VP` for an official letter),
  `PromulgationInfo` (`Place`, `PromulgationDate` a date), `DocumentType/TypeName`
  (`Type` is left out: its code table was not found), `Subject`, `SignerInfo`, `DueDate`
  (an ISO 8601 date-time: the simulator's deadlines have a time of day), `DocumentId` (the
  simulator's document id, so the server's document is the simulator's), a
  `TraceHeaderList` with the `TraceHeader` of each agency it passed and `BussinessDocType` 0
  (new), an XML `Signature` beside the header when the document is signed, and a manifest of
  its signed PDF;
- **the status packet** (`Status`, in a SOAP header as one exchange system sends it):
  `ResponseFor` the document, `From` the agency reporting, `StatusCode`, `Description`,
  `Timestamp` (ISO 8601 with milliseconds and `+07:00`), `StaffInfo`.

Per step of the simulator's documents (only electronic ones: a paper document never
travels over edXML, and is sent canonically):
- outgoing `sent`: the header as the sender's system posts it; the server makes `issued` at
  00:00 of `PromulgationDate` and `sent` at the sender's trace;
- outgoing `issued`: the promulgation that header will state, sent at once as the
  canonical event the server makes of it (its derived `edxml-` id, 00:00 Vietnam time of
  the issue day, the header's payload), so it is stored whether or not the header follows
  and the header's own `issued` then adds nothing. edXML dates a promulgation, it does not
  time it: `issued` is stored at the start of its day, not at the simulator's minute;
- incoming `received` (from a central agency): the header as the receiving agency's system
  posts it (`?agency=` the receiver): `received` there, direction `incoming`;
- outgoing `received` at a province receiver, and every later step at the receiver:
  status packets from it - 03 `received`, 04 `assigned`, 05 `processed`, 06 `done`, 15
  `returned` (recall agreed: a document sent to the wrong agency goes back). A status 03
  says direction `incoming` (the receiver's view), so the server's state of an outgoing
  document reads `incoming` from its receipt on, where the canonical simulator keeps
  `outgoing`;
- the steps the simulator places at the sender after sending - the axis refusing the packet
  (`refused`), a central agency's delivery receipt (`received`) - have no status packet of
  the sender's own (a status is an event at the agency reporting): they are sent
  canonically with the document id (and the direction a receipt must state) only.

**State.** Status packets name the document with its promulgation date, which only the
document's first step knows; one run keeps it per open document and drops it at the last
step (or when idle longer than any gap the simulator plans, `base.Open`).
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from xml.sax.saxutils import escape

from ingestors.render.base import (
    IDLE,
    Open,
    Record,
    Rendered,
    content_id,
    digest,
    instant,
    lifecycle_renderer,
    number,
    person,
)
from ingestors.simulator import AGENCIES, CENTRAL_AGENCIES
from ioc.working_time import VN_TZ

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
STATUS_CODES = {"received": "03", "assigned": "04", "processed": "05", "done": "06",
                "returned": "15"}  # fmt: skip
DESCRIPTIONS = {
    "03": "Văn thư đã tiếp nhận văn bản",
    "04": "Đã phân công xử lý văn bản",
    "05": "Đang xử lý văn bản",
    "06": "Đã hoàn thành xử lý văn bản",
    "15": "Đồng ý thu hồi: văn bản gửi nhầm nơi nhận",
}
STAFF = {"03": "Văn thư", "04": "Lãnh đạo", "05": "Chuyên viên", "06": "Chuyên viên",
         "15": "Văn thư"}  # fmt: skip
# Abbreviations of Decree 30/2020/NĐ-CP (Appendix III) for the notation of a document number.
TYPE_ABBREVIATIONS = {
    "Quyết định": "QĐ", "Báo cáo": "BC", "Thông báo": "TB", "Tờ trình": "TTr",
    "Kế hoạch": "KH", "Giấy mời": "GM", "Chỉ thị": "CT", "Hướng dẫn": "HD",
    "Nghị quyết": "NQ", "Công điện": "CĐ", "Biên bản": "BB", "Phiếu chuyển": "PC",
}  # fmt: skip
SUBJECTS = (
    "V/v triển khai kế hoạch chuyển đổi số năm {year}",
    "V/v báo cáo tình hình thực hiện nhiệm vụ tháng {month}/{year}",
    "V/v tăng cường bảo đảm an toàn thông tin mạng",
    "V/v rà soát, đơn giản hóa thủ tục hành chính",
    "V/v góp ý dự thảo văn bản quy phạm pháp luật",
    "V/v tổ chức hội nghị sơ kết 6 tháng đầu năm {year}",
    "V/v đôn đốc giải quyết hồ sơ trễ hạn",
    "V/v phòng, chống thiên tai và tìm kiếm cứu nạn",
)
CLOSING = frozenset({"done", "returned", "refused"})
_AGENCIES = {a.code: a for a in (*AGENCIES, *CENTRAL_AGENCIES)}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- XML, written by hand: every text goes through `_text` -----------------------------------


def _text(value: object) -> str:
    """Text as XML character data: markup escaped, characters XML 1.0 forbids dropped."""
    return escape(_NOT_XML.sub("", str(value)))


def _el(tag: str, *content: str | None, text: object = None) -> str:
    """An element with child elements (already XML, None left out) or with `text`."""
    inner = _text(text) if text is not None else "".join(c for c in content if c)
    return f"<{tag}>{inner}</{tag}>"


def _ed(name: str, *content: str | None, text: object = None) -> str:
    return _el(f"edXML:{name}", *content, text=text)


# -- what a document says ------------------------------------------------------------------


def abbreviation(code: str) -> str:
    """An agency's abbreviation: UBND for a people's committee, VPUBND for its office, else
    the initials of its name (Sở Nội vụ: SNV; Văn phòng Chính phủ: VPCP)."""
    agency = _AGENCIES.get(code)
    if agency is None:
        return "VP"
    name = agency.name
    if name.startswith("UBND"):
        return "UBND"
    if name.startswith("Văn phòng UBND"):
        return "VPUBND"
    return "".join(word[0].upper() for word in name.split() if word != "và")


def organ_name(code: str) -> str:
    agency = _AGENCIES.get(code)
    return agency.name if agency is not None else code


def position(code: str) -> str:
    """Who signs for the agency (TM. = on behalf of its collective head)."""
    agency = _AGENCIES.get(code)
    if agency is not None and agency.level == "central":
        return "Thứ trưởng"
    return "Phó Chủ tịch" if organ_name(code).startswith("UBND") else "Phó Giám đốc"


def place(code: str) -> str:
    agency = _AGENCIES.get(code)
    if agency is None or agency.level == "central":
        return "Hà Nội"
    if agency.level == "commune":
        return agency.name.removeprefix("UBND ").removeprefix("phường ").removeprefix("xã ")
    return "Hà Tĩnh"


def code_of(payload: Record) -> tuple[str, str]:
    """(CodeNumber, CodeNotation) of the document."""
    sender = abbreviation(payload["sender_agency"])
    kind = payload.get("document_type") or ""
    if kind in TYPE_ABBREVIATIONS:
        notation = f"{TYPE_ABBREVIATIONS[kind]}-{sender}"
    else:  # an official letter: the agency, then the unit that drafted it
        notation = f"{sender}-VP"
    return str(1 + number(payload["document_id"], 1800)), notation


def signature_value(document_id: str) -> str:
    """A stand-in for the RSA signature value (base64, as XML-DSig writes it)."""
    return base64.b64encode(bytes.fromhex(digest(document_id, "signature"))).decode()


def local_iso(when: datetime) -> str:
    """`2026-01-05T08:00:01.234+07:00`: Vietnam time with milliseconds."""
    local = when.astimezone(VN_TZ)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+07:00"


def header_payload(payload: Record) -> dict[str, Any]:
    """The payload the server makes of the header of an outgoing document."""
    out: dict[str, Any] = {"document_id": payload["document_id"], "electronic": True}
    if payload.get("signed"):
        out["signed"] = True
    out["sender_agency"] = payload["sender_agency"]
    out["receiver_agency"] = payload["receiver_agency"]
    out["document_type"] = payload["document_type"]
    if payload.get("due_at"):
        out["due_at"] = datetime.fromisoformat(payload["due_at"]).isoformat()
    out["direction"] = "outgoing"
    return out


def _party(tag: str, code: str) -> str:
    return _ed(tag, _ed("OrganId", text=code), _ed("OrganName", text=organ_name(code)))


def header(payload: Record, promulgated: date, hops: list[tuple[str, datetime]]) -> str:
    """The edXML message of the document: its header, traces, signature and manifest."""
    document_id = payload["document_id"]
    sender, receiver = payload["sender_agency"], payload["receiver_agency"]
    number_, notation = code_of(payload)
    subject = SUBJECTS[number(document_id + "#subject", len(SUBJECTS))].format(
        year=promulgated.year, month=promulgated.month
    )
    due = payload.get("due_at")
    signed = bool(payload.get("signed"))
    signature = (
        f'<Signature xmlns="{DSIG}"><SignedInfo><SignatureMethod Algorithm='
        '"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/></SignedInfo>'
        f"{_el('SignatureValue', text=signature_value(document_id))}</Signature>"
        if signed
        else None
    )
    message = _ed(
        "MessageHeader",
        _party("From", sender),
        _party("To", receiver),
        _ed("Code", _ed("CodeNumber", text=number_), _ed("CodeNotation", text=notation)),
        _ed(
            "PromulgationInfo",
            _ed("Place", text=place(sender)),
            _ed("PromulgationDate", text=promulgated.isoformat()),
        ),
        _ed("DocumentType", _ed("TypeName", text=payload["document_type"])),
        _ed("Subject", text=subject),
        _ed(
            "SignerInfo",
            _ed("Competence", text=f"TM. {organ_name(sender)}"),
            _ed("Position", text=position(sender)),
            _ed("FullName", text=person(f"{sender}#signer")),
        ),
        _ed("DueDate", text=datetime.fromisoformat(due).isoformat()) if due else None,
        _ed("ToPlaces", _ed("Place", text=organ_name(receiver))),
        _ed("DocumentId", text=document_id),
    )
    traces = _ed(
        "TraceHeaderList",
        *(
            _ed("TraceHeader", _ed("OrganId", text=organ), _ed("Timestamp", text=local_iso(at)))
            for organ, at in hops
        ),
        _ed("Bussiness", _ed("BussinessDocType", text="0")),
    )
    attachment = f"{number_}-{notation}{'.signed' if signed else ''}.pdf"
    body = _ed(
        "edXMLBody",
        _ed(
            "edXMLManifest",
            _ed(
                "Reference",
                _ed("ContentId", text=f"cid:{number(document_id + '#cid', 1 << 32):08x}"),
                _ed("ContentType", text="application/pdf"),
                _ed("AttachmentName", text=attachment),
            ),
        ),
    )
    envelope = _ed("edXMLEnvelope", _ed("edXMLHeader", message, traces, signature), body)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<edXML:edXML xmlns:edXML="{NS}">{envelope}</edXML:edXML>\n'
    )


def status(record: Record, code: str, promulgated: date | None) -> str:
    """The status packet the agency of `record` sends about the document."""
    p = record["payload"]
    number_, notation = code_of(p)
    agency = record["agency"]
    response = _ed(
        "ResponseFor",
        _ed("OrganId", text=p["sender_agency"]),
        _ed("Code", text=f"{number_}/{notation}"),
        _ed("PromulgationDate", text=f"{promulgated:%d/%m/%Y}") if promulgated else None,
        _ed("DocumentId", text=p["document_id"]),
    )
    packet = (
        f'<edXML:Status xmlns:edXML="{NS}">'
        + response
        + _party("From", agency)
        + _ed("StatusCode", text=code)
        + _ed("Description", text=DESCRIPTIONS[code])
        + _ed("Timestamp", text=local_iso(instant(record)))
        + _ed(
            "StaffInfo",
            _ed("Department", text=f"Văn phòng {organ_name(agency)}"),
            _ed("Staff", text=person(f"{agency}#{STAFF[code]}")),
        )
        + "</edXML:Status>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP}"><SOAP-ENV:Header>{packet}'
        "</SOAP-ENV:Header><SOAP-ENV:Body/></SOAP-ENV:Envelope>\n"
    )


def issued_event(record: Record, promulgated: date) -> Record:
    """The canonical event the server makes of the header's `PromulgationDate`."""
    at = datetime.combine(promulgated, time(0), VN_TZ).isoformat()
    agency = record["payload"]["sender_agency"]
    return {
        "source": record["source"],
        "event_id": content_id("edxml", [record["payload"]["document_id"], agency, "issued", at]),
        "type": "issued",
        "occurred_at": at,
        "agency": agency,
        "payload": header_payload(record["payload"]),
    }


def _local_day(when: datetime) -> date:
    return when.astimezone(VN_TZ).date()


class Messages:
    """One run's edXML writer: the promulgation date of each open document (see the module
    docstring for what each step becomes)."""

    def __init__(self, idle: timedelta = IDLE) -> None:
        self.open: Open[date] = Open(idle)

    def __call__(self, record: Record) -> Rendered:
        p = record["payload"]
        document_id, kind, agency = p["document_id"], record["type"], record["agency"]
        when = instant(record)
        known = self.open.get(document_id)
        promulgated = known or _promulgated(record)
        if kind in CLOSING or (kind == "received" and agency != p["receiver_agency"]):
            self.open.close(document_id)  # its last step
        else:
            self.open.put(document_id, promulgated, when)
        source = record["source"]
        if kind == "issued":
            return Rendered(source, "canonical", issued_event(record, promulgated))
        if kind == "sent":
            return Rendered(source, "edxml", header(p, promulgated, [(agency, when)]))
        if kind == "received" and p["direction"] == "incoming":
            hops = [(p["sender_agency"], _sent_by_central(record)), (agency, when)]
            return Rendered(source, "edxml", header(p, promulgated, hops), agency=agency)
        if kind in STATUS_CODES and agency == p["receiver_agency"]:
            return Rendered(source, "edxml", status(record, STATUS_CODES[kind], known))
        # At the sender after sending: no status packet of its own (see the module).
        payload = {"document_id": document_id}
        if kind == "received":
            payload["direction"] = p["direction"]
        return Rendered(source, "canonical", {**record, "payload": payload})


def _sent_by_central(record: Record) -> datetime:
    """When the central agency sent what a province agency receives: 1-120 minutes before."""
    minutes = 1 + number(record["payload"]["document_id"] + "#sent", 120)
    return instant(record) - timedelta(minutes=minutes)


def _promulgated(record: Record) -> date:
    """The day the document was promulgated, from its first step: the day it was issued; for
    one arriving from a central agency, 0-2 days before it was sent."""
    p = record["payload"]
    if record["type"] == "received" and p["direction"] == "incoming":
        days = number(p["document_id"] + "#days", 3)
        return _local_day(_sent_by_central(record)) - timedelta(days=days)
    return _local_day(instant(record))


def carries(payload: Record) -> bool:
    return payload.get("electronic") is True


RENDERER = lifecycle_renderer(
    "edxml", "documents", "document_id", frozenset({"sent", "received", *STATUS_CODES}),
    carries=carries, writer=Messages,
)  # fmt: skip
