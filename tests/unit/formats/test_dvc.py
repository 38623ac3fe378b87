"""The DVC filing sync record: samples written from the record the provincial one-stop-shop
systems send the national public-service portal (DVCQG), with its Vietnamese field names,
codes as text and `yyyyMMddHHmmss` dates in Vietnam time."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ingestors.body import RawRecord, parse_records
from ingestors.formats import dvc
from ingestors.formats.base import MapContext
from ingestors.pipeline import judge, read_body
from tests.records import filing

AGENCY = "000.00.12.H42"  # Sở Xây dựng (the request's ?agency=)
RECEIVED = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
FILING = "000.12.31.H42-261120-0007"


def ctx(agency: str | None = AGENCY) -> MapContext:
    return MapContext(source="filings", received_at=RECEIVED, agency=agency)


def _step(at: str, status: str, what: str, who: str = "Trần Thị Bình") -> dict[str, Any]:
    return {
        "MaHoSo": FILING,
        "NguoiXuLy": who,
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": at,
        "PhongBanXuLy": "Phòng Quản lý xây dựng",
        "NoiDungXuLy": what,
        "TrangThai": status,
        "NgayBatDau": at,
        "NgayKetThucTheoQuyDinh": "",
    }


HISTORY: list[dict[str, Any]] = [
    _step("20261120081500", "2", "Tiếp nhận hồ sơ tại Bộ phận Một cửa", "Lê Thị Hoa"),
    _step("20261120143000", "4", "Chuyển phòng chuyên môn thẩm định"),
    _step("20261123090000", "4", "Chuyển lãnh đạo phòng xem xét", "Phạm Văn Cường"),
    _step("20261124100000", "5", "Yêu cầu bổ sung bản vẽ mặt bằng móng"),
    _step("20261126083000", "4", "Công dân đã nộp bổ sung hồ sơ"),
    _step("20261203100000", "9", "Lãnh đạo Sở ký duyệt giấy phép", "Võ Minh Đức"),
    _step("20261203153000", "10", "Trả kết quả cho công dân", "Lê Thị Hoa"),
]

# A building-permit filing filed online, with a supplement request, resolved and returned.
DVC_RETURNED: dict[str, Any] = {
    "MaHoSo": FILING,
    "MaTTHC": "1.009994.000.00.00.H42",
    "TenTTHC": "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
    "MaLinhVuc": "XD-CPXD",
    "TenLinhVuc": "Hoạt động xây dựng",
    "KenhThucHien": "2",
    "ChuHoSo": "Nguyễn Văn An",
    "LoaiDoiTuong": "1",
    "MaDoiTuong": "",
    "TrichYeuHoSo": "Cấp giấy phép xây dựng nhà ở riêng lẻ tại phường Thành Sen",
    "NgayTiepNhan": "20261120081500",
    "NgayHenTra": "20261204170000",
    "TrangThaiHoSo": "10",
    "NgayTra": "20261203153000",
    "HinhThuc": "0",
    "NgayKetThucXuLy": "20261203100000",
    "DonViXuLy": "Sở Xây dựng tỉnh Hà Tĩnh",
    "TaiLieuNop": [
        {
            "TepDinhKemId": "b3c1f2a0",
            "TenTepDinhKem": "Đơn đề nghị cấp giấy phép xây dựng.pdf",
            "IsDeleted": "0",
            "MaThanhPhanHoSo": "TP01",
            "DuongDanTaiTepTin": "https://motcua.hatinh.gov.vn/files/b3c1f2a0.pdf",
            "DuocSoHoa": "1",
            "DuocTaiSuDung": "0",
            "DuocLayTuKhoDMQG": "0",
        }
    ],
    "DanhSachLePhi": [
        {
            "TenPhiLePhi": "Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ",
            "MaPhiLePhi": "LPXD01",
            "HinhThucThu": "1",
            "Gia": "75000",
            "LoaiPhiLePhi": "1",
        }
    ],
    "DanhSachHoSoBoSung": [],
    "DanhSachGiayToKetQua": [
        {
            "TenGiayTo": "Giấy phép xây dựng",
            "MaThanhPhanHoSo": "KQ01",
            "GiayToId": "gp-2026-0007",
            "DuongDanTepTinKetQua": "https://motcua.hatinh.gov.vn/kq/gp-2026-0007.pdf",
            "MaGiayToKetQua": "KQ.G09.XD.01",
        }
    ],
    "NoiNopHoSo": "2",
    "HoSoCoThanhPhanSoHoa": "1",
    "TaiKhoanDuocXacThucVoiVNeID": "1",
    "DuocThanhToanTrucTuyen": "1",
    "NgayTuChoi": "",
    "NgayNopHoSo": "20261119213000",
    "tienTrinhDongBo": HISTORY,
}

# A commune-level filing taken at the counter, in process, sent as {hoSo, tienTrinhDongBo};
# its DonViXuLy is the commune's agency code.
DVC_IN_PROCESS: dict[str, Any] = {
    "hoSo": {
        "MaHoSo": "000.00.31.H42-261122-0112",
        "MaTTHC": "1.001193.000.00.00.H42",
        "TenTTHC": "Đăng ký khai sinh",
        "MaLinhVuc": "HT",
        "TenLinhVuc": "Hộ tịch",
        "KenhThucHien": "",
        "ChuHoSo": "Hoàng Thị Mai",
        "LoaiDoiTuong": "1",
        "NgayTiepNhan": "20261122091000",
        "NgayHenTra": "20261122170000",
        "TrangThaiHoSo": 4,
        "DonViXuLy": "000.00.31.H42",
        "DanhSachLePhi": [],
        "HoSoCoThanhPhanSoHoa": "0",
        "DuocThanhToanTrucTuyen": "0",
    },
    "tienTrinhDongBo": [
        {"MaHoSo": "000.00.31.H42-261122-0112", "ThoiDiemXuLy": "20261122091000",
         "NoiDungXuLy": "Tiếp nhận", "TrangThai": "2"},
        {"MaHoSo": "000.00.31.H42-261122-0112", "ThoiDiemXuLy": "20261122093000",
         "NoiDungXuLy": "Chuyển công chức tư pháp - hộ tịch", "TrangThai": "4"},
    ],
}  # fmt: skip


def fresh(record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(record)


def _types(mapped: Any) -> list[tuple[str, str]]:
    return [(e["type"], e["occurred_at"]) for e in mapped.events]


def test_a_snapshot_becomes_one_event_per_status_change() -> None:
    mapped = dvc.map_record(fresh(DVC_RETURNED), ctx())
    assert not mapped.errors and not mapped.warnings
    assert _types(mapped) == [
        ("received", "2026-11-20T08:15:00+07:00"),
        ("in_process", "2026-11-20T14:30:00+07:00"),  # the hand-over on 23/11 adds nothing
        ("supplement_requested", "2026-11-24T10:00:00+07:00"),
        ("supplemented", "2026-11-26T08:30:00+07:00"),  # 5 -> 4: the citizen's supplement
        ("resolved", "2026-12-03T10:00:00+07:00"),
        ("result_returned", "2026-12-03T15:30:00+07:00"),
    ]
    first = mapped.events[0]
    assert first["agency"] == AGENCY  # DonViXuLy is a name: the request's ?agency=
    assert first["payload"] == {
        "filing_id": FILING,
        "procedure_code": "1.009994.000.00.00.H42",
        "channel": "online",
        "received_at": "2026-11-20T08:15:00+07:00",
        "due_at": "2026-12-04T17:00:00+07:00",
        "fee_vnd": 75000,
        "paid_online": True,
        "digitised": True,
    }
    assert len({e["event_id"] for e in mapped.events}) == 6
    assert all(e["event_id"].startswith("dvc-") for e in mapped.events)


def test_the_wrapped_shape_numbers_as_codes_and_an_agency_code_in_donvixuly() -> None:
    mapped = dvc.map_record(fresh(DVC_IN_PROCESS), ctx(agency=None))
    assert not mapped.errors and not mapped.warnings
    assert [e["type"] for e in mapped.events] == ["received", "in_process"]
    event = mapped.events[0]
    assert event["agency"] == "000.00.31.H42"
    assert event["payload"]["channel"] == "in_person"  # KenhThucHien empty
    assert event["payload"]["fee_vnd"] == 0  # an empty fee list: no fee
    assert (event["payload"]["paid_online"], event["payload"]["digitised"]) == (False, False)


def test_a_resent_snapshot_has_the_same_ids_and_a_later_one_only_adds() -> None:
    """What makes re-sending safe: ids derived from the content, whatever the key order."""
    full = dvc.map_record(fresh(DVC_RETURNED), ctx())
    again = dvc.map_record(dict(reversed(list(fresh(DVC_RETURNED).items()))), ctx())
    assert [e["event_id"] for e in again.events] == [e["event_id"] for e in full.events]
    earlier = fresh(DVC_RETURNED)
    earlier["tienTrinhDongBo"] = HISTORY[:4]
    earlier |= {"TrangThaiHoSo": "5", "NgayTra": "", "NgayKetThucXuLy": ""}
    before = dvc.map_record(earlier, ctx())
    assert not before.errors and not before.warnings
    assert [e["type"] for e in before.events][-1] == "supplement_requested"
    assert {e["event_id"] for e in before.events} < {e["event_id"] for e in full.events}


def test_without_history_the_current_status_takes_its_date_from_the_record() -> None:
    record = fresh(DVC_RETURNED)
    del record["tienTrinhDongBo"]
    mapped = dvc.map_record(record, ctx())
    assert not mapped.errors and not mapped.warnings
    assert [e["type"] for e in mapped.events] == ["received", "resolved", "result_returned"]
    record |= {"TrangThaiHoSo": "3", "NgayTuChoi": "20261120100000"}
    record |= {"NgayTra": "", "NgayKetThucXuLy": ""}
    assert [e["type"] for e in dvc.map_record(record, ctx()).events] == ["received", "refused"]


def test_a_status_without_a_time_makes_no_event_and_says_so() -> None:
    record = fresh(DVC_RETURNED)
    del record["tienTrinhDongBo"]
    record |= {"TrangThaiHoSo": "5", "NgayTra": "", "NgayKetThucXuLy": ""}
    mapped = dvc.map_record(record, ctx())
    assert [e["type"] for e in mapped.events] == ["received"]
    [warning] = mapped.warnings
    assert warning.field == "TrangThaiHoSo" and warning.kind == "no_time"
    assert "status 5 (supplement requested" in warning.reason


def test_a_filing_registered_online_but_not_received_is_skipped_on_purpose() -> None:
    record = fresh(DVC_RETURNED)
    del record["tienTrinhDongBo"]
    record |= {"TrangThaiHoSo": "1", "NgayTiepNhan": "", "NgayTra": "", "NgayKetThucXuLy": ""}
    mapped = dvc.map_record(record, ctx())
    assert mapped.events == [] and not mapped.errors
    assert mapped.skipped == "not_received"


@pytest.mark.parametrize(
    ("code", "kind"),
    [("2", "received"), ("3", "refused"), ("4", "in_process"), ("5", "supplement_requested"),
     ("6", None), ("7", "withdrawn"), ("8", "refused"), ("9", "resolved"),
     ("10", "result_returned"), ("1", None)],
)  # fmt: skip
def test_the_status_table(code: str, kind: str | None) -> None:
    record = fresh(DVC_RETURNED)
    record["tienTrinhDongBo"] = [HISTORY[0], _step("20261121080000", code, "Bước xử lý")]
    record |= {"TrangThaiHoSo": code, "NgayTra": "", "NgayKetThucXuLy": ""}
    types = [e["type"] for e in dvc.map_record(record, ctx()).events]
    assert types == ["received"] + ([kind] if kind not in (None, "received") else [])


@pytest.mark.parametrize(
    ("value", "channel"),
    [("1", "in_person"), ("2", "online"), ("3", "postal"), ("", "in_person"), (2, "online")],
)
def test_the_channel_table(value: Any, channel: str) -> None:
    record = fresh(DVC_RETURNED) | {"KenhThucHien": value}
    assert dvc.map_record(record, ctx()).events[0]["payload"]["channel"] == channel


def test_unknown_codes_are_errors_that_name_the_code_and_the_allowed_ones() -> None:
    record = fresh(DVC_RETURNED)
    record |= {"TrangThaiHoSo": "11", "KenhThucHien": "4", "DuocThanhToanTrucTuyen": "3"}
    record["tienTrinhDongBo"] = [*HISTORY[:2], _step("20261121080000", "99", "?")]
    errors = [str(e) for e in dvc.map_record(record, ctx()).errors]
    assert errors[0] == (
        "KenhThucHien: unknown code '4'; allowed: 1 (in person (trực tiếp)), "
        "2 (online (trực tuyến)), 3 (public postal service (BCCI))"
    )
    assert any(
        e.startswith("DuocThanhToanTrucTuyen: unknown code '3'; allowed: 0 (") for e in errors
    )
    assert any(
        e.startswith("TrangThaiHoSo: unknown code '11'; allowed: 1 (newly registered")
        for e in errors
    )
    assert any(e.startswith("tienTrinhDongBo[2].TrangThai: unknown code '99'") for e in errors)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"MaHoSo": None}, "MaHoSo: required: the filing's code"),
        ({"MaHoSo": "HS 0007"}, "MaHoSo: required: the filing's code"),
        ({"NgayTiepNhan": "2026-13-45"}, "NgayTiepNhan: must be yyyyMMddHHmmss"),
        ({"NgayHenTra": "20261332170000"}, "NgayHenTra: '20261332170000' is not a date"),
        ({"NgayHenTra": 20261204170000}, "NgayHenTra: must be yyyyMMddHHmmss"),
        ({"NgayTiepNhan": "19691231235959"}, "NgayTiepNhan: '19691231235959' is before 1970"),
        ({"DanhSachLePhi": [{"Gia": "75.000đ"}]}, "DanhSachLePhi[0].Gia: must be a whole"),
        ({"DanhSachLePhi": [{"Gia": -5}]}, "DanhSachLePhi[0].Gia: must be a whole"),
        ({"DanhSachLePhi": "75000"}, "DanhSachLePhi: must be a list of fees"),
        ({"tienTrinhDongBo": {"TrangThai": "2"}}, "tienTrinhDongBo: must be a list"),
        ({"MaTTHC": None}, "MaTTHC: required: the procedure code of a received filing"),
    ],
)
def test_bad_fields_are_named_with_the_reason(change: dict[str, Any], error: str) -> None:
    record = fresh(DVC_RETURNED) | change
    errors = [str(e) for e in dvc.map_record(record, ctx()).errors]
    assert any(e.startswith(error) for e in errors), errors


def test_a_bad_history_step_is_named_by_its_index() -> None:
    record = fresh(DVC_RETURNED)
    record["tienTrinhDongBo"][3]["ThoiDiemXuLy"] = ""
    record["tienTrinhDongBo"][4]["MaHoSo"] = "000.12.31.H42-261120-0008"
    errors = [str(e) for e in dvc.map_record(record, ctx()).errors]
    assert "tienTrinhDongBo[3].ThoiDiemXuLy: required: when the step happened" in errors
    assert (
        "tienTrinhDongBo[4].MaHoSo: '000.12.31.H42-261120-0008' is another filing than "
        f"{FILING!r}" in errors
    )


def test_no_agency_anywhere_is_an_error_saying_where_to_put_it() -> None:
    [error] = dvc.map_record(fresh(DVC_RETURNED), ctx(agency=None)).errors
    assert str(error).startswith(
        "DonViXuLy: no agency: DonViXuLy ('Sở Xây dựng tỉnh Hà Tĩnh') is not an agency code "
        "and the request has no ?agency="
    )


def test_a_received_filing_without_any_receipt_time_is_refused() -> None:
    record = fresh(DVC_RETURNED) | {"NgayTiepNhan": ""}
    record["tienTrinhDongBo"] = HISTORY[1:]
    [error] = dvc.map_record(record, ctx()).errors
    assert str(error).startswith("NgayTiepNhan: required: the filing is past receipt")


def test_iso_dates_are_taken_and_without_an_offset_warned_about() -> None:
    record = fresh(DVC_RETURNED) | {"NgayHenTra": "2026-12-04T17:00:00"}
    mapped = dvc.map_record(record, ctx())
    assert mapped.events[0]["payload"]["due_at"] == "2026-12-04T17:00:00+07:00"
    assert [str(w) for w in mapped.warnings] == [
        "NgayHenTra: has no time zone; taken as Asia/Ho_Chi_Minh (UTC+07:00)"
    ]


def test_through_the_pipeline_good_records_pass_beside_bad_ones() -> None:
    body = b"\n".join(
        [
            json.dumps(DVC_RETURNED).encode(),
            b'{"MaHoSo": "x", "TrangThaiHoSo": "42"}',
            json.dumps(DVC_IN_PROCESS).encode(),
            b"{not json",
        ]
    )
    records = parse_records(body, 10)
    verdict = judge("filings", records, ctx(), dvc.FORMAT, detected=False)
    assert verdict.status == 207
    assert [r["status"] for r in verdict.results] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert len(verdict.results[0]["event_ids"]) == 6
    assert verdict.results[1]["errors"][0].startswith("TrangThaiHoSo: unknown code '42'")
    assert verdict.results[3]["errors"][0].startswith("not valid JSON")
    assert [e.type for e in verdict.events[:2]] == ["received", "in_process"]
    assert {e.entity_id for e in verdict.events} == {FILING, "000.00.31.H42-261122-0112"}


def test_a_canonical_error_in_a_mapped_event_names_where_the_value_came_from() -> None:
    verdict = judge("filings", [RawRecord(0, fresh(DVC_RETURNED))], ctx("H42"), dvc.FORMAT)
    errors = verdict.results[0]["errors"]
    assert len(errors) == 6  # one per event, each saying which
    assert errors[0].startswith("event 1 of 6: ?agency=: String should match pattern")
    assert errors[0].endswith("(as agency)")


def test_the_mapping_table_holds_every_coded_field() -> None:
    coded = {row.source for row in dvc.MAPPING if row.codes}
    assert coded == {
        "KenhThucHien", "MucDo", "DuocThanhToanTrucTuyen", "HoSoCoThanhPhanSoHoa",
        "TrangThaiHoSo", "tienTrinhDongBo[].TrangThai",
    }  # fmt: skip
    assert set(dvc.STATUS) == {str(n) for n in range(1, 11)}


def test_recognised_without_format_beside_canonical_records() -> None:

    body = b"\n".join(json.dumps(r).encode() for r in (DVC_RETURNED, filing("f1", "F-1")))
    parsed = read_body("filings", body, None, 10)
    verdict = judge("filings", parsed.records, ctx(), parsed.format, detected=parsed.detected)
    assert verdict.response()["formats"] == {"canonical": 1, "dvc": 1}
    assert verdict.format == "mixed" and verdict.status == 200


def test_a_commune_level_agencys_filings_are_its_communes() -> None:
    # The record has no commune field: the reference data's commune of the agency is it.
    communes = {"000.21.32.H42": "18073"}
    at_commune = MapContext("filings", RECEIVED, agency="000.21.32.H42", communes=communes)
    mapped = dvc.map_record(fresh(DVC_RETURNED), at_commune)
    assert {e["payload"]["commune_code"] for e in mapped.events} == {"18073"}
    # A province-level agency has none: the filing has no commune, as before.
    at_province = MapContext("filings", RECEIVED, agency=AGENCY, communes=communes)
    mapped = dvc.map_record(fresh(DVC_RETURNED), at_province)
    assert all("commune_code" not in e["payload"] for e in mapped.events)
