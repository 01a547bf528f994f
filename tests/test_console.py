"""What emofx stages print: their own progress, not library banners."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from emofx.cli import quiet_libraries
quiet_libraries()
import lightning as L
L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
print("trainer built")
"""


def test_lightning_banners_and_tips_are_silenced():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "trainer built" in out, out
    for banner in ("GPU available", "TPU available", "litlogger", "Tip:"):
        assert banner not in out, out
