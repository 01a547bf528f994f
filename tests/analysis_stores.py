"""Synthetic inputs of the analyze stage written in the stores' on-disk formats.

A small "world" with known answers: every condition moves predictions and embeddings by a planted
amount, so tests can assert that the analysis finds (or does not find) each effect.

- ``gain`` raises loudness by its ``gain_db``; the probe's arousal output follows loudness
  (``AROUSAL_PER_DB`` per dB), so ``gain@L`` shifts arousal and its ``+lufs`` twin (loudness
  matched back) does not.
- ``distortion`` lowers valence and raises arousal (towards Q2 anger, away from Q4 calmness).
- ``reverb`` lowers arousal a little per level; ``chorus`` and ``delay`` widen the spread of
  predictions.
- chains apply distortion + reverb + chorus at once.

Conditions are built and saved by :mod:`emofx.fx.conditions`, so ``conditions.json`` is the real
file format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emofx.fx.conditions import Condition, resolve_condition, save_conditions
from emofx.fx.config import FxParams

AROUSAL_PER_DB = 0.02
GAIN_DB_AT_8 = float(resolve_condition("gain@8").steps[0].params["gain_db"])
# (Δvalence, Δarousal) per level unit, spread factor per level unit
EFFECT_MODEL = {
    "reverb": ((0.0, -0.02), 0.0),
    "distortion": ((-0.05, 0.05), 0.0),
    "chorus": ((0.0, 0.0), 0.06),
    "delay": ((0.0, 0.0), 0.04),
    "gain": ((0.0, 0.0), 0.0),
}
CHAIN_EFFECTS = ("distortion", "reverb", "chorus")


@dataclass(frozen=True)
class Paths:
    manifest: Path
    conditions: Path
    predictions: Path
    embeddings: Path


def build_conditions(
    effects: dict[str, list[int]], matched: tuple[str, ...], chains: tuple[str, ...]
) -> list[Condition]:
    """Conditions built by the fx module (clean first); chain ``i`` is distortion + reverb +
    chorus at level 8 + i."""
    params = FxParams(
        effects=list(effects) or ["gain"],
        levels=[1],
        chains=[
            {"name": name, "steps": [{"effect": e, "level": 8 + i} for e in CHAIN_EFFECTS]}
            for i, name in enumerate(chains)
        ],
        loudness_match=list(matched),
    )
    ids = ["clean"]
    for name, levels in effects.items():
        for level in levels:
            ids += [f"{name}@{level}"] + ([f"{name}@{level}+lufs"] if name in matched else [])
    ids += [f"chain:{name}" for name in chains]
    return [resolve_condition(i, params) for i in ids]


def _planted(condition: Condition) -> tuple[float, float, float, float]:
    """(Δvalence, Δarousal, spread factor, loudness change in dB) a condition causes."""
    dv = da = spread = db = 0.0
    for step in condition.steps:
        (sv, sa), sp = EFFECT_MODEL[step.effect]
        dv, da, spread = dv + sv * step.level, da + sa * step.level, spread + sp * step.level
        db += float(step.params.get("gain_db", 0.0))
    if condition.loudness_match:
        db = 0.0
    return dv, da, spread, db


def write_stores(
    root: Path,
    *,
    n_tracks: int = 80,
    seed: int = 0,
    effects: dict[str, list[int]] | None = None,
    matched: tuple[str, ...] = ("gain",),
    chains: tuple[str, ...] = ("heavy", "heavier", "heaviest"),
    encoders: dict[str, list[tuple[str, int]]] | None = None,
    tasks: tuple[str, ...] = ("regression",),
) -> Paths:
    """Write manifest, conditions, predictions (one probe per task) and embeddings under ``root``.

    ``tasks``: ``regression`` (probe ``ridge``), ``classification`` (``clf``), ``multilabel``
    (``tagger``).
    """
    rng = np.random.default_rng(seed)
    effects = effects or {"reverb": [2, 5, 8], "distortion": [2, 5, 8], "chorus": [8], "gain": [8]}
    encoders = encoders or {"enc_a": [("frontend", 12), ("head", 8)]}
    conditions = build_conditions(effects, matched, chains)
    paths = Paths(
        root / "prepared/syn/manifest.parquet",
        root / "conditions.json",
        root / "predictions/syn",
        root / "embeddings/syn",
    )
    ids = [f"t{i:03d}" for i in range(n_tracks)]
    split = rng.permutation(np.repeat(["train", "val", "test"], [n_tracks // 4, n_tracks // 4,
                                      n_tracks - 2 * (n_tracks // 4)]))  # fmt: skip
    valence, arousal = rng.uniform(-0.9, 0.9, (2, n_tracks))
    quadrant = np.select(
        [(valence >= 0) & (arousal >= 0), (valence < 0) & (arousal >= 0), valence < 0], [1, 2, 3], 4
    )
    labels = [
        json.dumps({"calmness": float(v > 0 and a < 0), "power": float(a > 0.3), "tension": 0.2})
        for v, a in zip(valence, arousal, strict=True)
    ]
    paths.manifest.parent.mkdir(parents=True)
    pd.DataFrame(
        {
            "track_id": ids,
            "dataset": "syn",
            "split": split,
            "valence_norm": valence,
            "arousal_norm": arousal,
            "quadrant": pd.array(quadrant, dtype="Int64"),
            "labels": labels,
        }
    ).to_parquet(paths.manifest)
    save_conditions(conditions, paths.conditions)

    clean_v = valence + rng.normal(0, 0.15, n_tracks)
    clean_a = arousal + rng.normal(0, 0.15, n_tracks)
    lufs_in = rng.normal(-20, 3, n_tracks)
    for condition in conditions:
        dv, da, spread, db = _planted(condition)
        grow = 1 + spread
        v = clean_v.mean() + (clean_v - clean_v.mean()) * grow + dv + rng.normal(0, 0.02, n_tracks)
        a = clean_a.mean() + (clean_a - clean_a.mean()) * grow + da + AROUSAL_PER_DB * db
        a = a + rng.normal(0, 0.02, n_tracks)
        if condition.id == "clean":
            v, a = clean_v, clean_a
        base = {"track_id": ids, "split": split, "condition": condition.id}
        outputs = {
            "regression": ("ridge", {"pred_valence_norm": v, "pred_arousal_norm": a}),
            "classification": ("clf", _quadrant_outputs(v, a)),
            "multilabel": ("tagger", _label_outputs(v, a)),
        }
        for task in tasks:
            probe, columns = outputs[task]
            for encoder in encoders:
                out = paths.predictions / encoder / probe / f"{condition.id}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(base | columns).to_parquet(out)
    _write_embeddings(paths.embeddings, ids, conditions, encoders, lufs_in, rng)
    return paths


def _quadrant_outputs(v: np.ndarray, a: np.ndarray) -> dict[str, np.ndarray]:
    logits = 4 * np.stack([v + a, -v + a, -v - a, v - a], axis=1)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {"pred_quadrant": probs.argmax(axis=1) + 1} | {
        f"prob_q{q + 1}": probs[:, q] for q in range(4)
    }


def _label_outputs(v: np.ndarray, a: np.ndarray) -> dict[str, np.ndarray]:
    logits = {"calmness": 4 * (v - a) - 1, "power": 5 * (a - 0.3), "tension": -2 * v - 2}
    return {f"prob_{k}": 1 / (1 + np.exp(-x)) for k, x in logits.items()}


def _write_embeddings(
    root: Path,
    ids: list[str],
    conditions: list[Condition],
    encoders: dict[str, list[tuple[str, int]]],
    lufs_in: np.ndarray,
    rng: np.random.Generator,
) -> None:
    n = len(ids)
    for encoder, layers in encoders.items():
        store = root / encoder
        store.mkdir(parents=True)
        dims = [d for _, d in layers]
        latent = rng.normal(size=(n, max(dims)))
        directions = {}
        rows = []
        for condition in conditions:
            db = _planted(condition)[3]
            array = np.zeros((n, len(layers), max(dims)), dtype=np.float32)
            for li, dim in enumerate(dims):
                # deeper layers move more; each effect pushes along its own fixed direction
                push = np.zeros(dim)
                for step in condition.steps:
                    key = (step.effect, li)
                    directions.setdefault(key, rng.normal(size=dim))
                    push += directions[key] * step.level * 0.08 * (li + 1)
                noise = rng.normal(0, 0.02, (n, dim)) if condition.id != "clean" else 0
                array[:, li, :dim] = latent[:, :dim] + push + noise
            np.save(store / f"{condition.id}.npy", array)
            rows.append(
                pd.DataFrame(
                    {
                        "track_id": ids,
                        "condition": condition.id,
                        "lufs_in": lufs_in,
                        "lufs_out": lufs_in + db,
                    }  # fmt: skip
                )
            )
        pd.DataFrame({"track_id": ids}).to_parquet(store / "index.parquet")
        pd.concat(rows).to_parquet(store / "loudness.parquet")
        meta = {
            "encoder": encoder,
            "layer_names": [name for name, _ in layers],
            "layer_dims": dims,
            "conditions": [c.id for c in conditions],
        }
        (store / "meta.json").write_text(json.dumps(meta))


def analyse(paths, out_dir: Path, params, seed: int, encoders: list[str]):
    """``run_analysis`` over the stores :func:`write_stores` wrote (``paths``) into ``out_dir``."""
    from emofx.analysis.run import run_analysis

    return run_analysis(
        manifest_path=paths.manifest,
        conditions_path=paths.conditions,
        predictions_root=paths.predictions,
        embeddings_root=paths.embeddings,
        out_dir=out_dir,
        params=params,
        seed=seed,
        encoders=encoders,
    )
