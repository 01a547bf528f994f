"""Raw vs loudness-matched twins: which prediction shifts survive loudness matching."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emofx.analysis.config import AnalysisParams
from emofx.analysis.loading import ConditionInfo, EncoderEmbeddings, loudness_twins


def loudness_changes(stores: list[EncoderEmbeddings], track_ids: pd.Index) -> pd.DataFrame:
    """Mean ``lufs_out − lufs_in`` per (encoder, condition) over ``track_ids``."""
    frames = []
    for store in stores:
        table = store.loudness()
        if table is None:
            continue
        table = table[table["track_id"].astype(str).isin(track_ids)]
        change = (table["lufs_out"] - table["lufs_in"]).groupby(table["condition"]).mean()
        frames.append(
            pd.DataFrame(
                {"encoder": store.encoder, "condition": change.index, "lufs_change": change}
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def verdict(
    raw_shift: float, raw_q: float, matched_shift: float, matched_q: float, params: AnalysisParams
) -> str:
    """``no shift`` (raw not significant), ``survives`` or ``removed`` by loudness matching.

    A shift survives when the matched twin is significant in the same direction and keeps at
    least ``survive_fraction`` of the raw shift.
    """
    if not raw_q < params.fdr_alpha:
        return "no shift"
    same_direction = np.sign(matched_shift) == np.sign(raw_shift)
    kept = abs(matched_shift) >= params.survive_fraction * abs(raw_shift)
    return "survives" if matched_q < params.fdr_alpha and same_direction and kept else "removed"


def loudness_control_table(
    shifts: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    changes: pd.DataFrame,
    params: AnalysisParams,
) -> pd.DataFrame:
    """One row per (encoder, probe, quantity, twin pair): both shifts, their q-values, the
    loudness change each condition caused and the verdict."""
    pairs = pd.DataFrame(loudness_twins(conditions), columns=["raw", "matched"])
    if shifts.empty or pairs.empty:
        return pd.DataFrame()
    keys = ["encoder", "probe", "quantity"]
    columns = [*keys, "condition", "shift", "q_value"]
    table = (
        pairs.merge(shifts[columns], left_on="raw", right_on="condition")
        .merge(
            shifts[columns],
            left_on=[*keys, "matched"],
            right_on=[*keys, "condition"],
            suffixes=("_raw", "_matched"),
        )
        .drop(columns=["condition_raw", "condition_matched"])
    )
    if len(changes):
        for side in ("raw", "matched"):
            table = table.merge(
                changes.rename(columns={"condition": side, "lufs_change": f"lufs_change_{side}"}),
                on=["encoder", side],
                how="left",
            )
    table["remaining"] = table["shift_matched"] / table["shift_raw"].replace(0, np.nan)
    table["verdict"] = [
        verdict(r.shift_raw, r.q_value_raw, r.shift_matched, r.q_value_matched, params)
        for r in table.itertuples()
    ]
    return table
