"""The DVC filing sync record (*hồ sơ đồng bộ*): the snapshot of one filing that a provincial
one-stop-shop system sends the national public-service portal (DVCQG), again and again as the
filing moves on.

Parsed as a JSON array, one JSON object or NDJSON; a record is the filing object itself
(`{"MaHoSo": …, "TrangThaiHoSo": "4", …, "tienTrinhDongBo": [...]}`) or the two parts side by
side (`{"hoSo": {…}, "tienTrinhDongBo": [...]}`). Recognised, when `?format=` is omitted, by
an object with a `MaHoSo` (or a `hoSo` object). Codes are accepted as text or numbers
(`"4"`, `4`); dates are `yyyyMMddHHmmss` in Vietnam time (Asia/Ho_Chi_Minh, +07:00) as the
format defines them (ISO 8601 is accepted too; without an offset it is taken as Vietnam time,
with a warning).

**A snapshot becomes the events it implies**, each with an id derived from its content
(`dvc-` + SHA-256 of the filing code, the event type and the instant), so a snapshot sent
again - or a later one that repeats the same history - adds nothing:

- `received` at `NgayTiepNhan` (else at the first history step with `TrangThai` 2);
- one event per status change in the history `tienTrinhDongBo[]` (ordered by
  `ThoiDiemXuLy`), typed by `STATUS` below; a step that repeats the previous type (a
  hand-over between officers while in process) adds nothing; status 2 or 4 right after 5 is
  the citizen's supplement (`supplemented`);
- the current status `TrangThaiHoSo` when the history does not already end in it, at the
  date the record gives for it (`NgayKetThucXuLy` for 9, `NgayTra` for 10 - with `resolved`
  at `NgayKetThucXuLy` when the history lacks it -, `NgayTuChoi` for 3 and 8); a status with
  no time in the record makes no event, and the result says so in `warnings`.

Every event carries what the snapshot says of the filing (procedure, channel, due date,
fees, payment, digitisation), so a value that changed reaches IOC with the next step.
A filing still at status 1 (registered online, not yet received) maps to no event on purpose
(`skipped`, kind `not_received`).

Decided here (the sources say nothing): status 6 (financial obligation requested) makes no
event - IOC has no step for it and it does not stop 766's clock; status 8 (processing
stopped) is `refused`, like 3; the agency is `DonViXuLy` when it holds an agency code
(`000.00.31.H42`), else the request's `?agency=`. `DanhSachHoSoBoSung[]` is not read: its
items' fields differ between systems; supplements are read from the history.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ingestors.body import parse_records
from ingestors.formats.base import (
    VN_TZ,
    Format,
    Issue,
    MapContext,
    Mapped,
    as_identifier,
    content_id,
    iso,
    parse_instant,
    shown,
)
from ioc.fields import EARLIEST, LATEST, MAX_FEE_VND

# TrangThaiHoSo (and tienTrinhDongBo[].TrangThai): code -> (canonical event type, meaning).
STATUS: dict[str, tuple[str | None, str]] = {
    "1": (None, "newly registered (mới đăng ký)"),
    "2": ("received", "received (đã tiếp nhận)"),
    "3": ("refused", "not accepted (không được tiếp nhận)"),
    "4": ("in_process", "in process (đang xử lý)"),
    "5": ("supplement_requested", "supplement requested (yêu cầu bổ sung)"),
    "6": (None, "financial obligation requested (yêu cầu thực hiện nghĩa vụ tài chính)"),
    "7": ("withdrawn", "withdrawn by the citizen (công dân rút hồ sơ)"),
    "8": ("refused", "processing stopped (dừng xử lý)"),
    "9": ("resolved", "processed (đã xử lý xong)"),
    "10": ("result_returned", "result returned (đã trả kết quả)"),
}


@dataclass(frozen=True, slots=True)
class Row:
    """One DVC field: the canonical field it becomes and, for a coded field, its codes
    (code -> (canonical value, meaning))."""

    source: str
    canonical: str
    codes: Mapping[str, tuple[Any, str]] | None = None
    note: str = ""


# The field and code mapping, the one place it is written (the README's table mirrors it).
MAPPING: tuple[Row, ...] = (
    Row("MaHoSo", "payload.filing_id", note="required"),
    Row("MaTTHC", "payload.procedure_code", note="required once the filing is received"),
    Row(
        "KenhThucHien",
        "payload.channel",
        {
            "1": ("in_person", "in person (trực tiếp)"),
            "": ("in_person", "empty: in person"),
            "2": ("online", "online (trực tuyến)"),
            "3": ("postal", "public postal service (BCCI)"),
        },
    ),
    Row(
        "MucDo",
        "payload.full_online",
        {
            "2": (False, "information only"),
            "3": (False, "partly online"),
            "4": (True, "full-process online (toàn trình)"),
        },
        note="when the record carries it",
    ),
    Row("NgayTiepNhan", "occurred_at of received; payload.received_at"),
    Row("NgayHenTra", "payload.due_at"),
    Row("DanhSachLePhi[].Gia", "payload.fee_vnd", note="the sum; an empty list is 0"),
    Row(
        "DuocThanhToanTrucTuyen",
        "payload.paid_online",
        {
            "0": (False, "not paid online"),
            "1": (True, "paid via DVCQG"),
            "2": (True, "paid via a ministry's or the province's payment gateway"),
        },
    ),
    Row(
        "HoSoCoThanhPhanSoHoa",
        "payload.digitised",
        {"0": (False, "no digitised component"), "1": (True, "has digitised components")},
    ),
    Row("TrangThaiHoSo", "type of the current status's event", STATUS),
    Row("tienTrinhDongBo[].TrangThai", "type of each history step's event", STATUS),
    Row("tienTrinhDongBo[].ThoiDiemXuLy", "occurred_at of each history step's event"),
    Row("NgayKetThucXuLy", "occurred_at of resolved (status 9, 10)"),
    Row("NgayTra", "occurred_at of result_returned (status 10)"),
    Row("NgayTuChoi", "occurred_at of refused (status 3, 8)"),
    Row(
        "DonViXuLy",
        "agency",
        note="when it is an agency code, else ?agency=; its commune "
        "(a commune-level agency's, from the reference data) is payload.commune_code",
    ),
)
ROWS: dict[str, Row] = {row.source: row for row in MAPPING}
# The date the record gives for reaching a status, when its history lacks the step.
STATUS_DATE = {"9": "NgayKetThucXuLy", "10": "NgayTra", "3": "NgayTuChoi", "8": "NgayTuChoi"}
SUPPLEMENT_REQUESTED = "5"

_LOCAL = re.compile(r"^\d{14}$")
_AGENCY = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}$")


def detect(record: Any) -> bool:
    return isinstance(record, Mapping) and (
        "MaHoSo" in record or isinstance(record.get("hoSo"), Mapping)
    )


def code_of(value: Any) -> str | None:
    """A code as the tables key it: `4`, `"4"`, `" 04 "` -> "4"; "" for empty; None when the
    value cannot be a code at all."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        return str(int(text)) if text.isdigit() and len(text) <= 6 else text
    return None


def allowed(codes: Mapping[str, tuple[Any, str]]) -> str:
    return ", ".join(f"{code} ({meaning})" for code, (_, meaning) in codes.items() if code)


def coded(row: Row, value: Any, where: str, errors: list[Issue]) -> tuple[bool, Any]:
    """(known, canonical value) of a coded field; an unknown code is an error naming it and
    the allowed ones."""
    assert row.codes is not None
    code = code_of(value)
    if code is not None and code in row.codes:
        return True, row.codes[code][0]
    errors.append(Issue(where, f"unknown code {shown(value)}; allowed: {allowed(row.codes)}"))
    return False, None


def local_time(
    value: Any, where: str, errors: list[Issue], warnings: list[Issue]
) -> datetime | None:
    """`yyyyMMddHHmmss` in Vietnam time (the format's own), or ISO 8601; None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    when: datetime | None = None
    if isinstance(value, str) and _LOCAL.match(value.strip()):
        text = value.strip()
        try:
            when = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=VN_TZ)
        except ValueError:
            errors.append(Issue(where, f"{shown(value)} is not a date (yyyyMMddHHmmss)"))
            return None
    elif isinstance(value, str):
        when, error, warning = parse_instant(value, where)
        if error is not None:
            errors.append(
                Issue(where, f"must be yyyyMMddHHmmss (Vietnam time), got {shown(value)}")
            )
            return None
        warnings += [warning] if warning else []
    else:
        errors.append(Issue(where, f"must be yyyyMMddHHmmss (Vietnam time), got {shown(value)}"))
        return None
    assert when is not None
    if not EARLIEST <= when < LATEST:
        errors.append(Issue(where, f"{shown(value)} is before 1970 or after 2100; check the year"))
        return None
    return when


def fee(value: Any, where: str, errors: list[Issue]) -> int | None:
    """A fee in VND (`Gia`): a whole number, as a number or text ("50000")."""
    if isinstance(value, bool) or value is None:
        amount = None
    elif isinstance(value, int):
        amount = value
    elif isinstance(value, float):
        amount = int(value) if value.is_integer() else None
    elif isinstance(value, str) and len(value) <= 40:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        amount = int(number) if number is not None and number == number.to_integral() else None
    else:
        amount = None
    if amount is None or not 0 <= amount <= MAX_FEE_VND:
        errors.append(Issue(where, f"must be a whole amount of VND from 0, got {shown(value)}"))
        return None
    return amount


def _unwrap(record: Mapping[str, Any]) -> tuple[Mapping[str, Any] | Any, Any, str, str]:
    """(the filing, its history, the prefix of the filing's fields, the history's field)."""
    if "MaHoSo" not in record and "hoSo" in record:
        filing = record["hoSo"]
        history = record.get("tienTrinhDongBo")
        if history is None and isinstance(filing, Mapping):
            return filing, filing.get("tienTrinhDongBo"), "hoSo.", "hoSo.tienTrinhDongBo"
        return filing, history, "hoSo.", "tienTrinhDongBo"
    return record, record.get("tienTrinhDongBo"), "", "tienTrinhDongBo"


@dataclass(slots=True)
class _Step:
    type: str
    at: datetime
    code: str


def map_record(record: Any, ctx: MapContext) -> Mapped:
    if not isinstance(record, Mapping):
        return Mapped(
            errors=[Issue("", f"expected a filing sync record (object), got {shown(record)}")]
        )
    filing, history, p, hist_name = _unwrap(record)
    if not isinstance(filing, Mapping):
        return Mapped(errors=[Issue("hoSo", f"must be the filing (object), got {shown(filing)}")])
    errors: list[Issue] = []
    warnings: list[Issue] = []

    filing_id = as_identifier(filing.get("MaHoSo"))
    if filing_id is None:
        errors.append(
            Issue(
                p + "MaHoSo",
                f"required: the filing's code, text without spaces (e.g. H42.12-261122-0001), "
                f"got {shown(filing.get('MaHoSo'))}",
            )
        )
    payload: dict[str, Any] = {"filing_id": filing_id}
    procedure = filing.get("MaTTHC")
    procedure_code = as_identifier(procedure)
    if procedure not in (None, "") and procedure_code is None:
        errors.append(
            Issue(p + "MaTTHC", f"must be a procedure code without spaces, got {shown(procedure)}")
        )
    payload["procedure_code"] = procedure_code
    channel_value = filing.get("KenhThucHien")
    payload["channel"] = (
        "in_person"
        if channel_value is None
        else coded(ROWS["KenhThucHien"], channel_value, p + "KenhThucHien", errors)[1]
    )
    for name, key in (
        ("MucDo", "full_online"),
        ("DuocThanhToanTrucTuyen", "paid_online"),
        ("HoSoCoThanhPhanSoHoa", "digitised"),
    ):
        value = filing.get(name)
        if value is not None and value != "":
            payload[key] = coded(ROWS[name], value, p + name, errors)[1]
    received_at = local_time(filing.get("NgayTiepNhan"), p + "NgayTiepNhan", errors, warnings)
    due_at = local_time(filing.get("NgayHenTra"), p + "NgayHenTra", errors, warnings)
    payload["due_at"] = iso(due_at) if due_at else None
    fees = filing.get("DanhSachLePhi")
    if isinstance(fees, list):
        amounts = [
            fee(
                item.get("Gia") if isinstance(item, Mapping) else item,
                f"{p}DanhSachLePhi[{i}].Gia",
                errors,
            )
            for i, item in enumerate(fees)
        ]
        total = sum(a for a in amounts if a is not None)
        if total > MAX_FEE_VND:
            errors.append(Issue(p + "DanhSachLePhi", f"fees add up to more than {MAX_FEE_VND} VND"))
        payload["fee_vnd"] = total
    elif fees is not None:
        errors.append(Issue(p + "DanhSachLePhi", f"must be a list of fees, got {shown(fees)}"))

    status_value = filing.get("TrangThaiHoSo")
    known, _ = coded(ROWS["TrangThaiHoSo"], status_value, p + "TrangThaiHoSo", errors)
    status = code_of(status_value) if known else None

    steps = _history(history, hist_name, filing_id, errors, warnings)
    agency, agency_from = _agency(filing.get("DonViXuLy"), p + "DonViXuLy", ctx, errors)
    if errors:
        return Mapped(errors=errors, warnings=warnings)
    assert filing_id is not None and status is not None

    timeline = _timeline(filing, p, status, received_at, steps, errors, warnings)
    if errors:
        return Mapped(errors=errors, warnings=warnings)
    if not timeline:
        meaning = STATUS[status][1]
        return Mapped(
            skipped="not_received",
            note=f"TrangThaiHoSo {status} ({meaning}): not received yet, no event",
            warnings=warnings,
        )
    if received_at is None:
        received_at = next((s.at for s in timeline if s.type == "received"), None)
    payload["received_at"] = iso(received_at) if received_at else None
    # The record has no commune: a commune-level agency's filings are its commune's.
    payload["commune_code"] = ctx.communes.get(agency)
    payload = {k: v for k, v in payload.items() if v is not None}
    events = [
        {
            "event_id": content_id("dvc", [filing_id, step.type, iso(step.at.astimezone(VN_TZ))]),
            "type": step.type,
            "occurred_at": iso(step.at),
            "agency": agency,
            "payload": payload,
        }
        for step in timeline
    ]
    origins = {
        "agency": agency_from,
        "payload.filing_id": p + "MaHoSo",
        "payload.procedure_code": p + "MaTTHC",
        "payload.due_at": p + "NgayHenTra",
        "payload.received_at": p + "NgayTiepNhan",
        "payload.fee_vnd": p + "DanhSachLePhi[].Gia",
    }
    return Mapped(events=events, warnings=warnings, origins=origins)


def _history(
    history: Any, where: str, filing_id: str | None, errors: list[Issue], warnings: list[Issue]
) -> list[tuple[datetime, str, int]]:
    """(time, status code, index) of each valid history step, in time order."""
    if history is None:
        return []
    if not isinstance(history, list):
        errors.append(Issue(where, f"must be a list of processing steps, got {shown(history)}"))
        return []
    steps: list[tuple[datetime, str, int]] = []
    for i, step in enumerate(history):
        at = f"{where}[{i}]"
        if not isinstance(step, Mapping):
            errors.append(Issue(at, f"must be a processing step (object), got {shown(step)}"))
            continue
        own = step.get("MaHoSo")
        if own not in (None, "") and filing_id is not None and own != filing_id:
            errors.append(
                Issue(at + ".MaHoSo", f"{shown(own)} is another filing than {filing_id!r}")
            )
        known, _ = coded(
            ROWS["tienTrinhDongBo[].TrangThai"], step.get("TrangThai"), at + ".TrangThai", errors
        )
        when = local_time(step.get("ThoiDiemXuLy"), at + ".ThoiDiemXuLy", errors, warnings)
        if when is None and step.get("ThoiDiemXuLy") in (None, ""):
            errors.append(Issue(at + ".ThoiDiemXuLy", "required: when the step happened"))
        code = code_of(step.get("TrangThai"))
        if known and when is not None and code is not None:
            steps.append((when, code, i))
    steps.sort(key=lambda s: (s[0], s[2]))
    return steps


def _timeline(
    filing: Mapping[str, Any],
    p: str,
    status: str,
    received_at: datetime | None,
    steps: list[tuple[datetime, str, int]],
    errors: list[Issue],
    warnings: list[Issue],
) -> list[_Step]:
    """The events the snapshot implies (see the module docstring)."""
    timeline: list[_Step] = []
    if received_at is not None:
        timeline.append(_Step("received", received_at, "2"))
    previous: str | None = None
    for when, code, _ in steps:
        kind = STATUS[code][0]
        if previous == SUPPLEMENT_REQUESTED and code in ("2", "4"):
            kind = "supplemented"
        previous = code
        if kind is None:
            continue
        if kind == "received":
            if any(s.type == "received" for s in timeline):
                continue
        elif timeline and timeline[-1].type == kind:
            continue  # a hand-over within the same status
        timeline.append(_Step(kind, when, code))

    def dated(kind: str, field: str) -> bool:
        when = local_time(filing.get(field), p + field, errors, warnings)
        if when is not None:
            timeline.append(_Step(kind, when, status))
        return when is not None

    current = STATUS[status][0]
    if status == "10" and not any(s.type == "resolved" for s in timeline):
        dated("resolved", "NgayKetThucXuLy")  # optional: a result may be returned unresolved
    last_code = steps[-1][1] if steps else None
    if current not in (None, "received") and last_code != status:
        field = STATUS_DATE.get(status)
        if field is None or not dated(str(current), field):
            also = f", no {field}" if field else ""
            warnings.append(
                Issue(
                    p + "TrangThaiHoSo",
                    f"status {status} ({STATUS[status][1]}) has no time in this record (no "
                    f"tienTrinhDongBo step with it{also}); "
                    "no event for it until a record gives one",
                    "no_time",
                )
            )
    opened = any(s.type == "received" for s in timeline)
    if not opened and status not in ("1", "3"):
        errors.append(
            Issue(
                p + "NgayTiepNhan",
                f"required: the filing is past receipt (TrangThaiHoSo {status}) but the "
                "record says neither when it was received (NgayTiepNhan) nor has a "
                "tienTrinhDongBo step with TrangThai 2",
            )
        )
    if opened and not filing.get("MaTTHC"):
        errors.append(Issue(p + "MaTTHC", "required: the procedure code of a received filing"))
    timeline.sort(key=lambda s: s.at)
    return timeline


def _agency(value: Any, where: str, ctx: MapContext, errors: list[Issue]) -> tuple[str, str]:
    """(agency code, where it came from): `DonViXuLy` when it is one, else `?agency=`."""
    if isinstance(value, str) and _AGENCY.match(value.strip()):
        return value.strip(), where
    if ctx.agency:
        return ctx.agency.strip(), "?agency="
    said = (
        f"{where} ({shown(value)}) is not an agency code"
        if value not in (None, "")
        else f"the record has no {where}"
    )
    errors.append(
        Issue(
            where,
            f"no agency: {said} and the request has no ?agency=; send the agency code "
            "(e.g. 000.00.31.H42) in one of them",
        )
    )
    return "", where


FORMAT = Format(
    name="dvc",
    title="DVC filing sync record (DVCQG hồ sơ đồng bộ)",
    sources=frozenset({"filings"}),
    parser=parse_records,
    mapper=map_record,
    detect=detect,
)
