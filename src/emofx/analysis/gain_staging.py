"""Per condition: how much louder it made the clip, and how much of it was more than a gain.

Both come from the embed stage's ``loudness.parquet`` (``lufs_in`` is the gain-staged input of
``fx.input_level``, ``nonlinear_share`` from :func:`emofx.fx.levels.nonlinear_share`). A condition
whose non-linear share is near 0 is, for the encoder, only a gain, whatever its name says.
"""

from __future__ import annotations

import pandas as pd

from emofx.analysis.loading import CLEAN, EncoderEmbeddings


def gain_staging_table(
    stores: list[EncoderEmbeddings], track_ids: pd.Index, conditions: list[str]
) -> pd.DataFrame:
    """One row per (encoder, condition ≠ clean) over ``track_ids``, in ``conditions`` order:
    ``n``, the mean staged input loudness, mean loudness change (LU), mean and median non-linear
    share. Empty when no store records the non-linear share (stores embedded before it)."""
    frames = []
    for store in stores:
        table = store.loudness()
        if table is None or "nonlinear_share" not in table:
            continue
        table = table[table["track_id"].astype(str).isin(track_ids)]
        table = table[table["condition"] != CLEAN]
        grouped = table.assign(lufs_change=table["lufs_out"] - table["lufs_in"]).groupby(
            "condition", sort=False
        )
        summary = grouped.agg(
            n=("track_id", "size"),
            lufs_in=("lufs_in", "mean"),
            lufs_change=("lufs_change", "mean"),
            nonlinear_share=("nonlinear_share", "mean"),
            nonlinear_share_median=("nonlinear_share", "median"),
        )
        frames.append(summary.reset_index().assign(encoder=store.encoder))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    order = table["condition"].map({c: i for i, c in enumerate(conditions)})
    table = table.iloc[order.argsort(kind="stable")].sort_values("encoder", kind="stable")
    return table[["encoder", *table.columns.drop("encoder")]].reset_index(drop=True)
