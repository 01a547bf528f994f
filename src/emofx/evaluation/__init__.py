"""Evaluation protocol: one fixed split, or seeded group-disjoint cross-validation folds."""
