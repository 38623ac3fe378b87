"""The restart rule of `ioc up`, on a fake clock: backoff, its reset, and crash loops."""

from __future__ import annotations

from ioc.restarts import CrashLoop, Restart, RestartPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _run_then_exit(policy: RestartPolicy, clock: Clock, ran_s: float) -> Restart | CrashLoop:
    """The role ran `ran_s` seconds after its (re)start, then exited."""
    policy.started()
    clock.now += ran_s
    return policy.exited()


def _restart_after(decision: Restart | CrashLoop, clock: Clock) -> None:
    assert isinstance(decision, Restart), decision
    clock.now += decision.delay_s


def test_a_role_failing_at_start_backs_off_then_is_a_crash_loop_at_the_fifth_exit() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    delays = []
    for _ in range(4):
        decision = _run_then_exit(policy, clock, 0.5)
        assert isinstance(decision, Restart)
        delays.append(decision.delay_s)
        _restart_after(decision, clock)
    assert delays == [1, 2, 4, 8]
    assert _run_then_exit(policy, clock, 0.5) == CrashLoop(exits=5, window_s=120)


def test_exits_spread_wider_than_the_window_never_make_a_crash_loop() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    for _ in range(20):
        decision = _run_then_exit(policy, clock, 29.0)
        _restart_after(decision, clock)  # asserts it is a Restart


def test_backoff_is_capped_at_30_seconds() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    delays = []
    for _ in range(8):
        decision = _run_then_exit(policy, clock, 50.0)  # short of stable, few per window
        assert isinstance(decision, Restart)
        delays.append(decision.delay_s)
        _restart_after(decision, clock)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_role_that_ran_stably_starts_its_backoff_again_at_one_second() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    for expected in (1, 2, 4):
        decision = _run_then_exit(policy, clock, 1.0)
        assert decision == Restart(expected)
        _restart_after(decision, clock)
    assert _run_then_exit(policy, clock, 3600.0) == Restart(1)
    _restart_after(Restart(1), clock)
    assert _run_then_exit(policy, clock, 1.0) == Restart(2)


def test_the_crash_loop_window_slides() -> None:
    clock = Clock()
    policy = RestartPolicy(clock, max_s=1, loop_exits=3, loop_window_s=10)
    _restart_after(_run_then_exit(policy, clock, 0), clock)  # exits at t=0
    _restart_after(_run_then_exit(policy, clock, 0), clock)  # and t=1
    clock.now += 20  # both leave the window
    _restart_after(_run_then_exit(policy, clock, 0), clock)  # t=22
    _restart_after(_run_then_exit(policy, clock, 0), clock)  # t=23
    assert _run_then_exit(policy, clock, 0) == CrashLoop(exits=3, window_s=10)  # t=24
