"""The health verdict, rule by rule, on a fixed clock: quiet is ok, stalled is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ioc.health import Facts, Health, ProcessorReport, RoleReport, Thresholds, assess

NOW = datetime(2026, 11, 24, 3, 0, 0, tzinfo=UTC)  # 10:00 in Vietnam
LIMITS = Thresholds(stall_s=30, max_lag=1000, report_s=2)


def _processor(**overrides: object) -> ProcessorReport:
    fields: dict = {
        "instance": "host:1:1",
        "started_at": NOW - timedelta(minutes=10),
        "reported_at": NOW - timedelta(seconds=1),
        "last_commit_at": NOW - timedelta(seconds=2),
        "lag": {"ioc.filings/0": 0},
    }
    return ProcessorReport(**{**fields, **overrides})


def _codes(facts: Facts) -> list[str]:
    return [reason.code for reason in assess(facts, LIMITS).reasons]


def test_a_quiet_system_with_nothing_waiting_is_ok_even_long_after_its_last_commit() -> None:
    quiet = _processor(last_commit_at=NOW - timedelta(hours=3))
    health = assess(Facts(now=NOW, processors=[quiet]), LIMITS)
    assert health.status == "ok" and not health.reasons and not health.stale


def test_records_waiting_without_a_commit_past_the_stall_limit_is_stalled_and_stale() -> None:
    stuck = _processor(last_commit_at=NOW - timedelta(seconds=31), lag={"ioc.filings/0": 5})
    health = assess(Facts(now=NOW, processors=[stuck]), LIMITS)
    assert health.status == "degraded" and health.stale
    assert [r.code for r in health.reasons] == ["stalled"]
    assert "5 records waiting" in health.reasons[0].en and "31 s" in health.reasons[0].en
    assert "5 bản ghi đang chờ, không ghi được gì trong 31 giây" in health.reasons[0].vi


def test_records_waiting_with_recent_commits_is_busy_not_stalled() -> None:
    busy = _processor(last_commit_at=NOW - timedelta(seconds=29), lag={"ioc.filings/0": 500})
    assert _codes(Facts(now=NOW, processors=[busy])) == []


def test_a_processor_that_never_committed_counts_from_its_start() -> None:
    fresh = _processor(started_at=NOW - timedelta(seconds=5), last_commit_at=None, lag={"a/0": 9})
    old = _processor(started_at=NOW - timedelta(seconds=40), last_commit_at=None, lag={"a/0": 9})
    assert _codes(Facts(now=NOW, processors=[fresh])) == []
    assert _codes(Facts(now=NOW, processors=[old])) == ["stalled"]


def test_retrying_is_reported_with_its_reason_and_local_time() -> None:
    retrying = _processor(
        retrying_since=NOW - timedelta(seconds=12), retry_reason="ConnectionDoesNotExistError"
    )
    health = assess(Facts(now=NOW, processors=[retrying]), LIMITS)
    assert [r.code for r in health.reasons] == ["retrying"]
    assert "09:59:48" in health.reasons[0].vi  # Vietnam time
    assert "ConnectionDoesNotExistError" in health.reasons[0].en
    assert health.stale


def test_lag_past_the_limit_is_lagging_but_not_stale() -> None:
    one = _processor(instance="a", lag={"ioc.filings/0": 600})
    two = _processor(instance="b", lag={"ioc.filings/1": 600})
    health = assess(Facts(now=NOW, processors=[one, two]), LIMITS)
    assert [r.code for r in health.reasons] == ["lagging"]
    assert health.lag_total == 1200 and not health.stale
    assert "1.200" in health.reasons[0].vi  # Vietnamese thousands separator


def test_during_a_rebalance_a_partition_reported_twice_counts_once() -> None:
    one = _processor(instance="a", lag={"ioc.filings/0": 700})
    two = _processor(instance="b", lag={"ioc.filings/0": 650})
    health = assess(Facts(now=NOW, processors=[one, two]), LIMITS)
    assert health.lag_total == 700 and health.status == "ok"


def test_no_processor_reporting_is_degraded_and_names_when_the_last_one_went_silent() -> None:
    gone = _processor(reported_at=NOW - timedelta(seconds=11))
    assert _codes(Facts(now=NOW)) == ["no_processor"]
    health = assess(Facts(now=NOW, processors=[gone]), LIMITS)
    assert [r.code for r in health.reasons] == ["no_processor"]
    assert "09:59:49" in health.reasons[0].en and health.stale
    assert health.processors == ()


def test_a_silent_processor_beside_a_live_one_is_not_an_alarm() -> None:
    gone = _processor(instance="old", reported_at=NOW - timedelta(minutes=5))
    alive = _processor(instance="new")
    assert _codes(Facts(now=NOW, processors=[gone, alive])) == []


def test_an_unreachable_database_or_broker_or_pending_migration_is_down() -> None:
    facts = Facts(now=NOW, database_error="ConnectionRefusedError", processors=[_processor()])
    health = assess(facts, LIMITS)
    assert health.status == "down" and [r.code for r in health.reasons] == ["database_down"]
    broker = assess(Facts(now=NOW, broker_error="x", processors=[_processor()]), LIMITS)
    assert broker.status == "down"
    pending = assess(Facts(now=NOW, pending_migrations=["0002_liveness"]), LIMITS)
    assert pending.status == "down" and "ioc migrate" in pending.reasons[0].en


def test_a_role_down_is_named_and_a_recent_restart_is_shown_for_a_minute() -> None:
    down = RoleReport("process", "restarting", restarts=0, last_exit_code=-9,
                      last_exit_at=NOW - timedelta(seconds=1))  # fmt: skip
    health = assess(Facts(now=NOW, processors=[_processor()], roles=[down]), LIMITS)
    assert [r.code for r in health.reasons] == ["role_down"]
    assert "ioc process" in health.reasons[0].vi and "-9" in health.reasons[0].en
    assert health.stale, "with the processor down the figures stop moving"

    # `ioc up` names its processor after its role; the restarted one has reported.
    reported = _processor(name="process")
    back = RoleReport("process", "running", restarts=1, last_exit_code=-9,
                      last_exit_at=NOW - timedelta(seconds=59))  # fmt: skip
    notice = assess(Facts(now=NOW, processors=[reported], roles=[back]), LIMITS)
    assert [r.code for r in notice.reasons] == ["role_restarted"] and not notice.stale
    later = RoleReport("process", "running", restarts=1, last_exit_code=-9,
                       last_exit_at=NOW - timedelta(seconds=61))  # fmt: skip
    assert _codes(Facts(now=NOW, processors=[reported], roles=[later])) == []


def test_the_verdict_is_compared_on_what_a_screen_shows_not_on_timestamps() -> None:
    first = assess(Facts(now=NOW, processors=[_processor()]), LIMITS)
    second = assess(Facts(now=NOW + timedelta(seconds=2), processors=[_processor()]), LIMITS)
    stalled = assess(
        Facts(now=NOW, processors=[_processor(last_commit_at=NOW - timedelta(minutes=1),
                                              lag={"a/0": 1})]),
        LIMITS,
    )  # fmt: skip
    assert first.same_verdict(second) and not first.same_verdict(stalled)
    assert not first.same_verdict(None)


def test_a_silent_source_makes_ioc_degraded_but_not_stale() -> None:
    health = assess(Facts(now=NOW, processors=[_processor()], silent_sources=["filings"]), LIMITS)
    assert [r.code for r in health.reasons] == ["source_silent"]
    assert health.status == "degraded" and not health.stale
    assert "hồ sơ TTHC" in health.reasons[0].vi and "filings" in health.reasons[0].en


# -- several processors (`ioc up --processors N`) -------------------------------------


def _role(name: str, pid: int, state: str = "running", **overrides: Any) -> RoleReport:
    return RoleReport(name, state, pid=pid if state == "running" else None, **overrides)


def _states(health: Health) -> dict[str, str]:
    return {p.name: p.state for p in health.processors}


def test_one_of_two_processors_down_is_degraded_stale_and_named_vietnamese_first() -> None:
    one = _processor(instance="h:11:1", name="process-1", pid=11, lag={"ioc.filings/0": 3})
    # process-2 was SIGKILLed a second ago: its last report is still recent.
    two = _processor(instance="h:12:1", name="process-2", pid=12, lag={"ioc.filings/1": 4})
    roles = [
        _role("process-1", 11),
        _role("process-2", 0, "restarting", last_exit_code=-9, last_exit_at=NOW),
        _role("serve", 13),
    ]
    health = assess(Facts(now=NOW, processors=[one, two], roles=roles), LIMITS)
    assert health.status == "degraded" and health.stale
    assert [r.code for r in health.reasons] == ["role_down"]
    reason = health.reasons[0]
    assert reason.vi.startswith("Tiến trình bộ xử lý 2 (ioc process-2) đã dừng, mã thoát -9")
    assert "ioc process-2 is down" in reason.en
    assert _states(health) == {"process-1": "ok", "process-2": "down"}
    assert health.lag == {"ioc.filings/0": 3, "ioc.filings/1": 4}
    body = health.as_json()
    down = body["processors"][1]
    assert down["name"] == "process-2" and down["state"] == "down"
    assert down["role"]["state"] == "restarting" and down["role"]["last_exit_code"] == -9
    assert body["processors"][0]["role"]["pid"] == 11 and body["processors"][0]["pid"] == 11


def test_a_processor_down_whose_partitions_the_others_took_over_is_not_stale() -> None:
    # process-2 died 8 s ago; the group rebalanced and process-1 now reports its partition.
    two = _processor(instance="h:12:1", name="process-2", pid=12,
                     reported_at=NOW - timedelta(seconds=8), lag={"ioc.filings/1": 4})  # fmt: skip
    one = _processor(instance="h:11:1", name="process-1", pid=11,
                     lag={"ioc.filings/0": 3, "ioc.filings/1": 0})  # fmt: skip
    roles = [
        _role("process-1", 11),
        _role("process-2", 0, "restarting", last_exit_code=-9, last_exit_at=NOW),
    ]
    health = assess(Facts(now=NOW, processors=[one, two], roles=roles), LIMITS)
    assert health.status == "degraded" and not health.stale, health.reasons
    assert [r.code for r in health.reasons] == ["role_down"]
    assert health.reasons[0].vi.endswith("; các bộ xử lý khác đã nhận phần việc của nó")
    assert health.reasons[0].en.endswith("; the other processors took over its partitions")
    # Before the rebalance, process-1's newer report does not name that partition: stale.
    before = _processor(instance="h:11:1", name="process-1", pid=11, lag={"ioc.filings/0": 3})
    waiting = assess(Facts(now=NOW, processors=[before, two], roles=roles), LIMITS)
    assert waiting.stale and not waiting.reasons[0].en.endswith("its partitions")


def test_a_restarted_processor_is_stale_until_its_new_run_reports_then_shown_restarted() -> None:
    one = _processor(instance="h:11:1", name="process-1", pid=11)
    old = _processor(instance="h:12:1", name="process-2", pid=12,
                     reported_at=NOW - timedelta(seconds=4), lag={"ioc.filings/1": 50})  # fmt: skip
    roles = [_role("process-1", 11),
             _role("process-2", 21, restarts=1, last_exit_code=-9,
                   last_exit_at=NOW - timedelta(seconds=3))]  # fmt: skip
    # Restarted, not reported yet: starting; the old run's report is not its state. Its
    # partitions change hands when it joins the group: stale until it reports.
    starting = assess(Facts(now=NOW, processors=[one, old], roles=roles), LIMITS)
    assert _states(starting) == {"process-1": "ok", "process-2": "starting"}
    assert [r.code for r in starting.reasons] == ["role_restarted"] and starting.stale
    assert starting.reasons[0].vi.startswith(
        "Tiến trình bộ xử lý 2 (ioc process-2) đã được khởi động lại lúc 09:59:57"
    )
    assert starting.reasons[0].vi.endswith("; chưa xử lý lại dữ liệu")
    assert starting.reasons[0].en.endswith("; not processing yet")

    new = _processor(instance="h:21:2", name="process-2", pid=21,
                     started_at=NOW - timedelta(seconds=2), lag={"ioc.filings/1": 0})  # fmt: skip
    back = assess(Facts(now=NOW, processors=[one, old, new], roles=roles), LIMITS)
    assert _states(back) == {"process-1": "ok", "process-2": "ok"}
    assert [r.code for r in back.reasons] == ["role_restarted"] and not back.stale
    assert not starting.same_verdict(back), "the wall screen hears that it is back"
    assert back.as_json()["processors"][1]["instance"] == "h:21:2"
    assert back.lag == {"ioc.filings/0": 0, "ioc.filings/1": 0}, "the fresher report wins"


def test_lag_is_merged_per_partition_from_the_freshest_report_that_names_it() -> None:
    # Mid-rebalance: the old owner's last report and the new owner's name partition 1.
    old_owner = _processor(instance="a", reported_at=NOW - timedelta(seconds=5),
                           lag={"ioc.filings/0": 10, "ioc.filings/1": 900})  # fmt: skip
    new_owner = _processor(instance="b", lag={"ioc.filings/1": 20, "ioc.filings/2": 30})
    health = assess(Facts(now=NOW, processors=[old_owner, new_owner]), LIMITS)
    assert health.lag == {"ioc.filings/0": 10, "ioc.filings/1": 20, "ioc.filings/2": 30}
    assert health.lag_total == 60


def test_a_processor_that_stopped_reporting_shows_as_stale_and_is_named() -> None:
    one = _processor(instance="h:11:1", name="process-1", pid=11)
    hung = _processor(instance="h:12:1", name="process-2", pid=12, lag={"ioc.filings/1": 7},
                      reported_at=NOW - timedelta(seconds=11))  # fmt: skip
    for roles in ([], [_role("process-1", 11), _role("process-2", 12)]):
        health = assess(Facts(now=NOW, processors=[one, hung], roles=roles), LIMITS)
        assert _states(health) == {"process-1": "ok", "process-2": "stale"}
        assert [r.code for r in health.reasons] == ["processor_silent"]
        reason = health.reasons[0]
        assert reason.vi.startswith("Bộ xử lý 2 (process-2) không gửi báo cáo từ 09:59:49")
        assert "Processor 2 (process-2) has not reported since 09:59:49" in reason.en
        # The group hands a silent member's partitions on: degraded, the figures move.
        assert health.status == "degraded" and not health.stale
        assert health.lag == {"ioc.filings/0": 0}, "a stale report's lag is not current"


def test_rows_left_by_an_earlier_ioc_up_are_not_processors_of_this_one() -> None:
    one = _processor(instance="h:11:1", name="process", pid=11)
    left = _processor(instance="h:9:1", name="process-3", pid=9,
                      reported_at=NOW - timedelta(minutes=20))  # fmt: skip
    health = assess(Facts(now=NOW, processors=[one, left], roles=[_role("process", 11)]), LIMITS)
    assert _states(health) == {"process": "ok"} and health.status == "ok"


def test_a_named_processor_retrying_or_stalled_is_named_the_unnamed_one_as_before() -> None:
    retrying = _processor(instance="a", name="process-2", pid=2,
                          retrying_since=NOW - timedelta(seconds=5), retry_reason="x")  # fmt: skip
    stalled = _processor(instance="b", name="process-1", pid=1, lag={"ioc.filings/0": 5},
                         last_commit_at=NOW - timedelta(seconds=40))  # fmt: skip
    health = assess(Facts(now=NOW, processors=[retrying, stalled]), LIMITS)
    assert _states(health) == {"process-1": "stalled", "process-2": "retrying"}
    assert [r.vi.split(":")[0] for r in health.reasons] == [
        "Bộ xử lý 1 (process-1) bị đình trệ",
        "Bộ xử lý 2 (process-2) đang thử ghi lại một lô từ 09",
    ]
    assert health.reasons[1].en.startswith("Processor 2 (process-2) has been retrying")
    unnamed = assess(Facts(now=NOW, processors=[_processor(retrying_since=NOW)]), LIMITS)
    assert unnamed.reasons[0].vi.startswith("Bộ xử lý đang thử ghi lại")
    assert unnamed.reasons[0].en.startswith("A processor has been retrying")
    assert unnamed.as_json()["processors"][0]["name"] == ""
