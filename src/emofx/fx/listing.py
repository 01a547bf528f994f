"""The text of ``emofx fx list``: every effect with its level → parameter table, and the chains."""

from __future__ import annotations

import pandas as pd

from emofx.fx.chains import BUILTIN_CHAINS
from emofx.fx.effects import EFFECTS, LEVELS, BandPass, Effect


def effects_table(sample_rate: float | None = None) -> str:
    """All effects and built-in chains; with ``sample_rate``, also the eq's low-pass cutoffs."""
    blocks = [_effect_block(e, sample_rate) for e in EFFECTS.values()]
    chains = [
        f"  {name}: " + " → ".join(f"{effect}@{level}" for effect, level in steps)
        for name, steps in BUILTIN_CHAINS.items()
    ]
    blocks.append("built-in chains (condition id chain:<name>)\n" + "\n".join(chains))
    return "\n\n".join(blocks) + "\n"


def _effect_block(effect: Effect, sample_rate: float | None) -> str:
    lines = [f"{effect.name} — {effect.summary}", f"  renders with {effect.implementation}"]
    lines += [f"  {name} = {a:g} + {b:g}·L" for name, (a, b) in effect.linear.items()]
    others = {k: v for k, v in effect.resolve(LEVELS.start).items() if k not in effect.linear}
    if others:
        lines.append("  other parameters: " + ", ".join(f"{k}={v:g}" for k, v in others.items()))
    table = pd.DataFrame([effect.at_level(level) for level in LEVELS], index=list(LEVELS))
    if isinstance(effect, BandPass):
        lines.append("  low-pass cutoff = sample_rate/2 − lowpass_below_nyquist_hz")
        if sample_rate:
            lowpass = sample_rate / 2 - table["lowpass_below_nyquist_hz"]
            table[f"lowpass_hz@{sample_rate:g}"] = lowpass
            empty = table.index[lowpass <= table["highpass_hz"]].tolist()
            if empty:
                lines.append(
                    f"  empty band (cannot render) at {sample_rate:g} Hz for levels {empty}"
                )
    table.index.name = "level"
    lines.append("    " + table.to_string().replace("\n", "\n    "))
    return "\n".join(lines)
