"""The seed paper's real-world effect chains (effect, level) in their processing order."""

from __future__ import annotations

PAPER_CHAIN_ORDER = ("distortion", "eq", "reverb", "delay", "chorus", "phaser")


def _paper_chain(*levels: int) -> tuple[tuple[str, int], ...]:
    return tuple(zip(PAPER_CHAIN_ORDER, levels, strict=True))


BUILTIN_CHAINS: dict[str, tuple[tuple[str, int], ...]] = {
    "pink_floyd": _paper_chain(3, 6, 9, 7, 2, 4),
    "rage_against_the_machine": _paper_chain(9, 5, 1, 2, 6, 1),
    "u2": _paper_chain(4, 7, 8, 10, 2, 3),
}
