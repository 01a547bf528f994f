"""The seed report's modelling family ("Modeling Arousal and Valence in Music") as pipeline systems:
Phase 1 handcrafted features + SHAP/Pearson selection + classical grid, Phase 2 log-mel networks,
Phase 3 PANNs + EmotionMLP. See ``docs/systems.md``."""

from emofx.systems.config import SystemsParams
from emofx.systems.run import results_table, run_systems

__all__ = ["SystemsParams", "results_table", "run_systems"]
