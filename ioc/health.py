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
  `IOC_HEALTH_STALL_S` (stalled), the lag is past `IOC_HEALTH_MAX_LAG`, a role of
  `ioc up` is down or restarted in the last minute, or a source has been quiet longer
  than its expected cadence in working time (`source_silent`, from the reference file).
- `ok` otherwise. A quiet system (no events, nothing waiting) is `ok`: quiet is not stale.

A reason is `stale` when, because of it, the figures on screen stop following what
sources send; the wall screen then says its data is not updating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

Status = Literal["ok", "degraded", "down"]

# A role that restarted this recently is still worth a line on the wall.
RESTART_NOTICE = timedelta(seconds=60)
VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


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


@dataclass(frozen=True, slots=True)
class RoleReport:
    """What `ioc up` says of one of the processes it runs."""

    name: str
    state: str  # running | restarting | stopped
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None


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
    processors: tuple[ProcessorReport, ...]

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
            "processors": [
                {
                    "instance": p.instance,
                    "started_at": iso(p.started_at),
                    "reported_at": iso(p.reported_at),
                    "last_commit_at": iso(p.last_commit_at),
                    "retrying_since": iso(p.retrying_since),
                    "retry_reason": p.retry_reason,
                    "draining": p.draining,
                    "lag": dict(p.lag),
                }
                for p in self.processors
            ],
        }

    def same_verdict(self, other: Health | None) -> bool:
        """Whether a screen showing `other` would show the same thing as for this one."""
        return other is not None and (self.status, self.reasons) == (other.status, other.reasons)


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
    if not facts.database_error and not facts.pending_migrations:
        reasons += _processor_reasons(now, alive, facts.processors, lag, limits)
    reasons += _role_reasons(now, facts.roles)
    reasons += [_silent_source(source) for source in facts.silent_sources]

    status: Status = "down" if any(r.down for r in reasons) else "degraded" if reasons else "ok"
    return Health(status, tuple(reasons), now, facts.newest_data_at, lag, alive)


def _merged_lag(alive: Sequence[ProcessorReport]) -> dict[str, int]:
    """Lag per partition; during a rebalance two owners may report one partition: the larger."""
    lag: dict[str, int] = {}
    for report in alive:
        for partition, records in report.lag.items():
            lag[partition] = max(lag.get(partition, 0), records)
    return dict(sorted(lag.items()))


def _processor_reasons(
    now: datetime,
    alive: Sequence[ProcessorReport],
    everyone: Sequence[ProcessorReport],
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
    for p in alive:
        if p.retrying_since is not None:
            why = p.retry_reason or "?"
            reasons.append(
                Reason(
                    "retrying",
                    f"Bộ xử lý đang thử ghi lại một lô từ {_hhmm(p.retrying_since)}: {why}",
                    f"A processor has been retrying a batch since {_hhmm(p.retrying_since)}: {why}",
                    stale=True,
                )
            )
            continue
        waiting = sum(p.lag.values())
        progress_at = p.last_commit_at or p.started_at
        idle = now - progress_at
        if waiting and idle.total_seconds() >= limits.stall_s:
            reasons.append(
                Reason(
                    "stalled",
                    f"Bộ xử lý bị đình trệ: {_vi_number(waiting)} bản ghi đang chờ, không ghi "
                    f"được gì trong {_seconds(idle)} giây",
                    f"A processor is stalled: {waiting:,} records waiting, nothing stored for "
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


_ROLE_NAMES_VI = {"process": "bộ xử lý", "serve": "máy chủ API", "simulate": "bộ mô phỏng"}


def _role_reasons(now: datetime, roles: Sequence[RoleReport]) -> list[Reason]:
    reasons: list[Reason] = []
    for role in roles:
        name_vi = f"{_ROLE_NAMES_VI.get(role.name, role.name)} (ioc {role.name})"
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
                    f"(lần {role.restarts + 1})",
                    f"ioc {role.name} is down{exit_en}; "
                    f"restarting it (attempt {role.restarts + 1})",
                    stale=role.name == "process",
                )
            )
        elif role.last_exit_at is not None and now - role.last_exit_at <= RESTART_NOTICE:
            reasons.append(
                Reason(
                    "role_restarted",
                    f"Tiến trình {name_vi} đã được khởi động lại lúc {_hhmm(role.last_exit_at)}"
                    f"{exit_vi}; đã khởi động lại {role.restarts} lần",
                    f"ioc {role.name} was restarted at {_hhmm(role.last_exit_at)}{exit_en}; "
                    f"{role.restarts} restart(s) so far",
                )
            )
    return reasons
