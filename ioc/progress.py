"""Progress lines for long work on stderr: once a second for a job with an end, every
30 s for an endless one (the simulator under `ioc up`), so logs stay readable."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, out: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.extra = ""
        self._out = out
        self._started = time.monotonic()
        self._last = time.monotonic()
        self._every = 1.0 if total else 30.0

    def advance(self, n: int, extra: str = "") -> None:
        self.done += n
        self.extra = extra
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._print()

    def finish(self, extra: str = "") -> None:
        self.extra = extra or self.extra
        self._print(final=True)

    def _print(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            share = f"{self.done:,}/{self.total:,} ({100 * self.done / self.total:.0f}%)"
        else:
            share = f"{self.done:,}"
        tail = f", {self.extra}" if self.extra else ""
        word = "done" if final else "…"
        print(
            f"{self.label}: {share} records, {rate:,.0f}/s, {elapsed:.1f}s{tail} {word}",
            file=self._out,
            flush=True,
        )
