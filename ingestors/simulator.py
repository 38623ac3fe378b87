"""Deterministic, realistic canonical ingest records for all three sources.

Pure logic: no I/O, no clock, no network. `ioc simulate`, `ioc up` and `ioc bench` feed
what comes out of here to `POST /ingest/{source}` (or into an NDJSON file), so every
record is a plain JSON-ready dict that passes `ioc.events.validate_event`.

How it works. Simulated time advances by exponential gaps (a steady provincial load of
about 50 records a minute). At every tick one source is drawn (≈45 % filings, 35 %
documents, 20 % security) and that source emits either the next step of one of its open
entities whose step is due, or — when none is due — the first event of a new entity.
Each entity plans its lifecycle when it is created and keeps only one pending step in a
per-source heap, so one entity's events come out in order, the whole output is in
non-decreasing time, and memory holds only the open entities (bounded by the arrival
rate times the longest lifecycle, whatever the length of the run).

Bursts: now and then (about one new alert in `1/BURST_CHANCE`) an attacker behind one
address sweeps 8 or more of the province's public assets with one scan or flood
signature: while the sweep lasts, security takes `BURST_SHARE` of the records instead of
its 20 %, so new alerts per minute jump severalfold, the way a SOC sees a campaign. Each
alert of a sweep hits another asset, so each is an alert of its own on the server too.

Ids: event ids and entity ids embed the seed and the start time, so the same
(seed, start) gives the same ids (re-sending is de-duplicated downstream) while two
seeds, or two runs of one seed started at different times, never collide.

Documents: an *outgoing* document is followed from the issuing agency's system over the
exchange axis (issued, sent at the sender; received, assigned, processed, done, returned
at the receiver when it is in the province); an *incoming* one arrives from a central
agency and is followed in the receiver's system from `received` on. Every event's
`agency` is the province agency where the step happened.

Two paces. **realistic** (the default of `stream` and `generate`): lifecycles take what
they take in a province - minutes to hours between steps, filings due on the N-th working
day of their procedure's legal time - so a run of a few minutes only ever shows openings.
**demo** (what `ioc simulate` uses when it sends live, so `ioc up`): the same entities,
with lifecycles compressed so that a few minutes of wall clock show every state the wall
screen counts:
- every handling delay is divided by `DEMO_SPEEDUP` (an hour of handling takes a minute);
- about a third of filings keep their real appointment (17:00 on the N-th working day)
  and are resolved within minutes, early; the others are *deadline-driven*: due
  `2 + 2 x legal working days` minutes (±25 %) after receipt, and planned to be resolved
  well within it, near it (at risk, then on time) or after it (overdue, then late), some
  after the citizen was asked for a supplement;
- a third of the documents with a deadline are due half a minute per working day of
  their deadline after they are opened (2-5 minutes), so some are handled late;
- alerts nobody takes up are closed 16-45 minutes later (after `IOC_ALERT_ACK_MINUTES`
  turned them unattended), so open alerts do not pile up over a long demo.
Ids, validity, ordering and determinism are the same in both paces; the pace is part of
what a seed determines. `occurred_at` always advances by `mean_gap_ms` per record on
average, so a paced sender keeps it on the wall clock in either pace.

Appointments count working days in the working calendar (`ioc.working_time`: weekends,
Vietnam's public holidays with Tết, each year's announced days off; `ioc simulate`
passes the one IOC_WORKING_TIME_FILE names). Not modelled (on purpose, to keep the mix
steady): office hours for the load itself, which is the same day and night, working day
or not.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any, Literal

from ioc.working_time import VN_TZ, WorkingCalendar

MEAN_GAP_MS = 1_200
"""Mean simulated time between two records (≈50 a minute, a mid-sized province)."""

Pace = Literal["realistic", "demo"]
PACES: tuple[Pace, ...] = ("realistic", "demo")
DEMO_SPEEDUP = 60
"""In demo pace every handling delay is this many times shorter: an hour becomes a minute."""

SOURCE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("filings", 0.45),
    ("documents", 0.35),
    ("security", 0.20),
)
BURST_CHANCE = 0.004
"""Chance that a new alert starts a sweep of the assets by one attacker (see the module)."""
BURST_SHARE = 0.6
"""Share of the records that are security events while a sweep lasts (else 20 %)."""
BURST_CATEGORIES: tuple[str, ...] = ("intrusion", "ddos")


@dataclass(frozen=True, slots=True)
class Agency:
    """One agency of the simulated province (codes are QCVN 102-shaped, illustrative)."""

    code: str
    name: str
    level: Literal["central", "province", "commune"]
    commune_code: str | None = None  # administrative unit code (vietnam-provinces), communes


# Hà Tĩnh (province code 42, agency suffix H42). Commune names and unit codes are the
# post-July-2025 ones from the `vietnam-provinces` package; agency codes are illustrative.
AGENCIES: tuple[Agency, ...] = (
    Agency("000.00.31.H42", "UBND tỉnh Hà Tĩnh", "province"),
    Agency("000.01.31.H42", "Văn phòng UBND tỉnh Hà Tĩnh", "province"),
    Agency("000.02.31.H42", "Sở Nội vụ", "province"),
    Agency("000.03.31.H42", "Sở Tài chính", "province"),
    Agency("000.04.31.H42", "Sở Xây dựng", "province"),
    Agency("000.05.31.H42", "Sở Y tế", "province"),
    Agency("000.06.31.H42", "Sở Giáo dục và Đào tạo", "province"),
    Agency("000.07.31.H42", "Sở Nông nghiệp và Môi trường", "province"),
    Agency("000.08.31.H42", "Sở Tư pháp", "province"),
    Agency("000.09.31.H42", "Sở Khoa học và Công nghệ", "province"),
    Agency("000.21.32.H42", "UBND phường Thành Sen", "commune", "18073"),
    Agency("000.22.32.H42", "UBND phường Trần Phú", "commune", "18100"),
    Agency("000.23.32.H42", "UBND phường Bắc Hồng Lĩnh", "commune", "18115"),
    Agency("000.24.32.H42", "UBND xã Cẩm Xuyên", "commune", "18673"),
)

# Central senders of incoming documents (illustrative codes; never an event's `agency`).
CENTRAL_AGENCIES: tuple[Agency, ...] = (
    Agency("000.00.00.G01", "Văn phòng Chính phủ", "central"),
    Agency("000.00.00.G09", "Bộ Nội vụ", "central"),
    Agency("000.00.00.G12", "Bộ Tài chính", "central"),
    Agency("000.00.00.G19", "Bộ Khoa học và Công nghệ", "central"),
)

_BY_CODE = {agency.code: agency for agency in AGENCIES}
_PROVINCE = tuple(a for a in AGENCIES if a.level == "province")
_COMMUNES = tuple(a for a in AGENCIES if a.level == "commune")


@dataclass(frozen=True, slots=True)
class Procedure:
    """An administrative procedure (MaTTHC); codes are shaped like the national database's."""

    code: str
    name: str
    agency: str | None  # receiving department; None = any commune
    days: int  # legal processing time in working days (0 = the same day)
    fee_vnd: int


PROCEDURES: tuple[Procedure, ...] = (
    Procedure("1.004227.000.00.00.H12", "Đăng ký khai sinh", None, 0, 0),
    Procedure("1.001193.000.00.00.H12", "Đăng ký kết hôn", None, 1, 0),
    Procedure("2.000908.000.00.00.H12", "Chứng thực bản sao từ bản chính", None, 0, 10_000),
    Procedure("1.000656.000.00.00.H12", "Đăng ký khai tử", None, 0, 0),
    Procedure("1.004873.000.00.00.H12", "Cấp giấy xác nhận tình trạng hôn nhân", None, 3, 0),
    Procedure("1.009972.000.00.00.H12", "Cấp giấy phép xây dựng", "000.04.31.H42", 15, 150_000),
    Procedure("2.000488.000.00.00.H12", "Cấp phiếu lý lịch tư pháp", "000.08.31.H42", 10, 200_000),
    Procedure("2.001610.000.00.00.H12", "Đăng ký doanh nghiệp", "000.03.31.H42", 3, 50_000),
    Procedure("1.002197.000.00.00.H12", "Cấp giấy phép lao động", "000.02.31.H42", 5, 400_000),
    Procedure("1.003546.000.00.00.H12", "Cấp chứng chỉ hành nghề", "000.05.31.H42", 10, 360_000),
    Procedure("1.005095.000.00.00.H12", "Cấp bản sao văn bằng từ sổ gốc", "000.06.31.H42", 0, 0),
    Procedure("1.001990.000.00.00.H12", "Đăng ký biến động đất đai", "000.07.31.H42", 10, 0),
    Procedure("1.011524.000.00.00.H12", "Cấp phép trang thông tin điện tử", "000.09.31.H42", 10, 0),
)
_COMMUNE_PROCEDURES = tuple(p for p in PROCEDURES if p.agency is None)
_PROVINCE_PROCEDURES = tuple(p for p in PROCEDURES if p.agency is not None)

# Administrative document types of Decree 30/2020/NĐ-CP, weighted by how common they are.
DOCUMENT_TYPES: tuple[tuple[str, int], ...] = (
    ("Công văn", 40),
    ("Quyết định", 12),
    ("Báo cáo", 12),
    ("Thông báo", 8),
    ("Tờ trình", 7),
    ("Kế hoạch", 6),
    ("Giấy mời", 6),
    ("Chỉ thị", 2),
    ("Hướng dẫn", 2),
    ("Nghị quyết", 1),
    ("Công điện", 1),
    ("Biên bản", 1),
    ("Phiếu chuyển", 2),
)

# Assets watched by the provincial SOC: (hostname, owning agency, address).
ASSETS: tuple[tuple[str, str, str], ...] = (
    ("portal.hatinh.gov.vn", "000.00.31.H42", "10.42.10.10"),
    ("dichvucong.hatinh.gov.vn", "000.01.31.H42", "10.42.10.20"),
    ("qlvb.hatinh.gov.vn", "000.01.31.H42", "10.42.10.30"),
    ("mail.hatinh.gov.vn", "000.09.31.H42", "10.42.10.40"),
    ("portal.snv.hatinh.gov.vn", "000.02.31.H42", "10.42.20.11"),
    ("portal.stc.hatinh.gov.vn", "000.03.31.H42", "10.42.20.12"),
    ("portal.sxd.hatinh.gov.vn", "000.04.31.H42", "10.42.20.13"),
    ("portal.syt.hatinh.gov.vn", "000.05.31.H42", "10.42.20.14"),
    ("portal.sgddt.hatinh.gov.vn", "000.06.31.H42", "10.42.20.15"),
    ("portal.snnmt.hatinh.gov.vn", "000.07.31.H42", "10.42.20.16"),
    ("portal.stp.hatinh.gov.vn", "000.08.31.H42", "10.42.20.17"),
    ("portal.skhcn.hatinh.gov.vn", "000.09.31.H42", "10.42.20.18"),
    ("portal.thanhsen.hatinh.gov.vn", "000.21.32.H42", "10.42.30.21"),
    ("portal.tranphu.hatinh.gov.vn", "000.22.32.H42", "10.42.30.22"),
    ("portal.bachonglinh.hatinh.gov.vn", "000.23.32.H42", "10.42.30.23"),
    ("portal.camxuyen.hatinh.gov.vn", "000.24.32.H42", "10.42.30.24"),
)

# Suricata / Wazuh rule names per category, and the severity mix of each category.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "intrusion": (
        "ET SCAN Nmap Scripting Engine User-Agent Detected (Nmap Scripting Engine)",
        "ET SCAN Suspicious inbound to mySQL port 3306",
        "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT",
        "Wazuh 5712: sshd: brute force trying to get access to the system",
        "Wazuh 31151: Multiple web server 400 error codes from same source ip",
    ),
    "malware": (
        "ET MALWARE Cobalt Strike Beacon Observed",
        "ET TROJAN Possible Metasploit Payload Common Construct Bind_API (from server)",
        "ET MALWARE Win32/Emotet CnC Activity (POST)",
        "Wazuh 510: Host-based anomaly detection event (rootcheck)",
    ),
    "web_defacement": (
        "Wazuh 550: Integrity checksum changed (/var/www/html/index.php)",
        "Wazuh 554: File added to the system (/var/www/html/upload/shell.php)",
        "ET WEB_SERVER WebShell Generic - wget http - POST",
    ),
    "ddos": (
        "ET DOS Inbound GoldenEye DoS attack",
        "ET DOS Possible NTP DDoS Inbound Frequent Un-Authed MON_LIST Requests IMPL 0x03",
        "ET DOS Possible SYN flood threshold exceeded",
    ),
    "vulnerability": (
        "ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)",
        "ET WEB_SPECIFIC_APPS Possible Path Traversal Attempt",
        "Wazuh 23505: CVE-2024-6387 affects openssh-server",
        "Wazuh 23504: CVE-2023-44487 affects nginx",
    ),
    "policy": (
        "ET POLICY Cleartext WordPress Login",
        "ET POLICY TLS possible TOR SSL traffic",
        "ET INFO Observed DNS Query to .cloud TLD",
        "Wazuh 18107: Windows Logon Success outside working hours",
    ),
    "phishing": (
        "ET PHISHING Possible Office 365 Phishing Landing Page",
        "ET PHISHING Suspicious gov.vn Lookalike Domain in DNS Lookup",
        "Wazuh 100210: Email attachment with double extension",
    ),
    "other": (
        "ET INFO Executable Download from dotted-quad Host",
        "Wazuh 504: Wazuh agent disconnected",
        "Wazuh 60122: Windows logon failure",
    ),
}
_CATEGORY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("intrusion", 22),
    ("policy", 18),
    ("vulnerability", 15),
    ("other", 14),
    ("malware", 12),
    ("phishing", 10),
    ("ddos", 6),
    ("web_defacement", 3),
)
_SEVERITY_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "default": (("low", 58), ("medium", 34), ("high", 7.5), ("critical", 0.5)),
    "malware": (("low", 20), ("medium", 52), ("high", 25), ("critical", 3)),
    "ddos": (("low", 15), ("medium", 50), ("high", 30), ("critical", 5)),
    "web_defacement": (("medium", 25), ("high", 50), ("critical", 25)),
}
# Per severity: P(acknowledged), median minutes to acknowledge, P(closed without ack),
# P(resolved after ack), median minutes from ack to resolution.
_ALERT_HANDLING: dict[str, tuple[float, float, float, float, float]] = {
    "critical": (0.98, 5, 0.0, 0.95, 120),
    "high": (0.92, 20, 0.04, 0.88, 240),
    "medium": (0.75, 60, 0.12, 0.80, 360),
    "low": (0.45, 180, 0.25, 0.75, 480),
}

_MINUTE = 60_000


@lru_cache(maxsize=1)
def _shipped_calendar() -> WorkingCalendar:
    return WorkingCalendar.load()


def due_after(
    moment: datetime, working_days: int, calendar: WorkingCalendar | None = None
) -> datetime:
    """The appointment (NgayHenTra): close of business (17:00 local) on the N-th working
    day after the day the filing counts in, in `calendar` (None: the shipped one).

    A filing received after 17:00 or on a day off counts from the next working day,
    and 0 days means "the same working day" (`WorkingCalendar.end_of_working_day`).
    """
    cal = calendar or _shipped_calendar()
    return cal.end_of_working_day(moment, working_days).astimezone(cal.tz)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    total = sum(weight for _, weight in weighted)
    point = rng.random() * total
    for value, weight in weighted:
        point -= weight
        if point < 0:
            return value
    return weighted[-1][0]


def _delay(
    rng: random.Random, median_min: float, lo_min: float, hi_min: float, scale: float = 1.0
) -> int:
    """A lognormal (heavy-tailed, as human handling times are) delay in ms, clamped, then
    multiplied by `scale` (1/DEMO_SPEEDUP in demo pace)."""
    minutes = rng.lognormvariate(math.log(median_min), 0.9)
    return int(min(max(minutes, lo_min), hi_min) * _MINUTE * scale)


def _whole_minute(clock: int) -> int:
    """The clock rounded up to a whole minute (deadlines read better on the minute)."""
    return -(-clock // _MINUTE) * _MINUTE


# Demo pace: the share of filings that keep their real appointment (days away), and the
# cumulative shares of deadline-driven filings resolved well within / just within their
# deadline; the rest are late.
DEMO_ROUTINE_FILINGS = 0.35
DEMO_FILING_OUTCOMES = (0.5, 0.75)

# One planned lifecycle step: (event type, delay after the previous step in ms, agency).
_Step = tuple[str, int, str]


class _Entity:
    __slots__ = ("payload", "step", "steps")

    def __init__(self, payload: dict[str, Any], steps: list[_Step]) -> None:
        self.payload = payload
        self.steps = steps
        self.step = 0


class _Simulation:
    """One run's state: the clock, the counters and the open entities of each source."""

    def __init__(
        self,
        seed: int,
        start: datetime,
        mean_gap_ms: float = MEAN_GAP_MS,
        pace: Pace = "realistic",
        calendar: WorkingCalendar | None = None,
    ) -> None:
        if mean_gap_ms <= 0:
            raise ValueError("mean_gap_ms must be > 0")
        if pace not in PACES:
            raise ValueError(f"pace must be one of {', '.join(PACES)}, not {pace!r}")
        self.mean_gap_ms = mean_gap_ms
        self.demo = pace == "demo"
        self.calendar = calendar or _shipped_calendar()
        self.scale = 1 / DEMO_SPEEDUP if self.demo else 1.0
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware (e.g. +07:00)")
        self.rng = random.Random(seed)
        # The clock counts whole milliseconds from the start's hour (which makes formatting
        # cheap), beginning at the start rounded up to a millisecond, so every time >= start.
        local = start.astimezone(VN_TZ)
        self.origin = local.replace(minute=0, second=0, microsecond=0)
        self.clock0 = -(-(local - self.origin) // timedelta(milliseconds=1))
        utc = start.astimezone(UTC)
        stamp = utc.strftime("%y%m%d%H%M%S") + (f"{utc.microsecond:06d}" if utc.microsecond else "")
        self.tag = f"{seed}-{stamp}"  # parsed from the right, so unique per (seed, start)
        self.heaps: dict[str, list[tuple[int, int, _Entity]]] = {s: [] for s, _ in SOURCE_WEIGHTS}
        self.seq = 0  # tie-breaker of equal due times; also numbers entities
        self.daily: dict[str, int] = {}  # MaHoSo counters per agency for the current day
        self.daily_day: date | None = None
        self._hour = -1
        self._hour_text = ""
        # The sweep under way: the assets it has still to hit, and what hits them.
        self.sweep: list[tuple[str, str, str]] = []
        self.sweep_by: tuple[str, str, str] = ("", "", "")  # category, signature, source IP

    def run(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        heaps = self.heaps
        rate = 1.0 / self.mean_gap_ms
        cumulative: list[tuple[float, str]] = []
        total = 0.0
        for source, weight in SOURCE_WEIGHTS:
            total += weight
            cumulative.append((total, source))
        last = cumulative[-1][1]
        create = {
            "filings": self._new_filing,
            "documents": self._new_document,
            "security": self._new_alert,
        }
        event_prefix = f"sim-{self.tag}-"
        clock = self.clock0
        number = 0
        while True:
            clock += int(rng.expovariate(rate))
            if self.sweep and rng.random() < BURST_SHARE:
                source = "security"
            else:
                point = rng.random() * total
                source = last
                for bound, name in cumulative:
                    if point < bound:
                        source = name
                        break
            heap = heaps[source]
            if heap and heap[0][0] <= clock:
                entity = heapq.heappop(heap)[2]
            else:
                entity = create[source](clock)
            kind, _, agency = entity.steps[entity.step]
            entity.step += 1
            if entity.step < len(entity.steps):
                self.seq += 1
                heapq.heappush(heap, (clock + entity.steps[entity.step][1], self.seq, entity))
            number += 1
            yield {
                "source": source,
                "event_id": f"{event_prefix}{number:08d}",
                "type": kind,
                "occurred_at": self._iso(clock),
                "agency": agency,
                "payload": dict(entity.payload),
            }

    def _at(self, clock: int) -> datetime:
        return self.origin + timedelta(milliseconds=clock)

    def _iso(self, clock: int) -> str:
        # Formatting is the hot path: reuse the text of the current hour.
        hour, within = divmod(clock, 3_600_000)
        if hour != self._hour:
            self._hour = hour
            self._hour_text = self._at(hour * 3_600_000).strftime("%Y-%m-%dT%H")
        minute, within = divmod(within, _MINUTE)
        second, millis = divmod(within, 1000)
        return f"{self._hour_text}:{minute:02d}:{second:02d}.{millis:03d}+07:00"

    def _next_id(self) -> int:
        self.seq += 1
        return self.seq

    def _delay(self, median_min: float, lo_min: float, hi_min: float) -> int:
        """A handling delay at this run's pace."""
        return _delay(self.rng, median_min, lo_min, hi_min, self.scale)

    # -- filings --------------------------------------------------------------------------

    def _new_filing(self, clock: int) -> _Entity:
        rng = self.rng
        if rng.random() < 0.55:
            agency = rng.choice(_COMMUNES)
            procedure = rng.choice(_COMMUNE_PROCEDURES)
        else:
            procedure = rng.choice(_PROVINCE_PROCEDURES)
            agency = _BY_CODE[procedure.agency or ""]
        received = self._at(clock)
        day = received.date()
        if day != self.daily_day:
            self.daily_day, self.daily = day, {}
        serial = self.daily[agency.code] = self.daily.get(agency.code, 0) + 1
        filing_id = f"H42.{agency.code[4:6]}-{day:%y%m%d}-{serial:04d}-{self.tag}"

        r = rng.random()
        channel = "online" if r < 0.68 else "in_person" if r < 0.95 else "postal"
        full_online = channel == "online" and rng.random() < 0.7
        fee = procedure.fee_vnd if procedure.fee_vnd and rng.random() < 0.9 else 0
        paid_online = bool(fee) and rng.random() < (0.75 if channel == "online" else 0.1)
        payload: dict[str, Any] = {
            "filing_id": filing_id,
            "procedure_code": procedure.code,
            "channel": channel,
            "full_online": full_online,
            "received_at": self._iso(clock),
            "due_at": due_after(received, procedure.days, self.calendar).isoformat(),
            "fee_vnd": fee,
            "paid_online": paid_online,
            "digitised": rng.random() < 0.85,
        }
        if agency.commune_code:
            payload["commune_code"] = agency.commune_code
        if self.demo and rng.random() >= DEMO_ROUTINE_FILINGS:
            due, steps = self._deadline_filing(clock, agency.code, procedure.days)
            payload["due_at"] = self._at(due).isoformat()
            return _Entity(payload, steps)
        return _Entity(payload, self._filing_steps(agency.code, procedure.days))

    def _deadline_filing(self, clock: int, agency: str, days: int) -> tuple[int, list[_Step]]:
        """Demo pace: a filing due minutes after receipt, and when it is handled against
        that deadline. Returns (due clock, steps)."""
        rng = self.rng
        span = int((2 + 2 * days) * _MINUTE * rng.uniform(0.75, 1.25))
        due = _whole_minute(clock + span)
        span = due - clock
        steps: list[_Step] = [("received", 0, agency)]
        r = rng.random()
        if r < 0.02:  # not valid at the counter
            return due, [*steps, ("refused", self._delay(30, 2, 480), agency)]
        if r < 0.04:  # the citizen takes it back before processing starts
            return due, [*steps, ("withdrawn", self._delay(60, 5, 1440), agency)]
        # Planned moments, in ms after receipt; the clock of the deadline stops while the
        # filing waits for the citizen, so a supplement's wait moves the end as well.
        at = max(1_000, min(self._delay(20, 2, 480), span // 4))
        planned: list[tuple[str, int]] = [("in_process", at)]
        waited = 0
        if rng.random() < 0.15:
            at += max(1_000, int(span * rng.uniform(0.1, 0.3)))
            planned.append(("supplement_requested", at))
            wait = int(_MINUTE * rng.uniform(0.5, 3))
            if rng.random() < 0.1:  # never supplied: withdrawn
                planned.append(("withdrawn", at + 2 * wait))
                return due, steps + self._as_steps(planned, agency)
            at += wait
            waited = wait
            planned.append(("supplemented", at))
        outcome = rng.random()
        if outcome < DEMO_FILING_OUTCOMES[0]:  # comfortably within the deadline
            end = rng.uniform(0.35, 0.8)
        elif outcome < DEMO_FILING_OUTCOMES[1]:  # at risk, then just in time
            end = rng.uniform(0.85, 0.98)
        else:  # overdue for a while, then late
            end = rng.uniform(1.1, 1.8)
        end_at = max(at + 1_000, int(span * end) + waited)
        kind = "refused" if rng.random() < 0.04 else "resolved"
        planned.append((kind, end_at))
        if kind == "resolved" and rng.random() < 0.92:
            planned.append(("result_returned", end_at + int(_MINUTE * rng.uniform(0.2, 1.5))))
        return due, steps + self._as_steps(planned, agency)

    @staticmethod
    def _as_steps(planned: list[tuple[str, int]], agency: str) -> list[_Step]:
        """Steps planned at moments after the first event, as delays after the step before."""
        steps: list[_Step] = []
        previous = 0
        for kind, moment in planned:
            steps.append((kind, max(moment - previous, 1), agency))
            previous = max(moment, previous + 1)
        return steps

    def _filing_steps(self, agency: str, days: int) -> list[_Step]:
        rng = self.rng
        steps: list[_Step] = [("received", 0, agency)]
        r = rng.random()
        if r < 0.02:  # not valid at the counter
            return [*steps, ("refused", self._delay(30, 2, 480), agency)]
        if r < 0.04:  # the citizen takes it back before processing starts
            return [*steps, ("withdrawn", self._delay(60, 5, 1440), agency)]
        steps.append(("in_process", self._delay(20, 2, 480), agency))
        requests = 0 if rng.random() >= 0.12 else 1 if rng.random() >= 0.15 else 2
        for _ in range(requests):
            steps.append(("supplement_requested", self._delay(120, 10, 2880), agency))
            if rng.random() < 0.1:  # never supplied
                return [*steps, ("withdrawn", self._delay(1440, 60, 7200), agency)]
            steps.append(("supplemented", self._delay(360, 30, 4320), agency))
        r = rng.random()
        if r < 0.04:
            return [*steps, ("refused", self._delay(240, 10, 4320), agency)]
        if r < 0.05:
            return [*steps, ("withdrawn", self._delay(180, 10, 4320), agency)]
        steps.append(("resolved", self._delay(90 + 120 * days, 10, 8640), agency))
        if rng.random() < 0.92:  # the rest is never collected during the run
            steps.append(("result_returned", self._delay(60, 5, 2880), agency))
        return steps

    # -- documents ------------------------------------------------------------------------

    def _new_document(self, clock: int) -> _Entity:
        rng = self.rng
        document_id = f"vb-{self.tag}-{self._next_id():07d}"
        electronic = rng.random() < 0.9
        steps: list[_Step]
        if rng.random() < 0.55:
            direction = "outgoing"
            sender = rng.choice(_PROVINCE) if rng.random() < 0.7 else rng.choice(_COMMUNES)
            if rng.random() < 0.15:
                receiver = rng.choice(CENTRAL_AGENCIES)
            else:
                receiver = rng.choice([a for a in AGENCIES if a.code != sender.code])
            steps = self._outgoing_steps(sender, receiver, electronic)
            deadline = receiver.level != "central" and rng.random() < 0.4
        else:
            direction = "incoming"
            sender = rng.choice(CENTRAL_AGENCIES)
            receiver = rng.choice(_PROVINCE) if rng.random() < 0.8 else rng.choice(_COMMUNES)
            steps = [("received", 0, receiver.code), *self._handling_steps(receiver.code)]
            deadline = rng.random() < 0.6
        signer = sender.level if sender.level != "central" else "province"
        sign_rate = {"province": 0.95, "commune": 0.75}[signer]
        payload: dict[str, Any] = {
            "document_id": document_id,
            "direction": direction,
            "electronic": electronic,
            "signed": electronic and rng.random() < sign_rate,
            "sender_agency": sender.code,
            "receiver_agency": receiver.code,
            "document_type": _pick(rng, DOCUMENT_TYPES),
        }
        if deadline:
            days = rng.randint(3, 10)
            if self.demo and rng.random() < 1 / 3:  # due minutes after it was opened
                due = self._at(_whole_minute(clock + days * _MINUTE // 2))
            else:
                due = due_after(self._at(clock), days, self.calendar)
            payload["due_at"] = due.isoformat()
        return _Entity(payload, steps)

    def _outgoing_steps(self, sender: Agency, receiver: Agency, electronic: bool) -> list[_Step]:
        rng = self.rng
        steps: list[_Step] = [
            ("issued", 0, sender.code),
            ("sent", self._delay(15, 1, 1440), sender.code),
        ]
        if electronic and rng.random() < 0.02:  # the exchange axis rejects the packet
            return [*steps, ("refused", self._delay(5, 1, 120), sender.code)]
        transit = self._delay(3, 0.2, 120) if electronic else self._delay(1200, 120, 5760)
        if receiver.level == "central":  # only the delivery receipt comes back
            return [*steps, ("received", transit, sender.code)]
        return [*steps, ("received", transit, receiver.code), *self._handling_steps(receiver.code)]

    def _handling_steps(self, agency: str) -> list[_Step]:
        rng = self.rng
        if rng.random() < 0.03:  # wrong recipient: sent back
            return [("returned", self._delay(120, 5, 2880), agency)]
        steps: list[_Step] = [("assigned", self._delay(60, 2, 2880), agency)]
        if rng.random() < 0.01:
            return [*steps, ("returned", self._delay(240, 10, 4320), agency)]
        return [
            *steps,
            ("processed", self._delay(300, 15, 7200), agency),
            ("done", self._delay(30, 1, 1440), agency),
        ]

    # -- security -------------------------------------------------------------------------

    def _outside_address(self) -> str:
        """An address seen behind the perimeter NAT / from the provincial WAN."""
        rng = self.rng
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"

    def _new_alert(self, clock: int) -> _Entity:
        rng = self.rng
        if not self.sweep and rng.random() < BURST_CHANCE:
            category = rng.choice(BURST_CATEGORIES)
            self.sweep_by = (category, rng.choice(SIGNATURES[category]), self._outside_address())
            self.sweep = rng.sample(ASSETS, rng.randint(8, len(ASSETS)))
        if self.sweep:
            hostname, agency, address = self.sweep.pop()
            category, signature, source_ip = self.sweep_by
        else:
            hostname, agency, address = rng.choice(ASSETS)
            category = _pick(rng, _CATEGORY_WEIGHTS)
            signature = rng.choice(SIGNATURES[category])
            if rng.random() < 0.3:  # an infected or misused workstation inside
                source_ip = f"10.42.{rng.randint(100, 199)}.{rng.randint(2, 254)}"
            else:
                source_ip = self._outside_address()
        severity = _pick(rng, _SEVERITY_MIX.get(category, _SEVERITY_MIX["default"]))
        payload: dict[str, Any] = {
            "alert_id": f"soc-{self.tag}-{self._next_id():07d}",
            "severity": severity,
            "category": category,
            "asset": hostname,
            "signature": signature,
            "src_ip": source_ip,
            "dest_ip": address,
        }
        p_ack, ack_min, p_auto, p_resolve, resolve_min = _ALERT_HANDLING[severity]
        steps: list[_Step] = [("raised", 0, agency)]
        r = rng.random()
        if r < p_auto:  # closed as a false positive / auto-resolved without an ack
            steps.append(("resolved", self._delay(ack_min * 2, 1, 4320), agency))
        elif r < p_auto + p_ack * (1 - p_auto):
            steps.append(("acknowledged", self._delay(ack_min, 0.5, 2880), agency))
            if rng.random() < p_resolve:
                steps.append(("resolved", self._delay(resolve_min, 5, 4320), agency))
        if self.demo and steps[-1][0] != "resolved":
            # Left alone, it would stay open for the whole demo: close it once it has
            # been unattended (IOC_ALERT_ACK_MINUTES, wall time) for a while.
            steps.append(("resolved", int(_MINUTE * rng.uniform(16, 45)), agency))
        return _Entity(payload, steps)


def stream(
    seed: int,
    start: datetime,
    mean_gap_ms: float = MEAN_GAP_MS,
    pace: Pace = "realistic",
    calendar: WorkingCalendar | None = None,
) -> Iterator[dict[str, Any]]:
    """Unbounded records from `start` on, deterministic for (seed, start, mean_gap_ms,
    pace, calendar).

    `mean_gap_ms` is the mean simulated time between records: a live sender at R
    records/s passes 1000/R so that `occurred_at` keeps pace with the wall clock.
    `pace` "demo" compresses lifecycles and deadlines into minutes (see the module).
    `calendar` counts the working days of appointments (None: the shipped one).
    Memory stays bounded: only open entities are kept, one pending step each.
    """
    return _Simulation(seed, start, mean_gap_ms, pace, calendar).run()


def generate(
    seed: int,
    count: int,
    start: datetime,
    mean_gap_ms: float = MEAN_GAP_MS,
    pace: Pace = "realistic",
    calendar: WorkingCalendar | None = None,
) -> Iterator[dict[str, Any]]:
    """Exactly `count` records; the same (seed, count, start, pace, calendar) gives the
    same records."""
    if count < 0:
        raise ValueError("count must be >= 0")
    return islice(stream(seed, start, mean_gap_ms, pace, calendar), count)


__all__ = [
    "AGENCIES",
    "ASSETS",
    "CENTRAL_AGENCIES",
    "DEMO_SPEEDUP",
    "DOCUMENT_TYPES",
    "MEAN_GAP_MS",
    "PACES",
    "PROCEDURES",
    "SIGNATURES",
    "VN_TZ",
    "Agency",
    "Pace",
    "Procedure",
    "due_after",
    "generate",
    "stream",
]
