"""Phase 3: PANNs CNN14 embeddings + the seed report's EmotionMLP (multitask valence/arousal).

Embeddings come from the embed stage's store (``data/embeddings/<ds>/panns``, layer
``embedding``: 2048-d). The network is the probes' :class:`~emofx.probes.mlp.ProbeMLP` with the
``emotion_mlp`` preset (in → 512 → 128 → 2, ReLU, dropout 0.3; inputs standardised on train),
trained on clean train rows and early-stopped on val.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from lightning.pytorch.loggers import MLFlowLogger

from emofx.evaluation.folds import Fold
from emofx.probes.config import MlpParams
from emofx.probes.mlp import MlpConfig, MlpSplit, fit_mlp, predict_mlp
from emofx.probes.tasks import SPLITS, TaskData
from emofx.systems.common import (
    evaluate,
    open_store,
    regression_task,
    score_all_splits,
    write_protocol_predictions,
)
from emofx.systems.config import PannsMlpParams
from emofx.systems.tsne import save_tsne_figure
from emofx.tracking import nested_run

SYSTEM = "panns_mlp"
MODEL = "emotion_mlp"


def run_phase3(
    params: PannsMlpParams,
    manifest: pd.DataFrame,
    targets: list[str],
    embeddings_root: Path,
    predictions_root: Path,
    figures_dir: Path,
    seed: int,
    folds: list[Fold] | None = None,
) -> dict[str, dict[str, float]]:
    """Fit EmotionMLP on clean embeddings, predict every condition; ``{"panns_mlp/…": metrics}``.

    With ``folds`` (cross-validation) one network per fold, predictions out of fold."""
    store = open_store(embeddings_root, params.encoder, "systems.panns_mlp")
    if params.layer not in store.meta()["layer_names"]:
        raise ValueError(
            f"systems.panns_mlp.layer: {params.layer!r} not in {store.root} "
            f"(layers: {store.meta()['layer_names']})"
        )
    index = store.index()
    data = regression_task(index, manifest, targets)
    features = {c: np.asarray(store.load(c, params.layer))[data.rows] for c in store.conditions()}
    clean = features["clean"]
    config = MlpConfig.load(
        MlpParams(
            config=params.config,
            preset="emotion_mlp",
            max_epochs=params.max_epochs,
            batch_size=params.batch_size,
        )
    )
    name = f"{SYSTEM}/{MODEL}"

    def fit(k: int, view: TaskData) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """EmotionMLP on the view's train rows, early-stopped on its val rows."""
        train, val = (
            MlpSplit(clean[view.mask(s)][:, None], view.y[view.mask(s)]) for s in SPLITS[:2]
        )
        logger = None
        if run is not None and folds is None:
            logger = MLFlowLogger(tracking_uri=mlflow.get_tracking_uri(), run_id=run.info.run_id)
        model = fit_mlp(config, "regression", targets, train, val, seed, logger=logger)
        preds = {c: predict_mlp(model, x[:, None]) for c, x in features.items()}
        return score_all_splits(view, preds["clean"]), preds

    track_ids = index["track_id"].astype(str).to_numpy()
    with nested_run(name, {"emofx.system": SYSTEM, "emofx.model": MODEL}) as run:
        metrics, preds = evaluate(data, track_ids, folds, fit)
        if run is not None:
            mlflow.log_metrics(metrics)
    write_protocol_predictions(index, data, preds, folds, Path(predictions_root) / SYSTEM / MODEL)
    if params.tsne and {"valence_norm", "arousal_norm"} <= set(targets):
        save_tsne_figure(
            clean,
            data.y[:, targets.index("valence_norm")],
            data.y[:, targets.index("arousal_norm")],
            f"PANNs {params.layer}",
            Path(figures_dir) / "tsne_panns.png",
            seed,
            params.tsne_perplexity,
        )
    return {name: metrics}
