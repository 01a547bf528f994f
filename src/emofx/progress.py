"""Progress that reads well in a terminal and in a log file.

On a terminal the stages draw rich progress bars. Under `dvc repro > run.log`, CI or a cluster job
nobody watches live, a bar is either nothing or a wall of control codes, so there a stage prints one
plain line every ``interval_s`` seconds: items done, rate and ETA.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressLog:
    """``update(done)`` prints ``label: done/total unit (pct), rate unit/s, ETA …`` at most every
    ``interval_s`` seconds, and always for the last item."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str = "items",
        interval_s: float = 5.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.clock = clock
        self.started = clock()
        self.last_print = -float("inf")

    def update(self, done: int) -> None:
        now = self.clock()
        if done < self.total and now - self.last_print < self.interval_s:
            return
        self.last_print = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        pct = 100.0 * done / self.total if self.total else 100.0
        eta = (
            "done"
            if done >= self.total
            else f"ETA {_duration((self.total - done) / rate)}"
            if rate > 0
            else "ETA unknown"
        )
        print(
            f"{self.label}: {done}/{self.total} {self.unit} ({pct:.0f} %), "
            f"{rate:.1f} {self.unit}/s, {eta}",
            file=self.stream,
            flush=True,
        )
