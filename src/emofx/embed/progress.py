"""Progress lines for the embed stage's Lightning predict loop (kept out of :mod:`emofx.progress`
so that prepare and the other stages start without importing Lightning)."""

from __future__ import annotations

import lightning as L

from emofx.progress import ProgressLog


class PredictProgressLog(L.Callback):
    """Lightning callback: a :class:`ProgressLog` line per finished predict batch (throttled)."""

    def __init__(self, label: str, total: int, unit: str, interval_s: float = 5.0) -> None:
        self.lines = ProgressLog(label, total, unit, interval_s)
        self.done = 0

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dl_idx=0):
        self.done += len(batch["track"])  # a batch is a list of (track, condition) pairs
        self.lines.update(self.done)
