"""Run one embedding job in its own process (used for the SIGKILL and DDP tests).

usage: python -m tests.embed_job CONFIG PREPARED_DIR MANIFEST OUT_DIR [--slow]
Prints ``wrote shard N`` after each shard it writes; ``--slow`` then sleeps 1 s so a test can kill
the job between shards. SIGUSR1 prints every thread's stack (a test that finds the job hung).
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import time
from pathlib import Path

import pandas as pd

from emofx.embed import runner
from emofx.embed.runner import EncoderConfig, embed_dataset
from emofx.fx.conditions import resolve_condition
from tests.embed_fixtures import CONDITION_IDS


def main() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    config, prepared, manifest, out = sys.argv[1:5]
    write = runner.EmbeddingStore.write_shard
    slow = "--slow" in sys.argv

    def logged_write(self, shard, arrays):
        write(self, shard, arrays)
        print(f"wrote shard {shard}", flush=True)
        if slow:
            time.sleep(1.0)

    runner.EmbeddingStore.write_shard = logged_write
    embed_dataset(
        EncoderConfig.from_yaml(config),
        pd.read_parquet(manifest),
        Path(prepared),
        [resolve_condition(c) for c in CONDITION_IDS],
        Path(out),
        seed=7,
        data_hash="fixture",
        progress=False,
    )


if __name__ == "__main__":
    main()
