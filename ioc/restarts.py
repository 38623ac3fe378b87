"""When `ioc up` restarts a role that exited, and when it gives up: pure, clock injected.

The rule (README, "When a role exits"):
- a role that exits is restarted after a backoff of 1, 2, 4, 8, 16, 30, 30 … seconds;
  the backoff starts again at 1 s when the role had run for at least `stable_after_s`
  (60 s) before it exited, so one crash a day always costs one second;
- a role that exits `loop_exits` (5) times within `loop_window_s` (120 s) is in a
  crash loop: restarting it again would only hide the fault, so `ioc up` stops.

With the defaults a role that fails at start reaches its fifth exit after about
15 s of backoff (1 + 2 + 4 + 8), and a role that runs a while between crashes is
restarted for as long as its crashes stay fewer than five in two minutes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Restart:
    """Restart the role after `delay_s` seconds."""

    delay_s: float


@dataclass(frozen=True)
class CrashLoop:
    """Stop: the role exited `exits` times within `window_s` seconds."""

    exits: int
    window_s: float


class RestartPolicy:
    """Backoff and crash-loop detection for one role. Tell it `started()` and `exited()`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        base_s: float = 1.0,
        max_s: float = 30.0,
        stable_after_s: float = 60.0,
        loop_exits: int = 5,
        loop_window_s: float = 120.0,
    ) -> None:
        self.clock = clock
        self.base_s = base_s
        self.max_s = max_s
        self.stable_after_s = stable_after_s
        self.loop_exits = loop_exits
        self.loop_window_s = loop_window_s
        self._started_at = clock()
        self._exits: deque[float] = deque()
        self._streak = 0  # exits in a row, each after a run shorter than stable_after_s

    def started(self) -> None:
        self._started_at = self.clock()

    def exited(self) -> Restart | CrashLoop:
        now = self.clock()
        self._exits.append(now)
        while self._exits and self._exits[0] <= now - self.loop_window_s:
            self._exits.popleft()
        if len(self._exits) >= self.loop_exits:
            return CrashLoop(exits=len(self._exits), window_s=self.loop_window_s)
        ran = now - self._started_at
        self._streak = self._streak + 1 if ran < self.stable_after_s else 1
        return Restart(delay_s=min(self.max_s, self.base_s * 2 ** (self._streak - 1)))
