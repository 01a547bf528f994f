"""FX engine: effect registry, chains, conditions, loudness matching and rendering.

Import the submodules (``emofx.fx.conditions``, ``emofx.fx.render``, …): this package file stays
empty so that reading the FX params (``emofx.fx.config``) does not load the renderer, and each
stage's code dependencies in dvc.yaml stay what it runs.
"""
