"""Progress lines for log files: done/total, rate and ETA, throttled, the last one always."""

from __future__ import annotations

import io

from emofx.progress import ProgressLog


def test_lines_are_throttled_and_carry_rate_and_eta():
    now = [0.0]
    out = io.StringIO()
    log = ProgressLog("embed mert", 100, "pairs", interval_s=5.0, stream=out, clock=lambda: now[0])
    for done, t in [(10, 2.0), (20, 4.0), (30, 6.0), (40, 8.0), (100, 20.0)]:
        now[0] = t
        log.update(done)
    lines = out.getvalue().splitlines()
    # t=2 prints (first), t=4 is within 5 s of it, t=6 no (4 s), t=8 prints, t=20 is the last item
    assert lines == [
        "embed mert: 10/100 pairs (10 %), 5.0 pairs/s, ETA 18 s",
        "embed mert: 40/100 pairs (40 %), 5.0 pairs/s, ETA 12 s",
        "embed mert: 100/100 pairs (100 %), 5.0 pairs/s, done",
    ]


def test_long_etas_read_in_minutes_and_hours():
    out = io.StringIO()
    now = [0.0]
    log = ProgressLog("decoding deam", 100_000, "tracks", stream=out, clock=lambda: now[0])
    now[0] = 10.0
    log.update(100)  # 10 tracks/s → 99 900 left ≈ 2 h 46 min
    assert out.getvalue().strip().endswith("10.0 tracks/s, ETA 2 h 46 min")
