"""Progress of long steps, with an ETA: at most one line every few seconds, and a last one."""

import time
from collections.abc import Callable

Echo = Callable[[str], None]
REPORT_EVERY_S = 3.0


class StepProgress:
    """``advance(n)`` after each unit of work out of ``total``; ``finish()`` when done.

    The ETA assumes the remaining units take as long as the finished ones did on average.
    """

    def __init__(self, echo: Echo, what: str, total: int, *, unit: str = "") -> None:
        self.echo, self.what, self.total, self.unit = echo, what, max(total, 1), unit
        self.done = 0
        self.started = self._last = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done = min(self.done + count, self.total)
        now = time.monotonic()
        if now - self._last >= REPORT_EVERY_S and self.done < self.total:
            self._last = now
            elapsed = now - self.started
            eta = elapsed / self.done * (self.total - self.done)
            self.echo(
                f"{self.what}: {self.done}/{self.total}{self.unit} "
                f"({self.done / self.total:.0%}), {elapsed:.0f} s elapsed, about {eta:.0f} s left"
            )

    def finish(self, note: str = "") -> None:
        elapsed = time.monotonic() - self.started
        self.echo(f"{self.what}: done in {elapsed:.1f} s{note}")
