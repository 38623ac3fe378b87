"""Is IOC healthy, and if not, why: a pure judgement over what the services report.

The API gathers the facts (can it reach the database and the broker, are migrations
applied, what each processor last reported in `processor_status`, what `ioc up` says
of its roles) and `assess` turns them into one verdict with reasons in Vietnamese and
English. It is pure - the clock is a parameter - so every rule is tested without
services (`tests/unit/test_health.py`).

Verdicts:
- `down`: the database or the broker cannot be reached, or migrations are pending.
- `degraded`: the pipeline is not doing its job - no processor reports, a processor
  retries a batch it cannot write, has records waiting but committed nothing for
  `IOC_HEALTH_STALL_S` (stalled), a named processor stopped reporting while others
  still do (`processor_silent`), the lag is past `IOC_HEALTH_MAX_LAG`, a role of
  `ioc up` (one of its processors, say) is down or restarted in the last minute, or a
  source has been quiet longer than its expected cadence in working time
  (`source_silent`, from the reference file).
- `ok` otherwise. A quiet system (no events, nothing waiting) is `ok`: quiet is not stale.

A reason is `stale` when, because of it, the figures on screen stop following what
sources send; the wall screen then says its data is not updating. A processor role
that is down is: the partitions it owned wait until it is back or the group hands
them to the others (after the session timeout). A processor silent for longer than
that timeout is not: the group has handed its partitions on.

Each processor is shown on its own (`ProcessorHealth`): `ioc up`'s processor roles by
their role, matched to the newest report under the role's name (`IOC_PROCESSOR_NAME`;
a restart is a new instance under the same name); processors without a role are shown
by their reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from ioc.processor_roles import is_processor_role, processor_number
from ioc.working_time import VN_TZ

Status = Literal["ok", "degraded", "down"]
# ok / draining / retrying / stalled: from its current report; stale: its newest report
# is older than `Thresholds.silent_after`; starting: its role runs, its new run has not
# reported yet; down: its role is restarting or stopped.
ProcessorState = Literal["ok", "draining", "retrying", "stalled", "stale", "starting", "down"]

# A role that restarted this recently is still worth a line on the wall.
RESTART_NOTICE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    vi: str
    en: str
    stale: bool = False  # the figures stop following the sources because of this
    down: bool = False  # IOC cannot work at all until this is fixed


@dataclass(frozen=True, slots=True)
class ProcessorReport:
    """One row of `processor_status`."""

    instance: str
    started_at: datetime
    reported_at: datetime
    last_commit_at: datetime | None = None
    retrying_since: datetime | None = None
    retry_reason: str | None = None
    draining: bool = False
    lag: Mapping[str, int] = field(default_factory=dict)  # "topic/partition" -> records
    name: str = ""  # IOC_PROCESSOR_NAME; empty for a processor run without one
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class RoleReport:
    """What `ioc up` says of one of the processes it runs."""

    name: str
    state: str  # running | restarting | stopped
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class ProcessorHealth:
    """One processor as the screens show it: its state, its newest report (of its current
    run unless `starting` or `down`) and, under `ioc up`, its role."""

    name: str  # the role's or the report's name; empty for an unnamed processor
    state: ProcessorState
    report: ProcessorReport | None = None
    role: RoleReport | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the verdict depends on, gathered by the caller."""

    now: datetime
    database_error: str | None = None
    broker_error: str | None = None
    pending_migrations: Sequence[str] = ()
    processors: Sequence[ProcessorReport] = ()
    roles: Sequence[RoleReport] = ()
    newest_data_at: datetime | None = None
    silent_sources: Sequence[str] = ()  # quiet past their cadence, in working time


@dataclass(frozen=True, slots=True)
class Thresholds:
    stall_s: float = 30.0
    max_lag: int = 20_000
    report_s: float = 2.0  # how often processors report

    @property
    def silent_after(self) -> timedelta:
        """A processor that has not reported for this long is taken for gone."""
        return timedelta(seconds=max(10.0, 3 * self.report_s))


@dataclass(frozen=True, slots=True)
class Health:
    status: Status
    reasons: tuple[Reason, ...]
    checked_at: datetime
    newest_data_at: datetime | None
    lag: Mapping[str, int]
    processors: tuple[ProcessorHealth, ...]

    @property
    def lag_total(self) -> int:
        return sum(self.lag.values())

    @property
    def stale(self) -> bool:
        return any(reason.stale for reason in self.reasons)

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "status": self.status,
            "stale": self.stale,
            "reasons": [asdict(reason) for reason in self.reasons],
            "checked_at": iso(self.checked_at),
            "newest_data_at": iso(self.newest_data_at),
            "lag_total": self.lag_total,
            "lag": dict(self.lag),
            "processors": [_processor_json(p, iso) for p in self.processors],
        }

    def same_verdict(self, other: Health | None) -> bool:
        """Whether a screen showing `other` would show the same thing as for this one."""
        return other is not None and (self.status, self.reasons) == (other.status, other.reasons)


def _processor_json(
    processor: ProcessorHealth, iso: Callable[[datetime | None], str | None]
) -> dict[str, Any]:
    p, role = processor.report, processor.role
    return {
        "name": processor.name,
        "state": processor.state,
        "instance": p.instance if p else None,
        "pid": p.pid if p else None,
        "started_at": iso(p.started_at) if p else None,
        "reported_at": iso(p.reported_at) if p else None,
        "last_commit_at": iso(p.last_commit_at) if p else None,
        "retrying_since": iso(p.retrying_since) if p else None,
        "retry_reason": p.retry_reason if p else None,
        "draining": p.draining if p else False,
        "lag": dict(sorted(p.lag.items())) if p else {},
        "role": None
        if role is None
        else {
            "state": role.state,
            "pid": role.pid,
            "restarts": role.restarts,
            "last_exit_code": role.last_exit_code,
            "last_exit_at": iso(role.last_exit_at),
        },
    }


def _hhmm(moment: datetime) -> str:
    """Wall-clock time in Vietnam, for a reason's text (the screens show Vietnam time)."""
    return moment.astimezone(VN_TZ).strftime("%H:%M:%S")


def _vi_number(n: int) -> str:
    """1.234.567: Vietnamese groups thousands with dots."""
    return f"{n:,}".replace(",", ".")


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def assess(facts: Facts, limits: Thresholds) -> Health:
    """The verdict and its reasons, from `facts` alone."""
    now = facts.now
    reasons: list[Reason] = []
    if facts.database_error:
        reasons.append(
            Reason("database_down", f"Không kết nối được cơ sở dữ liệu: {facts.database_error}",
                   f"The database is unreachable: {facts.database_error}", stale=True, down=True)
        )  # fmt: skip
    if facts.broker_error:
        reasons.append(
            Reason("broker_down", f"Không kết nối được Kafka: {facts.broker_error}",
                   f"The broker is unreachable: {facts.broker_error}", stale=True, down=True)
        )  # fmt: skip
    if facts.pending_migrations:
        pending = ", ".join(facts.pending_migrations)
        reasons.append(
            Reason("migrations_pending", f"Cơ sở dữ liệu chưa được cập nhật cấu trúc ({pending}): "
                   "chạy `ioc migrate`", f"Migrations pending ({pending}): run `ioc migrate`",
                   stale=True, down=True)
        )  # fmt: skip

    alive = tuple(p for p in facts.processors if now - p.reported_at <= limits.silent_after)
    lag = _merged_lag(alive)
    processors = tuple(_processors(now, facts.processors, facts.roles, limits))
    if not facts.database_error and not facts.pending_migrations:
        reasons += _processor_reasons(now, alive, facts.processors, processors, lag, limits)
    starting = {p.name for p in processors if p.state == "starting"}
    reasons += _role_reasons(now, facts.roles, starting, _taken_over(processors, alive))
    reasons += [_silent_source(source) for source in facts.silent_sources]

    status: Status = "down" if any(r.down for r in reasons) else "degraded" if reasons else "ok"
    return Health(status, tuple(reasons), now, facts.newest_data_at, lag, processors)


def _taken_over(
    processors: Sequence[ProcessorHealth], alive: Sequence[ProcessorReport]
) -> set[str]:
    """The processors not running (down, or restarted and not reporting yet) whose
    partitions the others have taken over: every partition of its last report is named
    by a newer report of another processor still reporting - the group rebalanced, so
    nothing waits for it and the data is not stale for its absence."""
    out: set[str] = set()
    for processor in processors:
        last = processor.report
        if processor.state not in ("down", "starting") or last is None or not last.lag:
            continue
        owned = {
            partition
            for report in alive
            if report.instance != last.instance and report.reported_at > last.reported_at
            for partition in report.lag
        }
        if set(last.lag) <= owned:
            out.add(processor.name)
    return out


def _merged_lag(alive: Sequence[ProcessorReport]) -> dict[str, int]:
    """Lag per partition over the group: each partition's from the freshest report naming
    it. Each member reports the partitions it owns; during a rebalance the old owner's
    last report and the new owner's both name one, and the newer is the current one
    (at the same moment: the larger)."""
    best: dict[str, tuple[datetime, int]] = {}
    for report in alive:
        for partition, records in report.lag.items():
            seen = best.get(partition)
            if seen is None or (report.reported_at, records) > seen:
                best[partition] = (report.reported_at, records)
    return {partition: records for partition, (_, records) in sorted(best.items())}


def _processors(
    now: datetime,
    reports: Sequence[ProcessorReport],
    roles: Sequence[RoleReport],
    limits: Thresholds,
) -> list[ProcessorHealth]:
    """Each processor once: `ioc up`'s processor roles first, in their order, each with
    the newest report under its name; then the named processors no role claims, by their
    newest report - those silent only when there are no roles (under `ioc up` they are
    left from an earlier run); then the unnamed processors still reporting (a silent
    unnamed one cannot be told from one restarted under a new instance)."""
    newest: dict[str, ProcessorReport] = {}
    unnamed: list[ProcessorReport] = []
    for report in reports:
        if not report.name:
            if now - report.reported_at <= limits.silent_after:
                unnamed.append(report)
        elif report.name not in newest or report.started_at > newest[report.name].started_at:
            newest[report.name] = report
    ours = [role for role in roles if is_processor_role(role.name)]
    shown: list[ProcessorHealth] = []
    for role in ours:
        last = newest.pop(role.name) if role.name in newest else None
        if role.state != "running":
            shown.append(ProcessorHealth(role.name, "down", last, role))
        elif last is None or (role.pid is not None and last.pid != role.pid):
            shown.append(ProcessorHealth(role.name, "starting", last, role))
        else:
            shown.append(ProcessorHealth(role.name, _state(now, last, limits), last, role))
    for name, report in sorted(newest.items()):
        state = _state(now, report, limits)
        if state != "stale" or not ours:
            shown.append(ProcessorHealth(name, state, report))
    for report in sorted(unnamed, key=lambda r: r.instance):
        shown.append(ProcessorHealth("", _state(now, report, limits), report))
    return shown


def _state(now: datetime, report: ProcessorReport, limits: Thresholds) -> ProcessorState:
    if now - report.reported_at > limits.silent_after:
        return "stale"
    if report.retrying_since is not None:
        return "retrying"
    idle = now - (report.last_commit_at or report.started_at)
    if sum(report.lag.values()) and idle.total_seconds() >= limits.stall_s:
        return "stalled"
    return "draining" if report.draining else "ok"


def _processor_label(name: str) -> tuple[str, str]:
    """How a reason names a processor, (vi, en), capitalised: the unnamed one and `ioc up`'s
    only one as before, `process-2` as processor 2."""
    number = processor_number(name)
    if number is not None:
        return f"Bộ xử lý {number} ({name})", f"Processor {number} ({name})"
    if name and name != "process":
        return f"Bộ xử lý {name}", f"Processor {name}"
    return "Bộ xử lý", "A processor" if not name else "The processor"


def _processor_reasons(
    now: datetime,
    alive: Sequence[ProcessorReport],
    everyone: Sequence[ProcessorReport],
    processors: Sequence[ProcessorHealth],
    lag: Mapping[str, int],
    limits: Thresholds,
) -> list[Reason]:
    if not alive:
        if everyone:
            last = max(p.reported_at for p in everyone)
            since = f" từ {_hhmm(last)}", f" since {_hhmm(last)}"
        else:
            since = ("", "")
        return [
            Reason(
                "no_processor",
                f"Không có bộ xử lý nào đang chạy{since[0]}: sự kiện mới không được ghi nhận",
                f"No processor is running{since[1]}: new events are not being stored",
                stale=True,
            )
        ]
    reasons: list[Reason] = []
    for processor in processors:
        p = processor.report
        vi, en = _processor_label(processor.name)
        if p is None or processor.state in ("starting", "down"):
            continue  # its role's reason says it
        if processor.state == "stale":
            reasons.append(
                Reason(
                    "processor_silent",
                    f"{vi} không gửi báo cáo từ {_hhmm(p.reported_at)}: có thể đã dừng; các "
                    "bộ xử lý khác nhận phần việc của nó",
                    f"{en} has not reported since {_hhmm(p.reported_at)}: it may have stopped; "
                    "the other processors take over its partitions",
                )
            )
        elif processor.state == "retrying" and p.retrying_since is not None:
            why = p.retry_reason or "?"
            reasons.append(
                Reason(
                    "retrying",
                    f"{vi} đang thử ghi lại một lô từ {_hhmm(p.retrying_since)}: {why}",
                    f"{en} has been retrying a batch since {_hhmm(p.retrying_since)}: {why}",
                    stale=True,
                )
            )
        elif processor.state == "stalled":
            waiting = sum(p.lag.values())
            idle = now - (p.last_commit_at or p.started_at)
            reasons.append(
                Reason(
                    "stalled",
                    f"{vi} bị đình trệ: {_vi_number(waiting)} bản ghi đang chờ, không ghi "
                    f"được gì trong {_seconds(idle)} giây",
                    f"{en} is stalled: {waiting:,} records waiting, nothing stored for "
                    f"{_seconds(idle)} s",
                    stale=True,
                )
            )
    total = sum(lag.values())
    if total > limits.max_lag:
        reasons.append(
            Reason(
                "lagging",
                f"Xử lý chậm hơn dữ liệu đến: {_vi_number(total)} bản ghi đang chờ",
                f"Processing is behind: {total:,} records waiting",
            )
        )
    return reasons


_SOURCE_NAMES_VI = {"documents": "văn bản", "filings": "hồ sơ TTHC", "security": "cảnh báo ATTT"}


def _silent_source(source: str) -> Reason:
    return Reason(
        "source_silent",
        f"Nguồn {_SOURCE_NAMES_VI.get(source, source)} không gửi dữ liệu quá thời gian "
        "dự kiến (tính theo giờ làm việc)",
        f"The {source} source has sent nothing for longer than its expected cadence "
        "(in working time)",
    )


_ROLE_NAMES_VI = {
    "process": "bộ xử lý",
    "serve": "máy chủ API",
    "syslog": "bộ thu syslog",
    "simulate": "bộ mô phỏng",
}


def _role_name_vi(name: str) -> str:
    number = processor_number(name)
    return f"bộ xử lý {number}" if number is not None else _ROLE_NAMES_VI.get(name, name)


def _role_reasons(
    now: datetime,
    roles: Sequence[RoleReport],
    starting: Set[str] = frozenset(),
    taken_over: Set[str] = frozenset(),
) -> list[Reason]:
    """A role down; a role restarted in the last minute - or, for a processor (in
    `starting`), restarted and not reporting yet. A processor down or starting makes the
    data stale - its partitions wait, or change hands when it joins again - unless the
    other processors have already taken its partitions over (in `taken_over`)."""
    reasons: list[Reason] = []
    for role in roles:
        name_vi = f"{_role_name_vi(role.name)} (ioc {role.name})"
        covered = role.name in taken_over
        covered_vi, covered_en = (
            (
                "; các bộ xử lý khác đã nhận phần việc của nó",
                "; the other processors took over its partitions",
            )
            if covered
            else ("", "")
        )
        exit_vi = exit_en = ""
        if role.last_exit_code is not None:
            exit_vi, exit_en = (
                f", mã thoát {role.last_exit_code}",
                f", exit code {role.last_exit_code}",
            )
        if role.state != "running":
            reasons.append(
                Reason(
                    "role_down",
                    f"Tiến trình {name_vi} đã dừng{exit_vi}; đang khởi động lại "
                    f"(lần {role.restarts + 1}){covered_vi}",
                    f"ioc {role.name} is down{exit_en}; "
                    f"restarting it (attempt {role.restarts + 1}){covered_en}",
                    # Its partitions wait until it is back or handed to the others.
                    stale=is_processor_role(role.name) and not covered,
                )
            )
        elif role.last_exit_at is not None and (
            now - role.last_exit_at <= RESTART_NOTICE or role.name in starting
        ):
            back = role.name not in starting
            reasons.append(
                Reason(
                    "role_restarted",
                    f"Tiến trình {name_vi} đã được khởi động lại lúc {_hhmm(role.last_exit_at)}"
                    f"{exit_vi}; đã khởi động lại {role.restarts} lần"
                    + ("" if back else "; chưa xử lý lại dữ liệu" + covered_vi),
                    f"ioc {role.name} was restarted at {_hhmm(role.last_exit_at)}{exit_en}; "
                    f"{role.restarts} restart(s) so far"
                    + ("" if back else "; not processing yet" + covered_en),
                    stale=not back and not covered,
                )
            )
    return reasons
