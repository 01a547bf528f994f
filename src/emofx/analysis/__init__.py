"""FX impact analysis: performance and prediction shifts under each condition, their statistics,
embedding displacement, UMAP/t-SNE trajectories, the paper's claims and the report page.

Entry point: :func:`emofx.analysis.run.run_analysis` (the ``analyze`` stage).
"""
