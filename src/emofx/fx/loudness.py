"""ITU-R BS.1770-4 integrated loudness in LUFS.

The K-weighting filters are pyloudnorm's (its ``IIRfilter`` with the standard's constants). The
gating is vectorised here because ``pyloudnorm.Meter.integrated_loudness`` loops over blocks in
Python and copies the input: it costs about a quarter of a six-effect render, and the loudness of
every rendered item is measured. The result agrees with pyloudnorm to within 0.01 LU (tested).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyloudnorm.iirfilter import IIRfilter
from scipy.signal import sosfilt, tf2sos

BLOCK_HOPS = 4
"""A 400 ms gating block is four 100 ms hops (75 % overlap)."""
HOP_S = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
"""BS.1770 weights for L, R, C, Ls, Rs."""
_K_WEIGHTING = (  # (gain dB, Q, centre Hz, kind): pyloudnorm's "K-weighting" filter class
    (4.0, 1 / np.sqrt(2), 1500.0, "high_shelf"),
    (0.0, 0.5, 38.0, "high_pass"),
)


@lru_cache(maxsize=32)
def _k_weighting_sos(sample_rate: float) -> np.ndarray:
    stages = [IIRfilter(g, q, fc, sample_rate, kind) for g, q, fc, kind in _K_WEIGHTING]
    return np.vstack([tf2sos(stage.b, stage.a) for stage in stages])


def _to_lufs(mean_square: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def integrated_loudness(audio: np.ndarray, sample_rate: float) -> float:
    """Gated loudness of ``[samples]`` or ``[channels, samples]`` (≤ 5 channels) in LUFS.

    ``-inf`` for silence (no block above the −70 LUFS gate); ``nan`` for audio shorter than one
    400 ms gating block, where BS.1770 defines no loudness.
    """
    x = np.atleast_2d(audio)
    if x.ndim != 2 or x.shape[0] > len(CHANNEL_WEIGHTS):
        raise ValueError(
            f"loudness needs [samples] or [channels ≤ {len(CHANNEL_WEIGHTS)}, samples], "
            f"got shape {tuple(np.shape(audio))}"
        )
    hop = int(round(HOP_S * sample_rate))
    n_hops = x.shape[1] // hop
    if n_hops < BLOCK_HOPS:
        return float("nan")
    weighted = sosfilt(_k_weighting_sos(float(sample_rate)), x, axis=-1)
    hops = weighted[:, : n_hops * hop].reshape(x.shape[0], n_hops, hop)
    hop_energy = np.asarray(CHANNEL_WEIGHTS[: x.shape[0]]) @ np.einsum("chs,chs->ch", hops, hops)
    block_energy = np.convolve(hop_energy, np.ones(BLOCK_HOPS), mode="valid") / (BLOCK_HOPS * hop)
    block_lufs = _to_lufs(block_energy)
    above_absolute = block_lufs >= ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return float("-inf")
    relative_gate = _to_lufs(block_energy[above_absolute].mean()) + RELATIVE_GATE_LU
    gated = block_energy[above_absolute & (block_lufs > relative_gate)]
    return float(_to_lufs(gated.mean()))
