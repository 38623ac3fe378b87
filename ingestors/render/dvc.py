"""The DVC filing sync record (*hồ sơ đồng bộ*): each step of a filing as the snapshot of the
whole filing a one-stop-shop system sends the national portal (DVCQG) after that step.

What it writes (the server's `ingestors.formats.dvc` reads it back): one JSON object per
simulated filing event, the filing as it stands after the event -
- `MaHoSo` the filing id, `MaTTHC` / `TenTTHC` the procedure, `DonViXuLy` the agency,
  `ChuHoSo` / `LoaiDoiTuong` / `TrichYeuHoSo` an applicant (a person; an enterprise for
  business registration) drawn from the filing id;
- the codes of DOMAIN.md's table: `KenhThucHien` 1 in person, 2 online, 3 postal;
  `MucDo` 4 for a full-process online filing, else 3; `DuocThanhToanTrucTuyen` 0, or 1
  (via DVCQG) / 2 (via the province's gateway) drawn from the filing id when paid online;
  `HoSoCoThanhPhanSoHoa` 0/1; `DanhSachLePhi` one fee with its amount in `Gia` (an empty
  list when nothing is charged);
- `NgayNopHoSo` / `NgayTiepNhan` the receipt, `NgayHenTra` the due date, and once reached
  `NgayKetThucXuLy` (resolved), `NgayTra` (result returned), `NgayTuChoi` (refused);
- `TrangThaiHoSo` the status the event put the filing in (`STATUS`), and the history
  `tienTrinhDongBo[]`: one step per event so far, with its `TrangThai`, `ThoiDiemXuLy`,
  the officer and department that handled it and what they did.

Dates are `yyyyMMddHHmmss` in Vietnam time, as the format defines them: the simulator's
milliseconds are dropped (a filing's steps are at least a second apart, so none changes
place).
A supplement is the return to 4 (in process) after 5; a refusal is 3 (not accepted) when it
comes right after the receipt, 8 (processing stopped) later. The record carries no commune:
the simulator's `commune_code` does not reach the server this way.

**State.** A snapshot repeats the filing's whole history, so one run keeps, per open
filing, the steps sent so far (a status code and an instant each), and drops them when the
filing closes (refused, withdrawn, result returned) or has been idle longer than any gap
the simulator plans (`base.IDLE`): a resolved filing whose result is never collected is
forgotten a week later (2.8 hours at the demo pace). Re-sending a snapshot adds nothing on
the server: its events' ids derive from their content. The filing id is `MaHoSo`, the
simulator's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ingestors.render.base import (
    IDLE,
    Open,
    Record,
    Rendered,
    instant,
    lifecycle_renderer,
    local_seconds,
    number,
    person,
)
from ingestors.simulator import PROCEDURES

# The simulator's filing event types as DVC status codes (TrangThaiHoSo / TrangThai).
STATUS = {
    "received": "2",
    "in_process": "4",
    "supplement_requested": "5",
    "supplemented": "4",  # back in process once the citizen supplied what was asked
    "resolved": "9",
    "result_returned": "10",
    "refused": "8",  # 3 right after the receipt: see `_code`
    "withdrawn": "7",
}
CHANNEL = {"in_person": "1", "online": "2", "postal": "3"}
CLOSING = frozenset({"result_returned", "refused", "withdrawn"})
BUSINESS_PROCEDURES = frozenset({"2.001610.000.00.00.H12"})  # the applicant is an enterprise
_NAMES = {p.code: p.name for p in PROCEDURES}

# Who records a step, and what they write (NoiDungXuLy): (ChucDanh, PhongBanXuLy, text).
_COUNTER = ("Công chức tiếp nhận", "Bộ phận Tiếp nhận và Trả kết quả")
_DESK = ("Chuyên viên", "Phòng chuyên môn")
_HANDLING: dict[str, tuple[str, str, str]] = {
    "2": (*_COUNTER, "Tiếp nhận hồ sơ"),
    "3": (*_COUNTER, "Từ chối tiếp nhận: hồ sơ không đủ điều kiện"),
    "4": (*_DESK, "Chuyển xử lý hồ sơ"),
    "5": (*_DESK, "Yêu cầu công dân bổ sung hồ sơ"),
    "7": (*_COUNTER, "Công dân rút hồ sơ"),
    "8": (*_DESK, "Dừng xử lý hồ sơ"),
    "9": (*_DESK, "Hoàn thành xử lý hồ sơ"),
    "10": (*_COUNTER, "Trả kết quả cho công dân"),
}
_SUPPLEMENTED = (*_COUNTER, "Tiếp nhận hồ sơ bổ sung, tiếp tục xử lý")

# One step sent so far: (event type, status code, instant).
History = list[tuple[str, str, datetime]]


def _code(kind: str, history: History) -> str:
    if kind == "refused" and history and history[-1][0] == "received":
        return "3"  # not accepted at the counter
    return STATUS[kind]


def _when(history: History, *codes: str) -> str | None:
    """The date of the last step with one of `codes`; None while there is none."""
    moments = [at for _, code, at in history if code in codes]
    return local_seconds(moments[-1]) if moments else None


def snapshot(record: Record, history: History) -> dict[str, Any]:
    """The filing after its latest step (`history` ends with this record's step)."""
    p = record["payload"]
    filing_id = p["filing_id"]
    procedure = _NAMES.get(p["procedure_code"], p["procedure_code"])
    business = p["procedure_code"] in BUSINESS_PROCEDURES
    applicant = f"Công ty TNHH {person(filing_id)}" if business else person(filing_id)
    received = local_seconds(datetime.fromisoformat(p["received_at"]))
    due = local_seconds(datetime.fromisoformat(p["due_at"])) if p.get("due_at") else None
    paid = "0" if not p.get("paid_online") else "1" if number(filing_id, 3) else "2"
    fee = p.get("fee_vnd") or 0
    fees = [{"TenPhiLePhi": f"Lệ phí {procedure.lower()}", "Gia": fee}] if fee else []
    steps = []
    for kind, code, at in history:
        title, department, text = _SUPPLEMENTED if kind == "supplemented" else _HANDLING[code]
        steps.append(
            {
                "MaHoSo": filing_id,
                "NguoiXuLy": person(f"{filing_id}#{department}"),
                "ChucDanh": title,
                "ThoiDiemXuLy": local_seconds(at),
                "PhongBanXuLy": department,
                "NoiDungXuLy": text,
                "TrangThai": code,
                "NgayBatDau": local_seconds(at),
                "NgayKetThucTheoQuyDinh": due,
            }
        )
    return {
        "MaHoSo": filing_id,
        "MaTTHC": p["procedure_code"],
        "TenTTHC": procedure,
        "KenhThucHien": CHANNEL[p["channel"]],
        "ChuHoSo": applicant,
        "LoaiDoiTuong": "2" if business else "1",
        "TrichYeuHoSo": f"{procedure} - {applicant}",
        "NgayNopHoSo": received,
        "NgayTiepNhan": received,
        "NgayHenTra": due,
        "TrangThaiHoSo": history[-1][1],
        "NgayKetThucXuLy": _when(history, "9"),
        "NgayTra": _when(history, "10"),
        "NgayTuChoi": _when(history, "3", "8"),
        "DonViXuLy": record["agency"],
        "MucDo": "4" if p.get("full_online") else "3",
        "HoSoCoThanhPhanSoHoa": "1" if p.get("digitised") else "0",
        "DuocThanhToanTrucTuyen": paid,
        "DanhSachLePhi": fees,
        "tienTrinhDongBo": steps,
    }


class Snapshots:
    """One run's DVC writer: the filings' histories so far, bounded (module docstring)."""

    def __init__(self, idle: timedelta = IDLE) -> None:
        self.open: Open[History] = Open(idle)

    def __call__(self, record: Record) -> Rendered:
        filing_id = record["payload"]["filing_id"]
        kind = record["type"]
        history = [*(self.open.get(filing_id) or ())]
        history.append((kind, _code(kind, history), instant(record)))
        if kind in CLOSING:
            self.open.close(filing_id)
        else:
            self.open.put(filing_id, history, instant(record))
        return Rendered(record["source"], "dvc", snapshot(record, history))


RENDERER = lifecycle_renderer(
    "dvc", "filings", "filing_id", frozenset(STATUS), carries=lambda payload: True,
    writer=Snapshots,
)  # fmt: skip
